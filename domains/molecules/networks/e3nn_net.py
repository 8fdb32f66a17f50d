"""An e3nn denoiser: tensor products of node irreps with spherical harmonics of relative
positions, weighted by radial MLPs (NequIP/Tensor-Field-Network style), with gated
nonlinearities. Scalars (0e) carry the invariant atom features, vectors (1o) carry the
equivariant position output. Parity is tracked, so reflections are handled as well as
rotations. Edges: all pairs of real atoms (or a radius graph), as a sparse edge list.
"""

from __future__ import annotations

import torch
from e3nn import o3
from e3nn.math import soft_one_hot_linspace
from e3nn.nn import Gate
from torch import Tensor, nn

from multigen.nn import ConditionEmbedding, sinusoidal_embedding

from ..state import remove_mean
from .graph import SparseGraph


class E3Layer(nn.Module):
    def __init__(self, irreps_in: o3.Irreps, scalars: int, vectors: int, lmax: int, n_basis: int):
        super().__init__()
        self.sh = o3.Irreps.spherical_harmonics(lmax)
        gate_in = o3.Irreps(f"{scalars}x0e + {vectors}x0e + {vectors}x1o")
        self.tp = o3.FullyConnectedTensorProduct(irreps_in, self.sh, gate_in, shared_weights=False)
        self.radial = nn.Sequential(
            nn.Linear(n_basis, 64), nn.SiLU(), nn.Linear(64, self.tp.weight_numel)
        )
        self.gate = Gate(
            f"{scalars}x0e", [nn.functional.silu], f"{vectors}x0e", [torch.sigmoid], f"{vectors}x1o"
        )
        self.self_lin = o3.Linear(irreps_in, self.gate.irreps_out)

    def forward(
        self, h: Tensor, src: Tensor, dst: Tensor, sh: Tensor, basis: Tensor, norm: float
    ) -> Tensor:
        msg = self.tp(h[src], sh, self.radial(basis))
        agg = torch.zeros(h.shape[0], msg.shape[-1], dtype=msg.dtype, device=msg.device)
        agg.index_add_(0, dst, msg)
        return self.self_lin(h) + self.gate(agg / norm)


class E3NNDenoiser(nn.Module):
    def __init__(
        self,
        info: dict,
        scalars: int = 32,
        vectors: int = 8,
        layers: int = 3,
        lmax: int = 2,
        n_basis: int = 16,
        max_radius: float = 8.0,
        radius: float | None = None,
        time_dim: int = 32,
    ):
        super().__init__()
        self.feat = int(info["shape"][-1]) - 3
        self.time_dim, self.n_basis, self.max_radius, self.radius = (
            time_dim,
            n_basis,
            max_radius,
            radius,
        )
        self.lmax = lmax
        self.embed = nn.Linear(self.feat + time_dim, scalars)
        self.cond = ConditionEmbedding(
            scalars, int(info.get("num_classes", 0)), int(info.get("cond_dim", 0))
        )
        irreps = o3.Irreps(f"{scalars}x0e")
        self.layers = nn.ModuleList()
        for _ in range(layers):
            layer = E3Layer(irreps, scalars, vectors, lmax, n_basis)
            self.layers.append(layer)
            irreps = layer.gate.irreps_out
        self.out = o3.Linear(irreps, o3.Irreps(f"{self.feat}x0e + 1x1o"))

    def forward(
        self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        b, n, _ = x.shape
        mask = torch.ones(b, n, dtype=torch.bool, device=x.device) if mask is None else mask.bool()
        pos, feats = x[..., :3], x[..., 3:]
        t = sinusoidal_embedding(c_noise.reshape(-1).expand(b), self.time_dim).to(x.dtype)
        h = self.embed(torch.cat([feats, t[:, None, :].expand(b, n, -1)], -1))
        if self.cond.enabled:
            h = h + self.cond(cond, b, x.device)[:, None, :]
        h = (h * mask.unsqueeze(-1)).reshape(b * n, -1)
        graph = SparseGraph(mask, pos, self.radius)
        vec = graph.diff(pos)  # x_i - x_j on edges (receiver i = dst)
        dist = vec.norm(dim=-1)
        sh = o3.spherical_harmonics(
            range(self.lmax + 1), vec, normalize=True, normalization="component"
        )
        basis = soft_one_hot_linspace(
            dist, 0.0, self.max_radius, self.n_basis, basis="gaussian", cutoff=False
        )
        norm = max(float(mask.sum(1).float().mean()), 1.0) ** 0.5
        for layer in self.layers:
            h = layer(h, graph.src, graph.dst, sh, basis, norm)
        out = self.out(h).reshape(b, n, -1)
        m = mask.unsqueeze(-1).to(out.dtype)
        return torch.cat([remove_mean(out[..., self.feat :], mask), out[..., : self.feat] * m], -1)


def build_e3nn(info: dict, **params) -> nn.Module:
    return E3NNDenoiser(info, **params)

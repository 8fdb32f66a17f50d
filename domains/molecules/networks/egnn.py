"""EGNN (Satorras et al. 2021) in EDM's configuration (Hoogeboom et al. 2022).

Each block: invariant message passing with sigmoid attention over edge features
``(h_i, h_j, |x_i - x_j|², |x⁰_i - x⁰_j|²)``, then an equivariant coordinate update
``x_i += Σ_j (x_i - x_j) / (|x_i - x_j| + 1) · tanh(φ_x(m_ij)) · coords_range``.
Rotations/reflections/translations of the input positions transform the output position
channels the same way (translations cancel in the displacement output); feature channels
are invariant; atom permutations permute every output row.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from multigen.nn import ConditionEmbedding, sinusoidal_embedding

from ..state import remove_mean
from .graph import build_graph


class PairLinear(nn.Module):
    """``W [h_i, h_j, e_ij] + b`` computed as ``W_i h_i + W_j h_j + W_e e_ij`` (no N² concat)."""

    def __init__(self, node_dim: int, edge_dim: int, out: int):
        super().__init__()
        self.recv = nn.Linear(node_dim, out)
        self.send = nn.Linear(node_dim, out, bias=False)
        self.edge = nn.Linear(edge_dim, out, bias=False)

    def forward(self, graph, h: Tensor, e: Tensor) -> Tensor:
        return graph.pair(self.recv(h), self.send(h)) + self.edge(e)


class GCL(nn.Module):
    """Invariant graph convolution with attention and a residual node update."""

    def __init__(self, hidden: int, edge_dim: int, attention: bool, norm_factor: float):
        super().__init__()
        self.edge_in = PairLinear(hidden, edge_dim, hidden)
        self.edge_out = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.att = nn.Sequential(nn.Linear(hidden, 1), nn.Sigmoid()) if attention else None
        self.node = nn.Sequential(
            nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.norm_factor = norm_factor

    def forward(self, graph, h: Tensor, e: Tensor, node_mask: Tensor) -> Tensor:
        m = self.edge_out(self.edge_in(graph, h, e))
        if self.att is not None:
            m = m * self.att(m)
        agg = graph.agg(m) / self.norm_factor
        return (h + self.node(torch.cat([h, agg], -1))) * node_mask


class CoordUpdate(nn.Module):
    """Equivariant position update with tanh-bounded per-edge weights."""

    def __init__(
        self,
        hidden: int,
        edge_dim: int,
        coords_range: float,
        norm_constant: float,
        norm_factor: float,
    ):
        super().__init__()
        self.inp = PairLinear(hidden, edge_dim, hidden)
        last = nn.Linear(hidden, 1, bias=False)
        nn.init.xavier_uniform_(last.weight, gain=0.001)  # start close to the identity map
        self.mlp = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU(), last)
        self.coords_range, self.norm_constant, self.norm_factor = (
            coords_range,
            norm_constant,
            norm_factor,
        )

    def forward(self, graph, h: Tensor, x: Tensor, e: Tensor, node_mask: Tensor) -> Tensor:
        diff = graph.diff(x)
        dist = torch.sqrt((diff**2).sum(-1, keepdim=True) + 1e-8)
        w = torch.tanh(self.mlp(self.inp(graph, h, e))) * self.coords_range
        trans = graph.mask_edges(diff / (dist + self.norm_constant) * w)
        return x + graph.agg(trans) / self.norm_factor * node_mask


class EquivariantBlock(nn.Module):
    def __init__(self, hidden, sublayers, attention, coords_range, norm_constant, norm_factor):
        super().__init__()
        self.gcls = nn.ModuleList(GCL(hidden, 2, attention, norm_factor) for _ in range(sublayers))
        self.coord = CoordUpdate(hidden, 2, coords_range, norm_constant, norm_factor)

    def forward(self, graph, h, x, d0, node_mask):
        d = (graph.diff(x) ** 2).sum(-1, keepdim=True)
        e = torch.cat([d, d0], -1)
        for gcl in self.gcls:
            h = gcl(graph, h, e, node_mask)
        x = self.coord(graph, h, x, e, node_mask)
        return h, x


class EGNNTrunk(nn.Module):
    """Shared EGNN body: (positions, invariant features, mask, extra node vector) -> (h, x)."""

    def __init__(
        self,
        in_features: int,
        hidden: int = 256,
        layers: int = 9,
        sublayers: int = 1,
        attention: bool = True,
        coords_range: float = 15.0,
        norm_constant: float = 1.0,
        norm_factor: float = 1.0,
        graph: str = "sparse",
        radius: float | None = None,
    ):
        super().__init__()
        self.embed = nn.Linear(in_features, hidden)
        self.blocks = nn.ModuleList(
            EquivariantBlock(
                hidden, sublayers, attention, coords_range / layers, norm_constant, norm_factor
            )
            for _ in range(layers)
        )
        self.graph_kind, self.radius, self.hidden = graph, radius, hidden

    def forward(self, pos: Tensor, feats: Tensor, mask: Tensor, extra: Tensor | None = None):
        node_mask = mask.to(pos.dtype).unsqueeze(-1)
        graph = build_graph(self.graph_kind, mask, pos, self.radius)
        d0 = (graph.diff(pos) ** 2).sum(-1, keepdim=True)
        h = self.embed(feats)
        if extra is not None:
            h = h + extra[:, None, :]
        h = h * node_mask
        x = pos
        for block in self.blocks:
            h, x = block(graph, h, x, d0, node_mask)
        return h, x


def _mask_or_all(x: Tensor, mask: Tensor | None) -> Tensor:
    return (
        torch.ones(x.shape[:2], dtype=torch.bool, device=x.device) if mask is None else mask.bool()
    )


class EGNNDenoiser(nn.Module):
    """``forward(x, c_noise, cond, mask)``: x = [positions | invariant features] per atom.

    Output positions are the displacement ``x_L - x_0``, re-centred over real atoms (so the
    output lives in the zero-CoM subspace); features are read out from the last ``h``.
    """

    def __init__(self, info: dict, hidden: int = 256, layers: int = 9, time_dim: int = 64, **trunk):
        super().__init__()
        feat = int(info["shape"][-1]) - 3
        self.trunk = EGNNTrunk(feat, hidden, layers, **trunk)
        self.time_dim = time_dim
        self.time = nn.Sequential(nn.Linear(time_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.cond = ConditionEmbedding(
            hidden, int(info.get("num_classes", 0)), int(info.get("cond_dim", 0))
        )
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, feat))

    def forward(
        self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        mask = _mask_or_all(x, mask)
        pos, feats = x[..., :3], x[..., 3:]
        t = sinusoidal_embedding(c_noise.reshape(-1).expand(x.shape[0]), self.time_dim)
        extra = self.time(t.to(self.time[0].weight.dtype))
        if self.cond.enabled:
            extra = extra + self.cond(cond, x.shape[0], x.device)
        h, xl = self.trunk(pos, feats, mask, extra.to(x.dtype))
        vel = remove_mean(xl - pos, mask)
        out_feats = self.out(h) * mask.unsqueeze(-1).to(h.dtype)
        return torch.cat([vel, out_feats], -1)


class EGNNReadout(nn.Module):
    """Invariant per-molecule outputs (discriminator logits, property predictions)."""

    def __init__(
        self,
        info: dict,
        out_dim: int = 1,
        hidden: int = 128,
        layers: int = 4,
        use_cond: bool = True,
        **trunk,
    ):
        super().__init__()
        feat = int(info["shape"][-1]) - 3
        self.trunk = EGNNTrunk(feat, hidden, layers, **trunk)
        nc, cd = (
            (int(info.get("num_classes", 0)), int(info.get("cond_dim", 0))) if use_cond else (0, 0)
        )
        self.cond = ConditionEmbedding(hidden, nc, cd)
        self.head = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, out_dim))
        self.out_dim = out_dim

    def forward(self, x: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        mask = _mask_or_all(x, mask)
        extra = self.cond(cond, x.shape[0], x.device) if self.cond.enabled else None
        h, _ = self.trunk(x[..., :3], x[..., 3:], mask, extra)
        m = mask.unsqueeze(-1).to(h.dtype)
        pooled = (h * m).sum(1) / m.sum(1).clamp(min=1)
        out = self.head(pooled)
        return out.squeeze(-1) if self.out_dim == 1 else out


def build_egnn(info: dict, **params) -> nn.Module:
    return EGNNDenoiser(info, **params)


def build_egnn_discriminator(info: dict, **params) -> nn.Module:
    return EGNNReadout(info, out_dim=1, **params)

"""An E(3)-equivariant network over atoms *and* bonds (EGNN with edge features, in the
spirit of SemlaFlow's and FlowMol's networks), for :class:`multigen.joint.JointFlow`.

Each layer: messages ``m_ij = φ(W_i h_i + W_j h_j + W_e [e_ij, rbf(|x_i - x_j|)])``; edges
``e_ij += ψ(m_ij + m_ji)`` (symmetric); nodes ``h_i += φ_h([h_i, mean_j m_ij])``; positions
``x_i += mean_j (x_i - x_j)/(|x_i - x_j| + 1) · φ_x(m_ij)``. Node and edge features depend
on positions only through distances (invariant under rotations, reflections, translations);
positions move along difference vectors (equivariant). Atom permutations permute every
output. With ``radial``, each node update also reads RBFs of the atom's distance to the
centre of the real atoms (invariant; where in the molecule an atom sits, beyond the cutoff
of the pair features). Outputs: x̂0 (re-centred over real atoms) and logits for each
categorical part, element parts read from the atoms, pair parts from the symmetric edges.
With ``mask_token`` every part's input embedding has one more state (a masked prior's).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from multigen.nn import ConditionEmbedding, sinusoidal_embedding

from ..state import remove_mean
from .egnn import PairLinear
from .graph import DenseGraph


def rbf(d: Tensor, count: int, cutoff: float) -> Tensor:
    """Gaussian radial features of distances ``[..., 1] -> [..., count]`` over [0, cutoff]."""
    centres = torch.linspace(0, cutoff, count, device=d.device, dtype=d.dtype)
    width = cutoff / count
    return torch.exp(-(((d - centres) / width) ** 2))


class JointLayer(nn.Module):
    def __init__(
        self, hidden: int, edge_dim: int, rbf_count: int, cutoff: float, radial: bool = False
    ):
        super().__init__()
        self.rbf_count, self.cutoff, self.radial = rbf_count, cutoff, radial
        self.msg_in = PairLinear(hidden, edge_dim + rbf_count, hidden)
        self.msg = nn.Sequential(nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU())
        self.edge = nn.Sequential(
            nn.Linear(hidden, edge_dim), nn.SiLU(), nn.Linear(edge_dim, edge_dim)
        )
        self.node = nn.Sequential(
            nn.Linear(2 * hidden + radial * rbf_count, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
        )
        self.node_norm = nn.LayerNorm(hidden)
        self.edge_norm = nn.LayerNorm(edge_dim)
        last = nn.Linear(hidden, 1, bias=False)
        nn.init.xavier_uniform_(last.weight, gain=0.01)  # start near the identity map
        self.coord = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), last)

    def forward(self, graph: DenseGraph, h, e, x, node_mask, count):
        diff = graph.diff(x)
        dist = torch.sqrt((diff**2).sum(-1, keepdim=True) + 1e-8)
        m = self.msg(
            self.msg_in(graph, h, torch.cat([e, rbf(dist, self.rbf_count, self.cutoff)], -1))
        )
        m = graph.mask_edges(m)
        upd = self.edge(m)
        e = graph.mask_edges(self.edge_norm(e + 0.5 * (upd + upd.transpose(1, 2))))
        inputs = [h, graph.agg(m) / count]
        if self.radial:  # distance to the centre of the real atoms: where in the molecule
            centre = (x * node_mask).sum(1, keepdim=True) / node_mask.sum(1, keepdim=True)
            r = torch.sqrt(((x - centre) ** 2).sum(-1, keepdim=True) + 1e-8)
            inputs.append(rbf(r, self.rbf_count, self.cutoff))
        h = self.node_norm(h + self.node(torch.cat(inputs, -1))) * node_mask
        shift = graph.agg(graph.mask_edges(diff / (dist + 1.0) * self.coord(m))) / count
        return h, e, x + shift * node_mask


class JointEGNN(nn.Module):
    """``forward(x, t, parts, cond, mask) -> (x̂0, {part: logits})`` (see the module doc)."""

    def __init__(
        self,
        info: dict,
        hidden: int = 128,
        edge_dim: int = 32,
        layers: int = 6,
        time_dim: int = 64,
        rbf_count: int = 16,
        cutoff: float = 5.0,
        self_condition: bool = False,
        mask_token: bool = False,
        radial: bool = False,
    ):
        super().__init__()
        self.rbf_count, self.cutoff = rbf_count, cutoff
        parts = info.get("parts") or {}
        self.element = {k: len(v["prior"]) for k, v in parts.items() if not v.get("pairwise")}
        self.pair = {k: len(v["prior"]) for k, v in parts.items() if v.get("pairwise")}
        extra_state = int(mask_token)  # a masked prior's mask state: index = classes
        self.node_in = nn.ModuleDict(
            {k: nn.Embedding(c + extra_state, hidden) for k, c in self.element.items()}
        )
        self.edge_in = nn.ModuleDict(
            {k: nn.Embedding(c + extra_state, edge_dim) for k, c in self.pair.items()}
        )
        self.time_dim = time_dim
        self.time = nn.Sequential(nn.Linear(time_dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.cond = ConditionEmbedding(
            hidden, int(info.get("num_classes", 0)), int(info.get("cond_dim", 0))
        )
        self.self_condition = self_condition
        if self_condition:  # the previous step's x̂0 distances and class probabilities
            self.sc_node = nn.Linear(sum(self.element.values()), hidden)
            self.sc_edge = nn.Linear(sum(self.pair.values()) + rbf_count, edge_dim)
        self.layers = nn.ModuleList(
            JointLayer(hidden, edge_dim, rbf_count, cutoff, radial) for _ in range(layers)
        )
        self.node_out = nn.ModuleDict(
            {k: nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, c))
             for k, c in self.element.items()}
        )  # fmt: skip
        self.edge_out = nn.ModuleDict(
            {k: nn.Sequential(nn.Linear(edge_dim, edge_dim), nn.SiLU(), nn.Linear(edge_dim, c))
             for k, c in self.pair.items()}
        )  # fmt: skip

    def forward(
        self,
        x: Tensor,
        t: Tensor,
        parts: dict[str, Tensor],
        cond: Tensor | None = None,
        mask: Tensor | None = None,
        prev: tuple[Tensor, dict[str, Tensor]] | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``prev``: the previous prediction (x̂0, {part: probabilities}) for self-conditioning
        (a network built with ``self_condition``); None = none yet (zeros)."""
        B, N = x.shape[:2]
        mask = torch.ones(B, N, dtype=torch.bool, device=x.device) if mask is None else mask.bool()
        node_mask = mask.to(x.dtype).unsqueeze(-1)
        graph = DenseGraph(mask)
        count = (mask.sum(1).to(x.dtype) - 1).clamp(min=1).reshape(B, 1, 1)
        temb = sinusoidal_embedding(1000.0 * t.reshape(-1).expand(B), self.time_dim).to(x.dtype)
        extra = self.time(temb)
        if self.cond.enabled:
            extra = extra + self.cond(cond, B, x.device).to(x.dtype)
        h = sum(self.node_in[k](parts[k]) for k in self.element) + extra[:, None, :]
        h = h * node_mask
        e = sum(self.edge_in[k](parts[k]) for k in self.pair)
        if self.self_condition:
            dh, de = self._previous(graph, prev, B, N, x)
            h, e = h + dh * node_mask, e + de
        e = graph.mask_edges(e)
        pos = x
        for layer in self.layers:
            h, e, pos = layer(graph, h, e, pos, node_mask, count)
        logits = {k: self.node_out[k](h) for k in self.element}
        sym = e + e.transpose(1, 2)
        logits.update({k: self.edge_out[k](sym) for k in self.pair})
        return remove_mean(pos, mask), logits

    def _previous(self, graph: DenseGraph, prev, B: int, N: int, x: Tensor):
        """Node and edge features of the previous prediction: class probabilities and the
        RBFs of x̂0's distances (invariant); zero inputs when there is none."""
        ke, kp = sum(self.element.values()), sum(self.pair.values())
        if prev is None:
            node = x.new_zeros(B, N, ke)
            edge = x.new_zeros(B, N, N, kp + self.rbf_count)
        else:
            x0, probs = prev
            node = torch.cat([probs[k].to(x.dtype) for k in self.element], -1)
            d = torch.sqrt((graph.diff(x0.to(x.dtype)) ** 2).sum(-1, keepdim=True) + 1e-8)
            pair = [probs[k].to(x.dtype) for k in self.pair]
            edge = torch.cat([*pair, rbf(d, self.rbf_count, self.cutoff)], -1)
        return self.sc_node(node), self.sc_edge(edge)


def build_joint_egnn(info: dict, **params) -> nn.Module:
    from ..joint import check_vocabulary

    if not info.get("parts"):
        raise ValueError("joint_egnn needs a data description with parts (data.params.graph: true)")
    check_vocabulary(info)  # a checkpoint whose vocabularies disagree is refused here
    return JointEGNN(info, **params)

"""Graphs over padded atom batches in plain torch (pyg-lib/torch-cluster have no wheels here).

Both graph kinds expose the same three operations, so message-passing layers are written
once: ``pair(a, b)`` builds per-edge features from a receiver term ``a_i`` and a sender term
``b_j`` (the first linear layer of an edge MLP factorises as ``W_i h_i + W_j h_j``, which is
what makes dense graphs cheap), ``diff(x)`` gives ``x_i - x_j`` and ``agg(m)`` sums messages
into receivers. Padding atoms never send or receive.
"""

from __future__ import annotations

import torch
from torch import Tensor


class DenseGraph:
    """All pairs ``[B, N, N, ·]`` with a mask (real atoms, i != j, optional radius)."""

    def __init__(self, mask: Tensor, pos: Tensor | None = None, radius: float | None = None):
        m = mask.bool()
        eye = torch.eye(m.shape[1], dtype=torch.bool, device=m.device)
        e = m[:, :, None] & m[:, None, :] & ~eye
        if radius is not None and pos is not None:
            e = e & (torch.cdist(pos, pos) < radius)
        self.edge_mask = e.unsqueeze(-1)

    def pair(self, a: Tensor, b: Tensor) -> Tensor:
        return a[:, :, None] + b[:, None, :]

    def diff(self, x: Tensor) -> Tensor:
        return x[:, :, None] - x[:, None, :]

    def agg(self, m: Tensor) -> Tensor:
        return (m * self.edge_mask.to(m.dtype)).sum(2)

    def mask_edges(self, m: Tensor) -> Tensor:
        return m * self.edge_mask.to(m.dtype)


class SparseGraph:
    """An edge list over the real atoms of the batch (flattened ``[B*N]`` indices)."""

    def __init__(self, mask: Tensor, pos: Tensor | None = None, radius: float | None = None):
        b, n = mask.shape
        dense = DenseGraph(mask, pos, radius).edge_mask.squeeze(-1)
        bi, i, j = dense.nonzero(as_tuple=True)
        self.shape = (b, n)
        self.dst = bi * n + i
        self.src = bi * n + j

    def _flat(self, t: Tensor) -> Tensor:
        return t.reshape(-1, t.shape[-1])

    def pair(self, a: Tensor, b: Tensor) -> Tensor:
        return self._flat(a)[self.dst] + self._flat(b)[self.src]

    def diff(self, x: Tensor) -> Tensor:
        f = self._flat(x)
        return f[self.dst] - f[self.src]

    def agg(self, m: Tensor) -> Tensor:
        out = torch.zeros(
            self.shape[0] * self.shape[1], m.shape[-1], dtype=m.dtype, device=m.device
        )
        out.index_add_(0, self.dst, m)
        return out.reshape(*self.shape, m.shape[-1])

    def mask_edges(self, m: Tensor) -> Tensor:
        return m


def build_graph(kind: str, mask: Tensor, pos: Tensor | None = None, radius: float | None = None):
    if kind == "dense":
        return DenseGraph(mask, pos, radius)
    if kind == "sparse":
        return SparseGraph(mask, pos, radius)
    raise ValueError(f"graph {kind!r} unknown; use 'dense' or 'sparse'")

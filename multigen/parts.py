"""A state with several parts: the continuous ``x`` of :class:`~multigen.domain.Batch` plus
named categorical parts (class indices) that travel with it.

Element parts are ``[B, N]`` (one class per set element: atom types, charges), pair parts
``[B, N, N]`` (one class per unordered pair: bond orders; symmetric, diagonal 0). The
description of each part (its prior, whether it is per pair) lives in the run's data
description under ``info["parts"]`` (see :mod:`multigen.diffusion.discrete`); how a method
noises, denoises, samples and guides such a state is written down in docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor

from multigen.domain import Batch


@dataclass
class PartsBatch(Batch):
    parts: dict[str, Tensor] = field(default_factory=dict)

    def _map(self, fn) -> PartsBatch:
        def opt(t: Tensor | None) -> Tensor | None:
            return None if t is None else fn(t)

        return PartsBatch(
            fn(self.x), opt(self.mask), opt(self.cond), {k: fn(v) for k, v in self.parts.items()}
        )

    def to(self, device: torch.device | str, non_blocking: bool = False) -> PartsBatch:
        return self._map(lambda t: t.to(device, non_blocking=non_blocking))

    def pin_memory(self) -> PartsBatch:
        return self._map(lambda t: t.pin_memory())

    def select(self, index: Tensor | slice) -> PartsBatch:
        return self._map(lambda t: t[index])


def with_parts(batch: Batch, x: Tensor, parts: dict[str, Tensor]) -> PartsBatch:
    """``batch`` (mask, cond kept) with a new continuous state and parts."""
    return PartsBatch(x, batch.mask, batch.cond, dict(parts))


def pad_to(t: Tensor, n: int, set_dims: int) -> Tensor:
    """Zero-pad dims 1..set_dims of ``t`` to size ``n`` (element parts 1, pair parts 2)."""
    pad: list[int] = []
    for d in range(t.ndim - 1, 0, -1):  # F.pad lists the last dim first
        pad += [0, n - t.shape[d]] if d <= set_dims else [0, 0]
    return F.pad(t, pad)


def concat_parts(batches: Sequence[Batch], n: int) -> dict[str, Tensor] | None:
    """The parts of several batches joined along dim 0, set dims padded to ``n``; None when
    the batches carry no parts."""
    if not all(isinstance(b, PartsBatch) and b.parts for b in batches):
        return None
    out = {}
    for k in batches[0].parts:
        pieces = [b.parts[k] for b in batches]
        # parts hold class indices: every dim after the batch is a set dim
        out[k] = torch.cat([pad_to(p, n, p.ndim - 1) for p in pieces])
    return out

"""Seeded randomness, one stream per sample (EDM's StackedRandomGenerator idea).

A sample's noise depends only on its own seed, never on the batch it lands in or on the
number of processes, so a sample does not change with the batch size and a 2-process run
equals a 1-process run. Draws are made per generator (the streams are independent) and
stacked into one batch tensor here, so no other module builds or loops over generators.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

Generators = Sequence[torch.Generator]
_MIX = 0x9E3779B97F4A7C15  # odd 64-bit constant (golden ratio): spreads (seed, step) apart


def sample_generators(seeds: Sequence[int], device: torch.device | str = "cpu") -> list:
    """One generator per sample seed."""
    return [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]


def step_generators(
    seed: int, step: int, positions: Sequence[int], device: torch.device | str = "cpu"
) -> list[torch.Generator]:
    """Training randomness per (run seed, step, position in the global batch): the same draws
    whatever the number of processes the global batch is split over. The generators live on
    the training device, so no noise crosses from host to device."""
    base = (seed * _MIX + step) * _MIX
    return [torch.Generator(device).manual_seed((base + p) % (2**63 - 1)) for p in positions]


def randn(generators: Generators, shape: Sequence[int] = (), dtype=torch.float32) -> Tensor:
    """``[B, *shape]`` standard normal, row ``i`` from generator ``i`` (on its device)."""
    return torch.stack(
        [torch.randn(tuple(shape), generator=g, device=g.device, dtype=dtype) for g in generators]
    )


def rand(generators: Generators, shape: Sequence[int] = (), dtype=torch.float32) -> Tensor:
    """``[B, *shape]`` uniform on [0, 1), row ``i`` from generator ``i``."""
    return torch.stack(
        [torch.rand(tuple(shape), generator=g, device=g.device, dtype=dtype) for g in generators]
    )

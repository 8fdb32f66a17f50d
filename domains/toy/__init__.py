"""Toy 2-D domain: Gaussian mixtures (8 on a ring, 5x5 grid), two moons, swiss roll,
checkerboard and user point files, with MLP networks and exact-density metrics.

Where the right answer is known exactly, so the engine's samplers and methods can be checked.
"""

from __future__ import annotations

from .domain import ToyDomain, ToyReference


def get_domain() -> ToyDomain:
    return ToyDomain()


__all__ = ["ToyDomain", "ToyReference", "get_domain"]

"""Shared fixtures: hand-built molecules with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from multigen_domains.molecules.mol import Molecule


def tetra(center: np.ndarray, length: float) -> np.ndarray:
    d = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float) / np.sqrt(3)
    return center + length * d


@pytest.fixture
def methane() -> Molecule:
    pos = np.vstack([[0, 0, 0], tetra(np.zeros(3), 1.09)])
    return Molecule(["C", "H", "H", "H", "H"], pos, name="methane")


@pytest.fixture
def water() -> Molecule:
    a = np.radians(104.5) / 2
    pos = [
        [0, 0, 0],
        [0.96 * np.sin(a), 0.96 * np.cos(a), 0],
        [-0.96 * np.sin(a), 0.96 * np.cos(a), 0],
    ]
    return Molecule(["O", "H", "H"], pos, name="water")


@pytest.fixture
def ethene() -> Molecule:
    # C=C 1.33 Å (< 134 + 5 pm: double, > 120 + 3 pm: not triple), C-H 1.09 Å at 120°.
    c = 0.665
    h = [(1.09 * np.cos(np.radians(a)), 1.09 * np.sin(np.radians(a))) for a in (60, -60)]
    pos = [[-c, 0, 0], [c, 0, 0]]
    pos += [[c + hx, hy, 0] for hx, hy in h] + [[-c - hx, hy, 0] for hx, hy in h]
    return Molecule(["C", "C", "H", "H", "H", "H"], pos, name="ethene")


@pytest.fixture
def benzene():
    return _benzene


def _benzene(cc_long: float, cc_short: float) -> Molecule:
    """A hexagon with alternating C-C lengths (Kekulé geometry when they differ)."""
    ang = np.radians(np.arange(6) * 60.0)
    r = (cc_long + cc_short) / 2  # circumradius of a regular hexagon equals its side
    ring = np.stack([r * np.cos(ang), r * np.sin(ang), np.zeros(6)], 1)
    # Move atoms along the ring to alternate lengths while keeping the centre.
    delta = (cc_long - cc_short) / 4
    for k in range(6):
        tangent = np.array([-np.sin(ang[k]), np.cos(ang[k]), 0.0])
        ring[k] += (delta if k % 2 == 0 else -delta) * tangent
    hs = ring + 1.09 * ring / np.linalg.norm(ring, axis=1, keepdims=True)
    return Molecule(["C"] * 6 + ["H"] * 6, np.vstack([ring, hs]), name="benzene")

"""Normalisation modes, named as the papers use them.

- ``global``: PointFlow / PVD. One mean per axis and one scalar std over *all* training
  points; ``(x - mean) / std``. Invertible: decode undoes it so metrics see data units.
- ``unit_box``: per shape, centre the bounding box at 0 and scale its longest side to 2,
  i.e. fit into [-1, 1]^3 (LION/PVD's per-shape box normalisation before scoring).
- ``unit_sphere``: per shape, centre the centroid at 0 and scale the farthest point to 1.
- ``none``: leave coordinates as they are.

Per-shape modes are not undone (the scale is not recoverable); the reference set used for
scoring is put through the same mode.
"""

from __future__ import annotations

import numpy as np

from multigen.domain import DomainError

MODES = ("global", "unit_box", "unit_sphere", "none")


def check_mode(mode: str) -> str:
    if mode not in MODES:
        raise DomainError(f"unknown normalisation {mode!r}; choose one of {', '.join(MODES)}")
    return mode


def per_shape(points: np.ndarray, mode: str) -> np.ndarray:
    """Apply a per-shape mode to ``[..., N, 3]`` (``global``/``none`` pass through)."""
    check_mode(mode)
    if mode == "unit_box":
        lo, hi = points.min(axis=-2, keepdims=True), points.max(axis=-2, keepdims=True)
        scale = (hi - lo).max(axis=-1, keepdims=True) / 2
        return (points - (lo + hi) / 2) / np.maximum(scale, 1e-12)
    if mode == "unit_sphere":
        centred = points - points.mean(axis=-2, keepdims=True)
        radius = np.linalg.norm(centred, axis=-1, keepdims=True).max(axis=-2, keepdims=True)
        return centred / np.maximum(radius, 1e-12)
    return points


def global_stats(points: np.ndarray) -> dict[str, list[float] | float]:
    """PointFlow's statistics: per-axis mean, and the std of all coordinates flattened
    together (``all_points.reshape(-1).std()`` in PointFlow's ShapeNet15kPointClouds)."""
    flat = points.reshape(-1, 3).astype(np.float64)
    mean = flat.mean(axis=0)
    std = float(flat.reshape(-1).std())
    return {"mean": mean.tolist(), "std": std}


def apply_global(points: np.ndarray, stats: dict) -> np.ndarray:
    return (points - np.asarray(stats["mean"], np.float32)) / np.float32(stats["std"])


def undo_global(points: np.ndarray, stats: dict) -> np.ndarray:
    return points * np.float32(stats["std"]) + np.asarray(stats["mean"], np.float32)

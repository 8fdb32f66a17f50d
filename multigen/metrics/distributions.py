"""Distances between empirical distributions: energy, (sliced) Wasserstein, total variation."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ._util import features_2d, to_numpy


def _mean_pairwise_distance(a: np.ndarray, b: np.ndarray, chunk: int = 2048) -> float:
    total = 0.0
    for s in range(0, len(a), chunk):
        block = a[s : s + chunk]
        d2 = (block * block).sum(1)[:, None] + (b * b).sum(1)[None, :] - 2.0 * block @ b.T
        total += float(np.sqrt(np.clip(d2, 0.0, None)).sum())
    return total / (len(a) * len(b))


def energy_distance(x: Any, y: Any, squared: bool = True) -> float:
    """Energy distance between samples x [N, D] and y [M, D] (1-D inputs are N scalars).

    Returns the *squared* form D² = 2 E|X - Y| - E|X - X'| - E|Y - Y'| (Székely & Rizzo)
    with Euclidean norms, estimated by V-statistics (means over all pairs, i = j included),
    so it is >= 0 and zero iff the two empirical distributions coincide.
    ``squared=False`` returns D = sqrt(D²), which equals scipy.stats.energy_distance in 1-D
    (scipy computes sqrt(2) * ||F - G||_2, the same V-statistic).
    """
    a, b = features_2d(x, "x"), features_2d(y, "y")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x and y dims differ: {a.shape[1]} vs {b.shape[1]}")
    d2 = (
        2.0 * _mean_pairwise_distance(a, b)
        - _mean_pairwise_distance(a, a)
        - _mean_pairwise_distance(b, b)
    )
    d2 = max(d2, 0.0)  # round-off only; the V-statistic is non-negative
    return d2 if squared else float(np.sqrt(d2))


def _wasserstein_p_sorted(a: np.ndarray, b: np.ndarray, p: float) -> np.ndarray:
    """W_p^p between rows of sorted samples a [K, N] and b [K, M], via quantile functions."""
    n, m = a.shape[1], b.shape[1]
    if n == m:
        return (np.abs(a - b) ** p).mean(axis=1)
    # Both quantile functions are piecewise constant between the levels i/n and j/m.
    levels = np.union1d(np.arange(1, n + 1) / n, np.arange(1, m + 1) / m)
    widths = np.diff(np.concatenate([[0.0], levels]))
    mids = levels - widths / 2
    ia = np.minimum((mids * n).astype(np.int64), n - 1)
    ib = np.minimum((mids * m).astype(np.int64), m - 1)
    return (np.abs(a[:, ia] - b[:, ib]) ** p * widths).sum(axis=1)


def wasserstein_1d(a: Any, b: Any, p: float = 1.0) -> float:
    """p-Wasserstein distance between two 1-D empirical distributions (uniform weights).

    W_p = (∫_0^1 |F⁻¹(u) - G⁻¹(u)|^p du)^{1/p}; p=1 equals scipy.stats.wasserstein_distance.
    """
    x = to_numpy(a, "a").ravel()
    y = to_numpy(b, "b").ravel()
    if x.size == 0 or y.size == 0:
        raise ValueError("wasserstein_1d: empty sample")
    if p < 1:
        raise ValueError(f"wasserstein_1d: p must be >= 1, got {p}")
    wp = _wasserstein_p_sorted(np.sort(x)[None], np.sort(y)[None], p)[0]
    return float(wp ** (1.0 / p))


def sliced_wasserstein(
    x: Any, y: Any, n_projections: int = 256, seed: int = 0, p: float = 2.0
) -> float:
    """Sliced p-Wasserstein distance between x [N, D] and y [M, D].

    SW_p = (mean over random unit directions θ of W_p^p(θ·x, θ·y))^{1/p}, with
    ``n_projections`` directions drawn uniformly on the sphere from ``seed``
    (deterministic). Set sizes may differ.
    """
    a, b = features_2d(x, "x"), features_2d(y, "y")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"x and y dims differ: {a.shape[1]} vs {b.shape[1]}")
    if p < 1:
        raise ValueError(f"sliced_wasserstein: p must be >= 1, got {p}")
    rng = np.random.default_rng(seed)
    theta = rng.standard_normal((n_projections, a.shape[1]))
    theta /= np.linalg.norm(theta, axis=1, keepdims=True)
    pa = np.sort(theta @ a.T, axis=1)
    pb = np.sort(theta @ b.T, axis=1)
    return float(_wasserstein_p_sorted(pa, pb, p).mean() ** (1.0 / p))


def _normalise(h: np.ndarray, name: str) -> np.ndarray:
    if np.any(h < 0):
        raise ValueError(f"{name}: histogram has negative entries")
    total = h.sum()
    if total <= 0:
        raise ValueError(f"{name}: histogram sums to zero")
    return h / total


def total_variation(p: Any, q: Any) -> float:
    """Total variation distance ½ Σ |p_i - q_i| between two histograms.

    Accepts two arrays of the same shape, or two mappings {bin: count} (missing bins
    count as 0). Counts are normalised to probabilities first. Result in [0, 1].
    """
    if isinstance(p, Mapping) or isinstance(q, Mapping):
        if not (isinstance(p, Mapping) and isinstance(q, Mapping)):
            raise ValueError("total_variation: pass two mappings or two arrays, not a mix")
        keys = sorted(set(p) | set(q), key=repr)
        pa = np.array([float(p.get(k, 0.0)) for k in keys])
        qa = np.array([float(q.get(k, 0.0)) for k in keys])
    else:
        pa, qa = to_numpy(p, "p"), to_numpy(q, "q")
        if pa.shape != qa.shape:
            raise ValueError(f"total_variation: shapes differ: {pa.shape} vs {qa.shape}")
    return float(0.5 * np.abs(_normalise(pa, "p") - _normalise(qa, "q")).sum())

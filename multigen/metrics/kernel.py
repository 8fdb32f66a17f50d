"""Kernel two-sample statistics: unbiased MMD² and the Kernel Inception Distance (KID).

KID (Bińkowski et al. 2018, "Demystifying MMD GANs") is the unbiased MMD² with the cubic
polynomial kernel k(x, y) = (x·y / d + 1)³, averaged over random subsets of both sets.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._util import features_2d


def polynomial_kernel(
    x: np.ndarray, y: np.ndarray, degree: int = 3, gamma: float | None = None, coef0: float = 1.0
) -> np.ndarray:
    """(gamma x·y + coef0)^degree with gamma = 1/d by default (the KID kernel)."""
    g = 1.0 / x.shape[1] if gamma is None else gamma
    return (g * (x @ y.T) + coef0) ** degree


def _sq_dists(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    d = (x * x).sum(1)[:, None] + (y * y).sum(1)[None, :] - 2.0 * (x @ y.T)
    return np.clip(d, 0.0, None)


def rbf_kernel(x: np.ndarray, y: np.ndarray, bandwidth: float) -> np.ndarray:
    """exp(-|x - y|² / (2 bandwidth²))."""
    return np.exp(-_sq_dists(x, y) / (2.0 * bandwidth**2))


def median_bandwidth(x: np.ndarray, y: np.ndarray) -> float:
    """Median heuristic: median pairwise distance of the pooled sample (off-diagonal)."""
    z = np.concatenate([x, y])
    d = np.sqrt(_sq_dists(z, z))[np.triu_indices(len(z), k=1)]
    med = float(np.median(d)) if d.size else 0.0
    return med if med > 0 else 1.0


def _mmd2_from_kernels(kxx: np.ndarray, kyy: np.ndarray, kxy: np.ndarray) -> float:
    m, n = kxx.shape[0], kyy.shape[0]
    # Unbiased: drop the i == j terms within each set; keep every cross pair.
    sxx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    syy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(sxx + syy - 2.0 * kxy.mean())


def mmd2_unbiased(
    x: Any,
    y: Any,
    kernel: str = "polynomial",
    *,
    degree: int = 3,
    gamma: float | None = None,
    coef0: float = 1.0,
    bandwidth: float | None = None,
) -> float:
    """Unbiased estimate of MMD² between samples x [M, D] and y [N, D] (M, N >= 2).

    kernel='polynomial': (gamma x·y + coef0)^degree, gamma defaults to 1/D (KID kernel).
    kernel='rbf': Gaussian kernel; bandwidth defaults to the pooled median distance.
    The estimate can be slightly negative when the distributions are equal.
    """
    xa, ya = features_2d(x, "x"), features_2d(y, "y")
    if xa.shape[1] != ya.shape[1]:
        raise ValueError(f"x and y feature dims differ: {xa.shape[1]} vs {ya.shape[1]}")
    if len(xa) < 2 or len(ya) < 2:
        raise ValueError("mmd2_unbiased needs at least 2 samples in each set")
    if kernel == "polynomial":

        def k(a, b):
            return polynomial_kernel(a, b, degree, gamma, coef0)
    elif kernel == "rbf":
        bw = median_bandwidth(xa, ya) if bandwidth is None else float(bandwidth)

        def k(a, b):
            return rbf_kernel(a, b, bw)
    else:
        raise ValueError(f"kernel must be 'polynomial' or 'rbf', got {kernel!r}")
    return _mmd2_from_kernels(k(xa, xa), k(ya, ya), k(xa, ya))


def kid(
    f1: Any, f2: Any, subsets: int = 100, subset_size: int = 1000, seed: int = 0
) -> tuple[float, float]:
    """Kernel Inception Distance between feature sets f1 [N1, D] and f2 [N2, D].

    For each of ``subsets`` rounds, draws ``subset_size`` rows without replacement from
    each set (clipped to the smaller set) and computes the unbiased MMD² with the kernel
    (x·y/D + 1)³. Returns (mean, std) over the rounds (std with ddof=0, as torch-fidelity).
    Deterministic for a given seed.
    """
    a, b = features_2d(f1, "f1"), features_2d(f2, "f2")
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"f1 and f2 feature dims differ: {a.shape[1]} vs {b.shape[1]}")
    m = min(subset_size, len(a), len(b))
    if m < 2:
        raise ValueError("kid needs at least 2 samples in each set")
    rng = np.random.default_rng(seed)
    vals = np.empty(subsets)
    for i in range(subsets):
        xa = a[rng.choice(len(a), m, replace=False)]
        yb = b[rng.choice(len(b), m, replace=False)]
        vals[i] = _mmd2_from_kernels(
            polynomial_kernel(xa, xa), polynomial_kernel(yb, yb), polynomial_kernel(xa, yb)
        )
    return float(vals.mean()), float(vals.std())

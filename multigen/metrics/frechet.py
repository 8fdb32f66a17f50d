"""Fréchet distance between Gaussians fitted to feature sets (FID, FAD, FCD, FPD...).

d² = |mu1 - mu2|² + tr(C1 + C2 - 2 (C1 C2)^{1/2}).

tr((C1 C2)^{1/2}) is computed from the symmetric PSD matrix S = C1^{1/2} C2 C1^{1/2},
which has the same eigenvalues as C1 C2: sum of sqrt(eigvalsh(S)). This needs only
symmetric eigendecompositions, so there is no complex sqrtm output to clean up and no
eps-offset retry as in pytorch-fid; eigenvalues within round-off of zero (including
small negative ones) are set to zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import checks
from ._util import features_2d, to_numpy


def _clip_eigs(w: np.ndarray) -> np.ndarray:
    # Eigenvalues within round-off of zero are zero; sqrt would inflate 1e-16 to 1e-8.
    tol = max(float(np.abs(w).max(initial=0.0)), 1e-300) * len(w) * np.finfo(np.float64).eps
    return np.where(w > tol, w, 0.0)


def _psd_sqrt(c: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh((c + c.T) / 2)
    return (v * np.sqrt(_clip_eigs(w))) @ v.T


def _as_cov(c: Any, name: str, d: int) -> np.ndarray:
    arr = to_numpy(c, name)
    if arr.ndim == 0 and d == 1:
        arr = arr.reshape(1, 1)
    if arr.shape != (d, d):
        raise ValueError(f"{name}: expected a [{d}, {d}] covariance, got {tuple(arr.shape)}")
    return arr


def frechet_distance(mu1: Any, cov1: Any, mu2: Any, cov2: Any) -> float:
    """Squared Fréchet (2-Wasserstein) distance between N(mu1, cov1) and N(mu2, cov2).

    Inputs are torch or numpy; computed in float64. This is the quantity reported as
    FID/FAD/FCD (no square root). Returns a float >= 0 up to round-off.
    """
    m1 = np.atleast_1d(to_numpy(mu1, "mu1"))
    m2 = np.atleast_1d(to_numpy(mu2, "mu2"))
    if m1.ndim != 1 or m1.shape != m2.shape:
        raise ValueError(f"mu1/mu2: expected equal 1-D means, got {m1.shape} and {m2.shape}")
    d = m1.shape[0]
    c1 = _as_cov(cov1, "cov1", d)
    c2 = _as_cov(cov2, "cov2", d)
    s1 = _psd_sqrt(c1)
    middle = s1 @ c2 @ s1
    eig = np.linalg.eigvalsh((middle + middle.T) / 2)
    tr_covmean = float(np.sqrt(_clip_eigs(eig)).sum())
    diff = m1 - m2
    return float(diff @ diff + np.trace(c1) + np.trace(c2) - 2.0 * tr_covmean)


def feature_statistics(f: Any) -> tuple[np.ndarray, np.ndarray]:
    """Mean [D] and unbiased (ddof=1) covariance [D, D] of features [N, D], float64."""
    arr = features_2d(f, "features")
    if arr.shape[0] < 2:
        raise ValueError(f"features: need at least 2 rows for a covariance, got {arr.shape[0]}")
    mu = arr.mean(axis=0)
    cov = np.atleast_2d(np.cov(arr, rowvar=False))
    return mu, cov


def frechet_distance_features(f1: Any, f2: Any) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [N1, D] and [N2, D]."""
    mu1, cov1 = feature_statistics(f1)
    mu2, cov2 = feature_statistics(f2)
    if mu1.shape != mu2.shape:
        raise ValueError(f"feature dims differ: {mu1.shape[0]} vs {mu2.shape[0]}")
    checks.warn(checks.frechet_note(len(f1), len(f2), mu1.shape[0]))
    return frechet_distance(mu1, cov1, mu2, cov2)

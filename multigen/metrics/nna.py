"""Set-level metrics from precomputed distance matrices (PointFlow / Yang et al. 2019).

The distances (Chamfer, EMD, Tanimoto, ...) are the domain's business; these functions
only consume the matrices, so they work for any modality.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._util import to_numpy


def _matrix(d: Any, name: str, shape: tuple[int | None, int | None]) -> np.ndarray:
    arr = to_numpy(d, name, ndim=2)
    for axis, want in enumerate(shape):
        if want is not None and arr.shape[axis] != want:
            raise ValueError(f"{name}: expected shape {shape}, got {tuple(arr.shape)}")
    return arr


def one_nna(d_xx: Any, d_yy: Any, d_xy: Any) -> float:
    """Leave-one-out 1-nearest-neighbour two-sample accuracy (1-NNA).

    Args:
        d_xx: [Nx, Nx] distances within set X (e.g. generated).
        d_yy: [Ny, Ny] distances within set Y (e.g. reference).
        d_xy: [Nx, Ny] distances from X (rows) to Y (columns).

    Every sample is classified by the set of its nearest neighbour among all other
    samples of X ∪ Y (itself excluded); the result is the fraction classified correctly.
    0.5 means the sets are indistinguishable, 1.0 fully separable; well below 0.5 hints
    at memorisation. The result is symmetric in (X, Y).

    Ties: when the smallest distance is attained both by a sample of its own set and by
    one of the other set, the sample scores 0.5 (half right) instead of depending on
    argmin order. Exact equality of the given floats decides a tie.
    """
    xx = _matrix(d_xx, "d_xx", (None, None))
    nx = xx.shape[0]
    yy = _matrix(d_yy, "d_yy", (None, None))
    ny = yy.shape[0]
    if xx.shape != (nx, nx) or yy.shape != (ny, ny):
        raise ValueError(f"d_xx and d_yy must be square, got {xx.shape} and {yy.shape}")
    xy = _matrix(d_xy, "d_xy", (nx, ny))
    if nx + ny < 3 or nx < 1 or ny < 1:
        raise ValueError("one_nna needs non-empty sets with at least 3 samples in total")
    xx = xx.copy()
    yy = yy.copy()
    np.fill_diagonal(xx, np.inf)  # leave-one-out
    np.fill_diagonal(yy, np.inf)
    own_x, other_x = xx.min(axis=1), xy.min(axis=1)
    own_y, other_y = yy.min(axis=1), xy.min(axis=0)

    def score(own: np.ndarray, other: np.ndarray) -> np.ndarray:
        return np.where(own < other, 1.0, np.where(own > other, 0.0, 0.5))

    correct = score(own_x, other_x).sum() + score(own_y, other_y).sum()
    return float(correct / (nx + ny))


def mmd_coverage(d_xy: Any) -> dict[str, float]:
    """Minimum matching distance (MMD) and coverage (COV), PointFlow convention.

    Args:
        d_xy: [N_gen, N_ref] distances; rows are generated samples, columns reference.

    MMD = mean over reference samples of the distance to their nearest generated sample
    (lower is better). COV = fraction of reference samples that are the nearest
    reference neighbour of at least one generated sample (higher is better). When a
    generated sample has several equally near references, the first column wins.
    """
    d = _matrix(d_xy, "d_xy", (None, None))
    if d.shape[0] == 0 or d.shape[1] == 0:
        raise ValueError(f"d_xy: empty distance matrix {d.shape}")
    mmd = float(d.min(axis=0).mean())
    cov = len(np.unique(d.argmin(axis=1))) / d.shape[1]
    return {"mmd": mmd, "cov": float(cov)}

"""Set-level point-cloud metrics as PointFlow defines them.

MMD / COV / 1-NNA come from distance matrices (``multigen.metrics.nna``) built with CD or
EMD (``distances``). JSD compares occupancy of a 28³ grid (PointFlow's
``jsd_between_point_cloud_sets``). FPD is the Fréchet distance of PointNet features
(``classifier``).
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree
from scipy.stats import entropy

from multigen.metrics.nna import mmd_coverage, one_nna

from . import distances


def cd_metrics(gen: np.ndarray, ref: np.ndarray) -> tuple[dict[str, float], tuple]:
    """MMD-CD, COV-CD, 1-NNA-CD; also returns the joint (CD, EMD lower bound) matrices,
    which the EMD neighbour search reuses."""
    joint = np.concatenate([gen, ref])
    cd, bound = distances.pairwise_chamfer(joint, joint, with_bound=True)
    n = len(gen)
    mc = mmd_coverage(cd[:n, n:])
    nna = one_nna(cd[:n, :n], cd[n:, n:], cd[:n, n:])
    return {"mmd_cd": mc["mmd"], "cov_cd": mc["cov"], "nna_cd": nna}, (cd, bound)


def emd_metrics(
    gen: np.ndarray,
    ref: np.ndarray,
    mode: str = "exact",
    joint: tuple | None = None,
    **kwargs,
) -> dict[str, float]:
    """MMD-EMD, COV-EMD, 1-NNA-EMD (exact nearest neighbours unless ``mode='fast'``)."""
    cd, bound = joint if joint is not None else (None, None)
    d_xx, d_yy, d_xy, stats = distances.emd_neighbour_matrices(
        gen, ref, mode=mode, chamfer=cd, lower_bound=bound, **kwargs
    )
    mc = mmd_coverage(d_xy)
    return {
        "mmd_emd": mc["mmd"],
        "cov_emd": mc["cov"],
        "nna_emd": one_nna(d_xx, d_yy, d_xy),
        "emd_solved_fraction": stats["exact_pairs"] / max(stats["all_pairs"], 1),
    }


def _grid(resolution: int) -> np.ndarray:
    """PointFlow's unit-cube grid in [-0.5, 0.5]³ clipped to the ball of radius 0.5."""
    axis = np.arange(resolution) / (resolution - 1) - 0.5
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), -1).reshape(-1, 3)
    return grid[np.linalg.norm(grid, axis=1) <= 0.5]


def occupancy_counts(clouds: np.ndarray, resolution: int = 28) -> np.ndarray:
    """Points per grid cell, each point going to its nearest grid point (PointFlow)."""
    grid = _grid(resolution)
    _, idx = cKDTree(grid).query(clouds.reshape(-1, 3), k=1)
    return np.bincount(idx, minlength=len(grid)).astype(np.float64)


def jsd(gen: np.ndarray, ref: np.ndarray, resolution: int = 28) -> float:
    """Jensen-Shannon divergence (base 2) of the two sets' grid-occupancy distributions.

    Like PointFlow, the clouds are expected inside the ball of radius 0.5; points outside
    snap to the nearest boundary cell (see :func:`fit_to_half_ball`).
    """
    p, q = occupancy_counts(gen, resolution), occupancy_counts(ref, resolution)
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2
    return float(entropy(m, base=2) - (entropy(p, base=2) + entropy(q, base=2)) / 2)


def fit_to_half_ball(gen: np.ndarray, ref: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One similarity transform, taken from the reference, that puts it in radius 0.5."""
    centre = ref.reshape(-1, 3).mean(0)
    radius = np.linalg.norm(ref.reshape(-1, 3) - centre, axis=1).max()
    scale = 0.5 / max(radius, 1e-12)
    return (gen - centre) * scale, (ref - centre) * scale

"""Optimal-transport alignment of noise to molecules for flow matching.

Per molecule, the noise atoms are permuted (Hungarian assignment on squared distances of the
full state rows) and the noise positions rotated (Kabsch) onto the data, alternating a few
times. Both moves keep the noise distribution (i.i.d. atoms, isotropic zero-CoM Gaussian),
so the pairs stay valid couplings while the straight paths get shorter (equivariant OT flow
matching: Klein et al. 2023, Song et al. 2023 "EquiFM").
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor


def kabsch(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Rotation R (det +1) minimising |q R^T - p|² for centred point sets p, q [n, 3]."""
    h = q.T @ p
    u, _, vt = np.linalg.svd(h)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def _principal_frame(p: np.ndarray) -> np.ndarray:
    _, vecs = np.linalg.eigh(p.T @ p)
    return vecs if np.linalg.det(vecs) > 0 else vecs * np.array([1.0, 1.0, -1.0])


def _starts(x0: np.ndarray, z: np.ndarray) -> list[np.ndarray]:
    """Initial rotations: identity and the 4 proper maps between the principal axes of the
    two point clouds (alternating minimisation is local; several starts avoid bad optima)."""
    fx, fz = _principal_frame(x0[:, :3]), _principal_frame(z[:, :3])
    flips = [np.diag(d) for d in ([1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1])]
    return [np.eye(3)] + [fx @ f @ fz.T for f in flips]


def align_one(x0: np.ndarray, noise: np.ndarray, iters: int = 3) -> np.ndarray:
    """Aligned copy of ``noise`` [n, F] for molecule ``x0`` [n, F] (real atoms only)."""
    best, best_cost = noise, np.inf
    for r0 in _starts(x0, noise):
        z = noise.copy()
        z[:, :3] = z[:, :3] @ r0.T
        for _ in range(iters):
            cost = ((x0[:, None, :] - z[None, :, :]) ** 2).sum(-1)
            _, cols = linear_sum_assignment(cost)
            z = z[cols]
            r = kabsch(x0[:, :3], z[:, :3])
            z[:, :3] = z[:, :3] @ r.T
        total = ((x0 - z) ** 2).sum()
        if total < best_cost:
            best, best_cost = z, total
    return best


def align_batch(x0: Tensor, noise: Tensor, mask: Tensor, iters: int = 3) -> Tensor:
    out = noise.clone()
    xs, ns, ms = (
        x0.detach().double().cpu().numpy(),
        noise.double().cpu().numpy(),
        mask.bool().cpu().numpy(),
    )
    for b in range(x0.shape[0]):
        idx = np.flatnonzero(ms[b])
        z = align_one(xs[b, idx], ns[b, idx], iters)
        out[b, torch.as_tensor(idx, device=noise.device)] = torch.as_tensor(
            z, dtype=noise.dtype, device=noise.device
        )
    return out

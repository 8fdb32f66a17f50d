"""The continuous state of a padded molecule batch and its zero-centre-of-mass subspace.

``x[b, i] = concat(position (Å), one_hot(type) / 4, charge / 10)`` (EDM normalisation); the
positions of real atoms have zero mean (centre of geometry, as in EDM), padding rows are 0.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from multigen.randomness import randn

from .constants import CHARGE_SCALE, ONEHOT_SCALE, POS_SCALE

MAX_CHARGE = 3


def remove_mean(pos: Tensor, mask: Tensor) -> Tensor:
    """Subtract the mean over real atoms and zero the padding. pos [B,N,3], mask [B,N]."""
    m = mask.to(pos.dtype).unsqueeze(-1)
    n = m.sum(1, keepdim=True).clamp(min=1)
    mean = (pos * m).sum(1, keepdim=True) / n
    return (pos - mean) * m


def project(x: Tensor, mask: Tensor) -> Tensor:
    """Project a full state onto the model's subspace: zero-CoM positions, zero padding."""
    m = mask.to(x.dtype).unsqueeze(-1)
    return torch.cat([remove_mean(x[..., :3], mask), x[..., 3:] * m], dim=-1)


def encode(positions: np.ndarray, types: np.ndarray, charges: np.ndarray, num_types: int) -> Tensor:
    """One molecule -> its state rows ``[n, 3 + K + 1]`` (float32, centred)."""
    pos = torch.as_tensor(positions, dtype=torch.float64)
    pos = (pos - pos.mean(0, keepdim=True)) / POS_SCALE
    onehot = torch.nn.functional.one_hot(torch.as_tensor(types), num_types).double()
    q = torch.as_tensor(charges, dtype=torch.float64).unsqueeze(-1)
    return torch.cat([pos, onehot / ONEHOT_SCALE, q / CHARGE_SCALE], dim=-1).float()


def decode(x: Tensor, num_types: int) -> tuple[Tensor, Tensor, Tensor]:
    """State rows -> positions (Å), type indices (argmax), integer charges (rounded)."""
    pos = x[..., :3] * POS_SCALE
    types = x[..., 3 : 3 + num_types].argmax(-1)
    # Clamped: an untrained network can emit any value, RDKit accepts only sane charges.
    charges = (
        torch.round(x[..., 3 + num_types] * CHARGE_SCALE).clamp(-MAX_CHARGE, MAX_CHARGE).long()
    )
    return pos, types, charges


def pad(rows: Sequence[Tensor], n_max: int | None = None) -> tuple[Tensor, Tensor]:
    """Stack variable-length ``[n_i, F]`` rows into ``[B, N, F]`` plus a bool mask ``[B, N]``."""
    n_max = n_max or max(r.shape[0] for r in rows)
    feat = rows[0].shape[-1]
    x = torch.zeros(len(rows), n_max, feat, dtype=rows[0].dtype)
    mask = torch.zeros(len(rows), n_max, dtype=torch.bool)
    for b, r in enumerate(rows):
        x[b, : r.shape[0]] = r
        mask[b, : r.shape[0]] = True
    return x, mask


def subspace_noise(
    shape: Sequence[int], mask: Tensor, generators: Sequence[torch.Generator]
) -> Tensor:
    """Standard normal noise per sample (own generator each), projected to the subspace.

    Drawn at the full padded shape so a sample's noise does not depend on the batch.
    """
    eps = randn(generators, shape).to(mask.device)
    return project(eps, mask)


def sample_counts(
    hist: dict[str, float] | dict[int, float], n: int, generator: torch.Generator
) -> Tensor:
    """Atom counts drawn from a histogram ``{count: frequency}`` (keys may be strings)."""
    counts = torch.tensor([int(k) for k in hist], dtype=torch.long)
    probs = torch.tensor([float(v) for v in hist.values()], dtype=torch.float64)
    idx = torch.multinomial(probs / probs.sum(), n, replacement=True, generator=generator)
    return counts[idx]


def count_mask(counts: Tensor, n_max: int) -> Tensor:
    return torch.arange(n_max)[None, :] < counts[:, None]

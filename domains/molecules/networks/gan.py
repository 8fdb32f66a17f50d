"""Equivariant GAN generator: per-atom Gaussian latents (zero-CoM positions + features)
pushed through an EGNN. Rotating the latent positions rotates the generated molecule, so the
generated distribution is E(3)-invariant by construction; the discriminator is an EGNN with
an invariant readout (:class:`EGNNReadout`)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from multigen.domain import Batch
from multigen.nn import ConditionEmbedding, Generator

from ..constants import CHARGE_SCALE, ONEHOT_SCALE
from ..state import remove_mean, subspace_noise
from .egnn import EGNNTrunk


class EGNNGenerator(Generator):
    def __init__(self, info: dict, hidden: int = 128, layers: int = 6, **trunk):
        super().__init__()
        self.feat = int(info["shape"][-1]) - 3
        self.num_types = len(info["atom_types"])
        self.trunk = EGNNTrunk(self.feat, hidden, layers, **trunk)
        self.cond = ConditionEmbedding(
            hidden, int(info.get("num_classes", 0)), int(info.get("cond_dim", 0))
        )
        self.out = nn.Sequential(nn.Linear(hidden, hidden), nn.SiLU(), nn.Linear(hidden, self.feat))
        self.latent_dim = 0  # latents are per atom, shaped like the state

    def sample_latent(self, template: Batch, generators: Sequence[torch.Generator]) -> Tensor:
        mask = (
            template.mask.bool()
            if template.mask is not None
            else torch.ones(template.x.shape[:2], dtype=torch.bool)
        )
        return subspace_noise(template.x.shape[1:], mask, generators).to(template.x.device)

    def forward(self, z: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        mask = (
            torch.ones(z.shape[:2], dtype=torch.bool, device=z.device)
            if mask is None
            else mask.bool()
        )
        extra = self.cond(cond, z.shape[0], z.device) if self.cond.enabled else None
        h, x = self.trunk(z[..., :3], z[..., 3:], mask, extra)
        m = mask.unsqueeze(-1).to(h.dtype)
        logits = self.out(h)
        types = straight_through(
            torch.softmax(logits[..., : self.num_types], -1),
            F.one_hot(logits[..., : self.num_types].argmax(-1), self.num_types).to(h.dtype),
        )
        charges = logits[..., self.num_types :] * (1 / CHARGE_SCALE)
        charges = straight_through(charges, torch.round(charges * CHARGE_SCALE) / CHARGE_SCALE)
        return torch.cat([remove_mean(x, mask), types / ONEHOT_SCALE * m, charges * m], -1)


def straight_through(soft: Tensor, hard: Tensor) -> Tensor:
    """``hard`` in the forward pass, ``soft``'s gradient in the backward pass. The
    discriminator then sees exact one-hot types and integer charges, as in the data; a
    softmax never equals a one-hot, so it would let it tell fakes from real molecules by that
    cue alone."""
    return soft + (hard - soft).detach()


def build_egnn_generator(info: dict, **params) -> nn.Module:
    return EGNNGenerator(info, **params)

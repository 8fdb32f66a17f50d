"""The class term of a projection discriminator (Miyato & Koyama 2018)."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def add_class_projection(
    logit: Tensor, features: Tensor, cond: Tensor | None, embed: nn.Module | None
) -> Tensor:
    """``logit + <embed(y), features>`` per sample; label -1 (class unknown, e.g. dropped for
    classifier-free training) adds nothing, and so does a discriminator without ``embed``."""
    if embed is None or cond is None:
        return logit
    known = cond >= 0
    proj = (embed(cond.clamp(min=0).long()).to(features.dtype) * features).sum(1)
    return logit + torch.where(known, proj, torch.zeros_like(proj))

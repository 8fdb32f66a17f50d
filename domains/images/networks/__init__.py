"""Image networks: the U-Net and DiT denoisers and the DCGAN and StyleGAN2
generator/discriminator pairs."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from torch import nn

from multigen.domain import DomainError

# what the data decides; a config's params may set everything else the network takes
FROM_DATA = {"in_channels", "resolution", "num_classes", "cond_dim"}


def build_square(cls: type[nn.Module], name: str, info: Mapping[str, Any], params: dict):
    """An image denoiser ``cls(in_channels, resolution, num_classes, cond_dim, **params)`` for
    the data's square images; unknown params are refused with the allowed ones."""
    c, h, w = info["shape"]
    if h != w:
        raise DomainError(f"{name}: expects square images, got {h}x{w}")
    known = set(inspect.signature(cls).parameters) - FROM_DATA
    unknown = sorted(set(params) - known)
    if unknown:
        raise DomainError(f"{name}: unknown params {unknown}; allowed: {sorted(known)}")
    classes, cond_dim = int(info.get("num_classes", 0)), int(info.get("cond_dim", 0))
    return cls(c, h, num_classes=classes, cond_dim=cond_dim, **params)

"""Image networks: the U-Net and DiT denoisers and the DCGAN and StyleGAN2
generator/discriminator pairs."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from torch import nn

from multigen.domain import DomainError

# what the data decides (a network takes those of these it names); params set the rest
FROM_DATA = ("num_classes", "cond_dim")


def build_square(cls: type[nn.Module], name: str, info: Mapping[str, Any], params: dict):
    """``cls(channels, size, [num_classes], [cond_dim], **params)`` for the data's square
    images: a denoiser, generator or discriminator whose first two parameters are the channel
    count and the side; unknown params are refused with the allowed ones."""
    c, h, w = info["shape"]
    if h != w:
        raise DomainError(f"{name}: expects square images, got {h}x{w}")
    takes = list(inspect.signature(cls).parameters)
    from_data = [k for k in FROM_DATA if k in takes]
    known = set(takes[2:]) - set(from_data) - {"text"}
    unknown = sorted(set(params) - known)
    if unknown:
        raise DomainError(f"{name}: unknown params {unknown}; allowed: {sorted(known)}")
    if "text" in takes:  # captions: the tokenizer the data description stores
        params = {**params, "text": info.get("text")}
    elif info.get("text"):
        raise DomainError(
            f"{name} does not read captions; a run on captioned data needs a network that "
            "does (unet or dit)"
        )
    return cls(c, h, **{k: int(info.get(k, 0)) for k in from_data}, **params)

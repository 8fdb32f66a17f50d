"""A source-conditioned denoiser in the spirit of SR3 (Saharia et al. 2021) and Palette
(Saharia et al. 2022): the ADM-style U-Net of :mod:`.unet` whose input is the noisy target
concatenated with the source image (bicubic-upsampled to the target size) and a
"source present" channel.

The source arrives as the engine's condition (``cond``, ``[B, C, h, w]`` in [-1, 1]), so the
engine's diffusion, flow and EDM methods, its samplers and classifier-free guidance apply
unchanged: a sample whose condition was dropped (``method.cond_drop``: the engine's null
condition is NaN for float conditions) or given none sees a zero source and a zero flag.
"""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from multigen.domain import DomainError

from ..translation import source_shape, upsample_source
from .unet import UNet


class SourceConditionedUNet(nn.Module):
    """``forward(x, c_noise, cond=None, mask=None)``: denoise ``x`` given the source ``cond``."""

    def __init__(self, in_channels: int, resolution: int, source_channels: int, **params: Any):
        super().__init__()
        self.resolution, self.source_channels = resolution, source_channels
        self.unet = UNet(
            in_channels + source_channels + 1, resolution, out_channels=in_channels, **params
        )

    def forward(
        self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        b = x.shape[0]
        if cond is None:
            src = x.new_zeros(b, self.source_channels, self.resolution, self.resolution)
            present = x.new_zeros(b)
        else:
            present = (~torch.isnan(cond).flatten(1).any(1)).to(x.dtype)
            src = upsample_source(torch.nan_to_num(cond.float()), self.resolution).to(x.dtype)
            src = src * present[:, None, None, None]
        flag = present[:, None, None, None].expand(b, 1, *x.shape[-2:])
        return self.unet(torch.cat([x, src, flag], dim=1), c_noise)


def build_sr3_unet(info: Mapping[str, Any], **params: Any) -> SourceConditionedUNet:
    """Builder for ``model: {name: sr3_unet, params: {...}}`` (the U-Net's params)."""
    known = set(inspect.signature(UNet).parameters) - {
        "in_channels", "resolution", "num_classes", "cond_dim", "out_channels",
    }  # fmt: skip
    unknown = sorted(set(params) - known)
    if unknown:
        raise DomainError(f"sr3_unet: unknown params {unknown}; allowed: {sorted(known)}")
    src = source_shape(info)
    if src is None:
        raise DomainError(
            "sr3_unet needs paired data (data.name digits_sr or digits_edges, "
            "data.conditional: true)"
        )
    c, h, w = info["shape"]
    if h != w:
        raise DomainError(f"sr3_unet: expects square images, got {h}x{w}")
    return SourceConditionedUNet(c, h, src[0], **params)

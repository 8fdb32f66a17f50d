"""pix2pix (Isola et al. 2017): a U-Net generator and a PatchGAN discriminator, both
conditioned on the source image (``cond``, ``[B, C, h, w]`` in [-1, 1], bicubic-upsampled
to the target size first).

Generator: encoder of 4x4 stride-2 convolutions (LeakyReLU 0.2, batch norm except on the
first and innermost layers) down to 1x1 (or ``depth`` levels), decoder of 4x4 stride-2
transposed convolutions (ReLU, batch norm, dropout 0.5 on the ``dropout_layers`` innermost
ones) each fed the mirrored encoder features, tanh output. As in the paper there is no
latent: its only noise is dropout during training (``latent_dim`` 0), so a trained
generator is deterministic at sampling (eval mode: dropout off, batch-norm running stats).

Discriminator: the source and the (real or generated) target concatenated, 4x4 stride-2
convolutions, then two stride-1 ones ending in one logit per patch (``n_layers`` 1: a 16x16
receptive field; the paper's 70x70 is ``n_layers`` 3). With ``conditional`` false it judges
the image alone, as CycleGAN's discriminators do (Zhu et al. 2017), and takes no source.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor, nn

from multigen.domain import DomainError
from multigen.nn import Generator

from ..translation import source_shape, upsample_source


def _source(cond: Tensor | None, size: int, who: str) -> Tensor:
    if cond is None or cond.ndim != 4:
        raise DomainError(
            f"{who} translates a source image: it needs the source as the condition "
            "(paired data: data.name digits_sr or digits_edges, data.conditional: true)"
        )
    return upsample_source(torch.nan_to_num(cond.float()), size)


def _paired_shapes(info: Mapping[str, Any], who: str) -> tuple[int, int, int]:
    c, h, w = info["shape"]
    src = source_shape(info)
    if src is None:
        raise DomainError(
            f"{who} needs paired data (data.name digits_sr or digits_edges) or unpaired data "
            "(digits_thin_bold, unpaired_folder), with data.conditional: true"
        )
    if h != w or h & (h - 1):
        raise DomainError(f"{who}: expects square images with a power-of-two side, got {h}x{w}")
    return c, h, src[0]


class Pix2PixGenerator(Generator):
    """``forward(z, cond) -> x``; ``z`` is unused (``latent_dim`` 0), ``cond`` the source."""

    latent_dim = 0

    def __init__(
        self,
        out_channels: int,
        resolution: int,
        source_channels: int,
        channels: int = 32,
        max_mult: int = 8,
        depth: int | None = None,
        dropout: float = 0.5,
        dropout_layers: int = 3,
    ):
        super().__init__()
        levels = int(math.log2(resolution))
        depth = levels if depth is None else depth
        if not 1 <= depth <= levels:
            raise DomainError(f"pix2pix_generator: depth must be 1..{levels}, got {depth}")
        self.resolution = resolution
        widths = [channels * min(2**i, max_mult) for i in range(depth)]
        self.down = nn.ModuleList()
        cin = source_channels
        for i, w in enumerate(widths):
            layers: list[nn.Module] = [] if i == 0 else [nn.LeakyReLU(0.2)]
            layers.append(nn.Conv2d(cin, w, 4, stride=2, padding=1, bias=i in (0, depth - 1)))
            if 0 < i < depth - 1:
                layers.append(nn.BatchNorm2d(w))
            self.down.append(nn.Sequential(*layers))
            cin = w
        self.up = nn.ModuleList()
        for i in reversed(range(depth)):
            innermost = i == depth - 1
            cin = widths[i] if innermost else 2 * widths[i]
            if i == 0:
                layers = [nn.ReLU(), nn.ConvTranspose2d(cin, out_channels, 4, 2, 1), nn.Tanh()]
            else:
                layers = [
                    nn.ReLU(),
                    nn.ConvTranspose2d(cin, widths[i - 1], 4, 2, 1, bias=False),
                    nn.BatchNorm2d(widths[i - 1]),
                ]
                if depth - 1 - i < dropout_layers and dropout > 0:
                    layers.append(nn.Dropout(dropout))
            self.up.append(nn.Sequential(*layers))

    def forward(self, z: Tensor | None, cond: Tensor | None = None, mask=None) -> Tensor:
        h = _source(cond, self.resolution, "pix2pix_generator")
        skips = []
        for block in self.down:
            h = block(h)
            skips.append(h)
        skips.pop()  # the innermost features go straight up
        for j, block in enumerate(self.up):
            if j:
                h = torch.cat([h, skips.pop()], dim=1)
            h = block(h)
        return h


class PatchDiscriminator(nn.Module):
    """``forward(x, cond) -> [B, P]`` logits, one per patch (``cond`` unused when
    ``conditional`` is false)."""

    def __init__(
        self,
        in_channels: int,
        resolution: int,
        source_channels: int,
        channels: int = 32,
        n_layers: int = 1,
        max_mult: int = 8,
        conditional: bool = True,
    ):
        super().__init__()
        if n_layers < 1 or resolution // 2**n_layers < 2:
            raise DomainError(
                f"patchgan_discriminator: n_layers {n_layers} leaves no patches of a "
                f"{resolution}x{resolution} image"
            )
        self.resolution = resolution
        self.conditional = bool(conditional)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels + (source_channels if conditional else 0), channels, 4, 2, 1),
            nn.LeakyReLU(0.2),
        ]
        width = channels
        for n in range(1, n_layers + 1):
            stride = 2 if n < n_layers else 1
            out = channels * min(2**n, max_mult)
            layers += [
                nn.Conv2d(width, out, 4, stride, 1, bias=False),
                nn.BatchNorm2d(out),
                nn.LeakyReLU(0.2),
            ]
            width = out
        layers.append(nn.Conv2d(width, 1, 4, 1, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, x: Tensor, cond: Tensor | None = None, mask=None) -> Tensor:
        if not self.conditional:  # the image alone (CycleGAN)
            return self.net(x).flatten(1)
        src = _source(cond, self.resolution, "patchgan_discriminator").to(x.dtype)
        return self.net(torch.cat([src, x], dim=1)).flatten(1)


def _build(cls, name: str, info: Mapping[str, Any], params: dict, skip: set[str]):
    import inspect

    known = set(inspect.signature(cls).parameters) - skip
    unknown = sorted(set(params) - known)
    if unknown:
        raise DomainError(f"{name}: unknown params {unknown}; allowed: {sorted(known)}")
    c, size, src_c = _paired_shapes(info, name)
    return cls(c, size, src_c, **params)


def build_generator(info: Mapping[str, Any], **params) -> Pix2PixGenerator:
    skip = {"out_channels", "resolution", "source_channels"}
    return _build(Pix2PixGenerator, "pix2pix_generator", info, params, skip)


def build_discriminator(info: Mapping[str, Any], **params) -> PatchDiscriminator:
    skip = {"in_channels", "resolution", "source_channels"}
    return _build(PatchDiscriminator, "patchgan_discriminator", info, params, skip)

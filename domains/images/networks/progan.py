"""Progressive growing of GANs (Karras et al. 2018): generator and discriminator that start at
4×4 and add a resolution at a time, each new one faded in linearly.

Both networks hold their growth state as a ``progress`` buffer in [0, 1] (1 = fully grown,
the value a freshly built or a finished network has); the GAN method sets it every step from
``method.grow_until`` (the fraction of training over which the resolution grows). The
schedule splits that span into 1 + 2·(levels) equal segments: 4×4 alone, then for each
higher resolution a fade-in (α from 0 to 1) and a stable segment. The generator always
returns full-size images (the current resolution nearest-upsampled) and the discriminator
box-filters what it is given down to the current resolution, so the engine, the data and
the augmentations never see the growth. ProGAN's other pieces: pixel-wise feature
normalisation in the generator, minibatch standard deviation in the discriminator and the
equalised learning rate (shared with :mod:`.stylegan2`). Class-conditional like the
DCGAN: an embedding concatenated to z, a projection discriminator.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from multigen.domain import DomainError
from multigen.nn import ConditionEmbedding, Generator

from . import build_square
from .stylegan2 import DiscriminatorEpilogue, EqualConv2d, EqualLinear, _channels


def _levels(size: int) -> int:
    k = math.log2(size) if size >= 8 else 0
    if k < 3 or k != int(k):
        raise DomainError(f"progan: image size must be a power of two >= 8, got {size}")
    return int(k) - 2  # resolutions added after 4x4


def growth(progress: float, levels: int) -> tuple[int, float]:
    """(level, α) at ``progress`` in [0, 1]: level 0 is 4×4; α < 1 while level fades in."""
    pos = min(max(progress, 0.0), 1.0) * (1 + 2 * levels)
    seg = min(int(pos), 2 * levels)
    if seg == 0:
        return 0, 1.0
    level = (seg + 1) // 2
    return (level, pos - seg) if seg % 2 else (level, 1.0)


def pixel_norm(x: Tensor, eps: float = 1e-8) -> Tensor:
    return x * (x.square().mean(1, keepdim=True) + eps).rsqrt()


class Growing(nn.Module):
    """The growth state both networks share."""

    levels: int

    def _init_growth(self, levels: int) -> None:
        self.levels = levels
        self.register_buffer("progress", torch.tensor(1.0))

    def set_progress(self, fraction: float) -> None:
        self.progress.fill_(float(fraction))

    @property
    def stage(self) -> tuple[int, float]:
        return growth(float(self.progress), self.levels)


class ProGANGenerator(Generator, Growing):
    def __init__(
        self,
        out_channels: int,
        size: int,
        latent_dim: int = 128,
        channel_base: int = 1024,
        channel_max: int = 128,
        num_classes: int = 0,
        cond_dim: int = 0,
        cond_embed_dim: int = 32,
    ):
        super().__init__()
        levels = _levels(size)
        self._init_growth(levels)
        self.size, self.latent_dim = size, latent_dim
        self.cond_emb = ConditionEmbedding(cond_embed_dim, num_classes, cond_dim)
        ch = [_channels(4 * 2**i, channel_base, channel_max) for i in range(levels + 1)]
        inp = latent_dim + (cond_embed_dim if self.cond_emb.enabled else 0)
        self.fc = EqualLinear(inp, ch[0] * 16, activation=True)
        self.conv0 = EqualConv2d(ch[0], ch[0], 3)
        self.blocks = nn.ModuleList(
            nn.ModuleList([EqualConv2d(ch[i - 1], ch[i], 3), EqualConv2d(ch[i], ch[i], 3)])
            for i in range(1, levels + 1)
        )
        self.torgb = nn.ModuleList(
            EqualConv2d(c, out_channels, 1, activation=False) for c in ch
        )  # fmt: skip
        self.channels = ch

    def forward(self, z: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        z = pixel_norm(z.float())
        if self.cond_emb.enabled:
            y = self.cond_emb(cond, z.shape[0], z.device).float()
            z = torch.cat([z, pixel_norm(y)], dim=1)
        h = pixel_norm(self.fc(z).reshape(z.shape[0], self.channels[0], 4, 4))
        h = pixel_norm(self.conv0(h))
        level, alpha = self.stage
        prev = h
        for i in range(1, level + 1):
            prev = h
            h = F.interpolate(h, scale_factor=2, mode="nearest")
            for conv in self.blocks[i - 1]:
                h = pixel_norm(conv(h))
        img = self.torgb[level](h)
        if alpha < 1 and level > 0:
            low = F.interpolate(self.torgb[level - 1](prev), scale_factor=2, mode="nearest")
            img = low.lerp(img, alpha)
        scale = self.size // img.shape[-1]
        return F.interpolate(img, scale_factor=scale, mode="nearest") if scale > 1 else img


class ProGANDiscriminator(Growing):
    def __init__(
        self,
        in_channels: int,
        size: int,
        channel_base: int = 1024,
        channel_max: int = 128,
        mbstd_group: int = 4,
        projection: bool = True,
        num_classes: int = 0,
    ):
        super().__init__()
        levels = _levels(size)
        self._init_growth(levels)
        self.size = size
        ch = [_channels(4 * 2**i, channel_base, channel_max) for i in range(levels + 1)]
        self.fromrgb = nn.ModuleList(EqualConv2d(in_channels, c, 1) for c in ch)
        # block i takes level i (4·2^i px, ch[i]) down to level i-1
        self.blocks = nn.ModuleList(
            nn.Sequential(
                EqualConv2d(ch[i], ch[i], 3), EqualConv2d(ch[i], ch[i - 1], 3), nn.AvgPool2d(2)
            )  # fmt: skip
            for i in range(1, levels + 1)
        )
        self.head = DiscriminatorEpilogue(ch[0], mbstd_group, num_classes if projection else 0)

    def forward(self, x: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        level, alpha = self.stage
        res = 4 * 2**level
        if x.shape[-1] != res:
            x = F.adaptive_avg_pool2d(x, res)
        h = self.fromrgb[level](x)
        if level > 0:
            h = self.blocks[level - 1](h)
            if alpha < 1:
                low = self.fromrgb[level - 1](F.avg_pool2d(x, 2))
                h = low.lerp(h, alpha)
            for i in range(level - 1, 0, -1):
                h = self.blocks[i - 1](h)
        return self.head(h, cond)


def build_generator(info: dict, **params) -> ProGANGenerator:
    return build_square(ProGANGenerator, "progan_generator", info, params)


def build_discriminator(info: dict, **params) -> ProGANDiscriminator:
    return build_square(ProGANDiscriminator, "progan_discriminator", info, params)

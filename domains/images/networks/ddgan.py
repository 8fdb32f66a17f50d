"""Denoising diffusion GAN networks for images (Xiao et al. 2022; the method is
multigen/adversarial/ddgan.py).

- ``ddgan_unet``: the U-Net denoiser (unet.py) as the generator G(x_t, t, z) -> x̂0, the
  latent z mapped by an MLP and added to the U-Net's time embedding (the paper adds its z
  embedding to the time one that modulates every residual block).
- ``ddgan_discriminator``: D(x_{t-1}, x_t, t): convolutions on the two images stacked along
  the channels; each down block adds a projection of the time embedding after its first
  convolution and keeps a residual path (the paper's DownConvBlock), then a linear logit with
  a class projection term (Miyato & Koyama 2018) for class-conditional runs.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from multigen.adversarial.ddgan import TIME_SCALE, DenoiserGenerator, PairDiscriminator
from multigen.adversarial.projection import add_class_projection
from multigen.nn import NoiseEmbedding

from . import build_square
from .dcgan import _stages
from .unet import UNet


class _DownBlock(nn.Module):
    """conv 3x3 + time projection, LeakyReLU, conv 4/2 down; residual avg-pool + 1x1 path,
    the sum scaled by 1/√2 so the activations keep their size through the blocks."""

    def __init__(self, cin: int, cout: int, emb_dim: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, cout)
        self.conv2 = nn.Conv2d(cout, cout, 4, stride=2, padding=1)
        self.skip = nn.Conv2d(cin, cout, 1, bias=False)

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = F.leaky_relu(self.conv1(F.leaky_relu(x, 0.2)) + self.emb(emb)[:, :, None, None], 0.2)
        h = self.conv2(h)
        return (h + self.skip(F.avg_pool2d(x, 2))) / math.sqrt(2)


class DDGANDiscriminator(PairDiscriminator):
    """``forward(x_prev, x_t, t, cond=None, mask=None) -> [B]`` logits (see the module
    docstring); sides 4·2^k (8, 16, 32...)."""

    def __init__(
        self,
        in_channels: int,
        size: int,
        channels: int = 64,
        max_channels: int = 256,
        t_dim: int = 64,
        projection: bool = True,
        num_classes: int = 0,
    ):
        super().__init__()
        k = _stages(size)
        self.t_emb = NoiseEmbedding(t_dim)
        emb_dim = self.t_emb.out_dim
        self.conv_in = nn.Conv2d(2 * in_channels, channels, 3, padding=1)
        widths = [min(max_channels, channels * 2 ** (i + 1)) for i in range(k)]
        blocks, cin = [], channels
        for w in widths:
            blocks.append(_DownBlock(cin, w, emb_dim))
            cin = w
        self.blocks = nn.ModuleList(blocks)
        self.feat_dim = cin * 16
        self.out = nn.Linear(self.feat_dim, 1)
        self.num_classes = num_classes if projection else 0
        self.embed = None
        if self.num_classes:
            self.embed = nn.Embedding(self.num_classes, self.feat_dim)
            nn.init.normal_(self.embed.weight, std=0.02)

    def forward(
        self,
        x_prev: Tensor,
        x_t: Tensor,
        t: Tensor,
        cond: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        b = x_prev.shape[0]
        t = t.reshape(-1).expand(b) if t.numel() == 1 else t.reshape(b)
        emb = F.silu(self.t_emb(TIME_SCALE * t))
        h = self.conv_in(torch.cat([x_prev, x_t.to(x_prev.dtype)], dim=1))
        for block in self.blocks:
            h = block(h, emb)
        h = F.leaky_relu(h, 0.2).flatten(1)
        return add_class_projection(self.out(h).squeeze(1), h, cond, self.embed)


def build_ddgan_unet(info: dict, latent_dim: int = 32, **params) -> DenoiserGenerator:
    """The U-Net (``unet``'s params) with a latent of ``latent_dim`` as a DDGAN generator."""
    return DenoiserGenerator(build_square(UNet, "ddgan_unet", info, params), latent_dim)


def build_ddgan_discriminator(info: dict, **params) -> DDGANDiscriminator:
    return build_square(DDGANDiscriminator, "ddgan_discriminator", info, params)


# what the method lists when a config names a network it cannot use
build_ddgan_unet.ddgan_class = DenoiserGenerator
build_ddgan_discriminator.ddgan_class = DDGANDiscriminator

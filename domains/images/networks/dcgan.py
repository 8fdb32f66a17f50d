"""DCGAN-style generator and discriminator (Radford et al. 2016) for square images whose side
is 4·2^k (16, 32, 64...).

Class conditioning: the generator concatenates a learned class embedding to z; the
discriminator adds a projection term <embed(y), φ(x)> (Miyato & Koyama 2018). Label -1 means
"no class" and contributes nothing.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from multigen.adversarial.projection import add_class_projection
from multigen.domain import DomainError
from multigen.nn import ConditionEmbedding, Generator

from . import build_square


def _stages(size: int) -> int:
    k = math.log2(size / 4) if size >= 8 else -1
    if k < 1 or k != int(k):
        raise DomainError(f"dcgan: image size must be 4·2^k (8, 16, 32, 64...), got {size}")
    return int(k)


def _gen_norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(8, channels), channels)
    if kind == "none":
        return nn.Identity()
    raise DomainError(f"dcgan: norm must be batch, group or none, got {kind!r}")


class DCGANGenerator(Generator):
    """z [B, latent_dim] (+ class) -> linear to 4x4 -> (ConvT 4/2, norm, ReLU)^k -> conv -> tanh."""

    def __init__(
        self,
        out_channels: int,
        size: int,
        latent_dim: int = 64,
        channels: int = 64,
        max_channels: int = 256,
        norm: str = "batch",
        num_classes: int = 0,
        cond_dim: int = 0,
        cond_embed_dim: int = 32,
    ):
        super().__init__()
        k = _stages(size)
        self.latent_dim = latent_dim
        self.cond_emb = ConditionEmbedding(cond_embed_dim, num_classes, cond_dim)
        in_dim = latent_dim + (cond_embed_dim if self.cond_emb.enabled else 0)
        widths = [min(max_channels, channels * 2 ** (k - i)) for i in range(k + 1)]
        self.widths = widths
        self.fc = nn.Linear(in_dim, widths[0] * 16)
        self.norm0 = _gen_norm(norm, widths[0])
        layers: list[nn.Module] = []
        for i in range(k):
            layers += [
                nn.ConvTranspose2d(widths[i], widths[i + 1], 4, stride=2, padding=1, bias=False),
                _gen_norm(norm, widths[i + 1]),
                nn.ReLU(inplace=True),
            ]
        self.body = nn.Sequential(*layers)
        self.to_image = nn.Conv2d(widths[-1], out_channels, 3, padding=1)

    def forward(self, z: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        if self.cond_emb.enabled:
            z = torch.cat([z, self.cond_emb(cond, z.shape[0], z.device).to(z.dtype)], dim=1)
        h = self.fc(z).reshape(z.shape[0], self.widths[0], 4, 4)
        h = torch.relu(self.norm0(h))
        return torch.tanh(self.to_image(self.body(h)))


class DCGANDiscriminator(nn.Module):
    """(conv 4/2, LeakyReLU 0.2)^k down to 4x4 -> linear logit (+ class projection).

    No batch norm: it would couple samples in a batch and fight R1 / gradient penalties.
    ``spectral_norm`` optionally bounds every layer's Lipschitz constant (SN-GAN).
    """

    def __init__(
        self,
        in_channels: int,
        size: int,
        channels: int = 64,
        max_channels: int = 256,
        spectral_norm: bool = False,
        projection: bool = True,
        num_classes: int = 0,
    ):
        super().__init__()
        k = _stages(size)
        widths = [min(max_channels, channels * 2**i) for i in range(k)]
        sn = nn.utils.parametrizations.spectral_norm if spectral_norm else (lambda m: m)
        layers: list[nn.Module] = []
        cin = in_channels
        for w in widths:
            layers += [sn(nn.Conv2d(cin, w, 4, stride=2, padding=1)), nn.LeakyReLU(0.2)]
            cin = w
        self.body = nn.Sequential(*layers)
        self.feat_dim = cin * 16
        self.out = sn(nn.Linear(self.feat_dim, 1))
        self.num_classes = num_classes if projection else 0
        self.embed = None
        if self.num_classes:
            self.embed = sn(nn.Embedding(self.num_classes, self.feat_dim))
            nn.init.normal_(self.embed.weight, std=0.02)

    def forward(self, x: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        h = self.body(x).flatten(1)
        return add_class_projection(self.out(h).squeeze(1), h, cond, self.embed)


def build_generator(info: dict, **params) -> DCGANGenerator:
    return build_square(DCGANGenerator, "dcgan_generator", info, params)


def build_discriminator(info: dict, **params) -> DCGANDiscriminator:
    return build_square(DCGANDiscriminator, "dcgan_discriminator", info, params)

"""WaveGAN (Donahue et al. 2019): transposed-conv generator and strided-conv discriminator
with phase shuffle, generalised to any clip length and optionally class-conditional.

Generator: latent (+ class embedding) -> dense -> [16d, L0] -> ``layers`` transposed convs
(kernel 25, stride 4, ReLU) -> tanh, cropped to T. Discriminator: ``layers`` convs (kernel
25, stride 4, LeakyReLU 0.2) with phase shuffle between them -> dense logit, plus a
projection term <embed(y), features> for class-conditional training (Miyato & Koyama 2018).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from multigen.nn import ConditionEmbedding, Generator

from ..scaling import scale_of


def phase_shuffle(x: Tensor, n: int, generator: torch.Generator | None = None) -> Tensor:
    """Shift each example in time by a random k in [-n, n] with reflection padding, so the
    discriminator cannot key on the transposed convs' periodic artefacts."""
    n = min(n, x.shape[-1] - 1)  # reflection needs n < length (very short clips)
    if n <= 0:
        return x
    shifts = torch.randint(-n, n + 1, (x.shape[0],), generator=generator, device="cpu")
    padded = F.pad(x, (n, n), mode="reflect")
    t = x.shape[-1]
    out = torch.empty_like(padded[..., :t])  # padded's dtype: autocast may run pad in fp32
    for k in shifts.unique().tolist():
        rows = (shifts == k).nonzero().squeeze(1).to(x.device)
        # output[t] = input[t - k]: start reading k samples before position n
        out[rows] = padded[rows, :, n - k : n - k + t]
    return out


class PhaseShuffle(nn.Module):
    def __init__(self, n: int = 2):
        super().__init__()
        self.n = n

    def forward(self, x: Tensor) -> Tensor:
        return phase_shuffle(x, self.n) if self.training else x


class WaveGANGenerator(Generator):
    def __init__(
        self,
        length: int,
        latent_dim: int = 100,
        width: int = 64,
        layers: int = 5,
        num_classes: int = 0,
        kernel: int = 25,
        out_scale: float = 1.0,
    ):
        super().__init__()
        self.latent_dim, self.length = latent_dim, length
        self.out_scale = out_scale  # tanh covers [-1, 1] in waveform units, not network units
        self.start = math.ceil(length / 4**layers)
        chans = [width * 2 ** (layers - 1 - i) for i in range(layers)] + [1]
        self.cond = ConditionEmbedding(latent_dim, num_classes=num_classes)
        self.dense = nn.Linear(latent_dim * (2 if num_classes else 1), chans[0] * self.start)
        pad = (kernel - 4 + 1) // 2  # with output_padding 1: out = 4 * in
        self.ups = nn.ModuleList(
            nn.ConvTranspose1d(chans[i], chans[i + 1], kernel, 4, pad, output_padding=1)
            for i in range(layers)
        )
        self.chans0 = chans[0]

    def forward(self, z: Tensor, cond: Tensor | None = None, mask: Any = None) -> Tensor:
        b = z.shape[0]
        if self.cond.enabled:
            z = torch.cat([z, self.cond(cond, b, z.device)], dim=1)
        h = F.relu(self.dense(z)).view(b, self.chans0, self.start)
        for i, up in enumerate(self.ups):
            h = up(h)
            h = torch.tanh(h) * self.out_scale if i == len(self.ups) - 1 else F.relu(h)
        return h[..., : self.length]


class WaveGANDiscriminator(nn.Module):
    def __init__(
        self,
        length: int,
        width: int = 64,
        layers: int = 5,
        num_classes: int = 0,
        phase_shuffle: int = 2,
        kernel: int = 25,
        in_channels: int = 1,  # 3 for DDGAN's pair (x_{t-1}, x_t, t)
    ):
        super().__init__()
        chans = [in_channels] + [width * 2**i for i in range(layers)]
        self.convs = nn.ModuleList(
            nn.Conv1d(chans[i], chans[i + 1], kernel, 4, kernel // 2) for i in range(layers)
        )
        self.shuffle = PhaseShuffle(phase_shuffle)
        self.out = nn.Linear(chans[-1], 1)
        self.cond = ConditionEmbedding(chans[-1], num_classes=num_classes)

    def forward(self, x: Tensor, cond: Tensor | None = None, mask: Any = None) -> Tensor:
        h = x
        for i, conv in enumerate(self.convs):
            h = F.leaky_relu(conv(h), 0.2)
            if i < len(self.convs) - 1:
                h = self.shuffle(h)
        # global average over time keeps the head valid for any clip length
        feat = h.mean(dim=-1)
        logit = self.out(feat).squeeze(1)
        if self.cond.enabled:
            logit = logit + (self.cond(cond, x.shape[0], x.device) * feat).sum(dim=1)
        return logit


def build_wavegan_generator(info: dict[str, Any], **params: Any) -> WaveGANGenerator:
    params.setdefault("num_classes", int(info.get("num_classes", 0)))
    params.setdefault("out_scale", 1.0 / scale_of(info))
    return WaveGANGenerator(int(info["shape"][-1]), **params)


def build_wavegan_discriminator(info: dict[str, Any], **params: Any) -> WaveGANDiscriminator:
    params.setdefault("num_classes", int(info.get("num_classes", 0)))
    channels = int(info["shape"][0])
    return WaveGANDiscriminator(int(info["shape"][-1]), in_channels=channels, **params)

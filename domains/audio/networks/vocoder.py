"""A HiFi-GAN generator (Kong et al. 2020) sized for CPU: log-mel -> waveform.

``conv_pre`` lifts the ``[B, n_mels, frames]`` log-mel to ``channels`` features; each stage
then upsamples by its rate with a transposed convolution (kernel ``2 * rate``, so the output
is exactly ``rate`` times longer) and halves the channels, followed by a multi-receptive-field
fusion (MRF): the average of residual blocks with different kernels and dilations, so each
stage sees short and long context at once. ``conv_post`` + tanh give the waveform in [-1, 1].
The product of the rates must be the mel hop: ``frames`` mel frames give ``frames * hop``
samples, aligned with :mod:`domains.audio.melspec`'s framing.

Sizes (defaults, 8 kHz / hop 64): channels 128 -> 64 -> 32 -> 16 over rates (4, 4, 4), MRF
kernels (3, 7) with dilations (1, 3, 5) — 0.47 M parameters, against HiFi-GAN V1's 14 M
(512 channels, rates 8-8-2-2 for hop 256 at 22 kHz).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import weight_norm

from multigen.domain import DomainError
from multigen.nn import Generator

LRELU = 0.1  # HiFi-GAN's slope throughout


def _init(m: nn.Module) -> None:
    # HiFi-GAN initialises every conv from N(0, 0.01): small residual branches at the start
    if isinstance(m, nn.Conv1d | nn.ConvTranspose1d):
        m.weight.data.normal_(0.0, 0.01)


class ResBlock(nn.Module):
    """HiFi-GAN's ResBlock1: per dilation d, x + conv_1(lrelu(conv_d(lrelu(x))))."""

    def __init__(self, channels: int, kernel: int, dilations: Sequence[int]):
        super().__init__()
        self.dilated = nn.ModuleList(
            weight_norm(
                nn.Conv1d(channels, channels, kernel, dilation=d, padding=d * (kernel - 1) // 2)
            )
            for d in dilations
        )
        self.plain = nn.ModuleList(
            weight_norm(nn.Conv1d(channels, channels, kernel, padding=(kernel - 1) // 2))
            for _ in dilations
        )
        self.apply(_init)

    def forward(self, x: Tensor) -> Tensor:
        for c1, c2 in zip(self.dilated, self.plain, strict=True):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, LRELU)), LRELU))
        return x


class HiFiGANGenerator(Generator):
    """``forward(z, cond) -> [B, 1, frames * hop]``; ``z`` unused (``latent_dim`` 0: the
    mel determines the waveform, as in HiFi-GAN), ``cond`` the log-mel ``[B, n_mels, frames]``."""

    latent_dim = 0

    def __init__(
        self,
        n_mels: int,
        hop: int,
        channels: int = 128,
        upsample_rates: Sequence[int] = (4, 4, 4),
        resblock_kernels: Sequence[int] = (3, 7),
        resblock_dilations: Sequence[int] = (1, 3, 5),
        log_floor: float = 1e-5,
    ):
        super().__init__()
        rates = [int(r) for r in upsample_rates]
        if not rates or any(r < 1 for r in rates) or math.prod(rates) != hop:
            raise DomainError(
                f"hifigan_vocoder: the product of upsample_rates {rates} must be the mel hop "
                f"{hop} (one mel frame becomes hop samples)"
            )
        if channels // 2 ** len(rates) < 1:
            raise DomainError(
                f"hifigan_vocoder: {channels} channels cannot halve {len(rates)} times"
            )
        self.n_mels, self.hop = n_mels, hop
        # log-mels span [log(log_floor), ~0] (about [-11.5, 0]); centre and scale that range to
        # about [-2, 2] so conv_pre starts in the range its default init expects
        self.mel_shift = math.log(log_floor) / 2
        self.mel_scale = abs(math.log(log_floor)) / 4
        self.conv_pre = weight_norm(nn.Conv1d(n_mels, channels, 7, padding=3))
        self.ups = nn.ModuleList()
        self.mrfs = nn.ModuleList()
        ch = channels
        for r in rates:
            k = 2 * r  # k - r even -> output length exactly r * input
            self.ups.append(
                weight_norm(nn.ConvTranspose1d(ch, ch // 2, k, r, padding=(k - r) // 2))
            )
            ch //= 2
            self.mrfs.append(
                nn.ModuleList(ResBlock(ch, k_, resblock_dilations) for k_ in resblock_kernels)
            )
        self.conv_post = weight_norm(nn.Conv1d(ch, 1, 7, padding=3))
        self.ups.apply(_init)
        self.conv_post.apply(_init)

    def forward(self, z: Tensor | None, cond: Tensor | None = None, mask: Any = None) -> Tensor:
        if cond is None or cond.ndim != 3 or cond.shape[1] != self.n_mels:
            got = None if cond is None else list(cond.shape)
            raise DomainError(
                f"hifigan_vocoder: needs a log-mel condition [B, {self.n_mels}, frames], got {got}"
                " (train it on mel pairs: data.params.mel and data.conditional: true)"
            )
        mel = (cond.to(self.conv_pre.weight.dtype) - self.mel_shift) / self.mel_scale
        h = self.conv_pre(mel)
        for up, mrf in zip(self.ups, self.mrfs, strict=True):
            h = up(F.leaky_relu(h, LRELU))
            h = sum(block(h) for block in mrf) / len(mrf)
        # HiFi-GAN's last activation uses the default slope 0.01
        return torch.tanh(self.conv_post(F.leaky_relu(h, 0.01)))


def build_hifigan_vocoder(info: Mapping[str, Any], **params: Any) -> HiFiGANGenerator:
    mel = info.get("mel")
    if not isinstance(mel, Mapping):
        raise DomainError(
            "hifigan_vocoder needs mel/waveform pairs: set data.params.mel (e.g. {n_fft: 256, "
            "hop: 64, n_mels: 64}) and data.conditional: true"
        )
    if info.get("envelope"):
        raise DomainError(
            "hifigan_vocoder makes the waveform itself: data.params.envelope (states divided by "
            "the mel's envelope) is for diffusion vocoders (diffwave_vocoder); remove it"
        )
    for key in ("upsample_rates", "resblock_kernels", "resblock_dilations"):
        if key in params:
            params[key] = tuple(params[key])
    params.setdefault("log_floor", float(mel.get("log_floor", 1e-5)))
    return HiFiGANGenerator(int(mel["n_mels"]), int(mel["hop"]), **params)

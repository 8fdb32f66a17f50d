"""DiffWave as a mel vocoder (Kong et al. 2021, the "vocoder" model of sec. 3.2 / app. A):
the waveform denoiser of :mod:`.diffwave` conditioned on a log-mel spectrogram.

The log-mel ``[B, n_mels, frames]`` is stretched to the sample rate by transposed 2-D
convolutions over (mel band, frame) — one per upsampling stage, kernel ``3 x 2r``, stride
``1 x r``, leaky ReLU 0.4, the product of the rates being the mel hop — so every band keeps
its own row, and each residual layer adds its own 1x1 projection of the ``n_mels`` rows to
its dilated convolution's output (folded into the same GEMM: :class:`.diffwave.ResidualStack`
with ``local``). The noise level enters as in the unconditional model; there are no classes
(the mel carries what is heard).

The condition arrives as the engine's ``cond`` (data.params.mel pairs with
data.conditional: true, :mod:`domains.audio.vocoder`), so the engine's diffusion methods
(EDM, DDPM…) train and sample it unchanged; a row whose condition was dropped
(``method.cond_drop``: NaN) sees silence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from multigen.domain import DomainError

from .diffwave import DiffWave

LRELU = 0.4  # DiffWave's conditioner slope


def default_rates(hop: int) -> tuple[int, int]:
    """Two stages whose product is ``hop``, as equal as the divisors allow (64 -> 8 x 8,
    256 -> 16 x 16, 100 -> 10 x 10, 128 -> 16 x 8)."""
    a = next(d for d in range(math.isqrt(hop), 0, -1) if hop % d == 0)
    return hop // a, a


class MelUpsampler(nn.Module):
    """``[B, n_mels, frames] -> [B, n_mels, frames * prod(rates)]``. Each stage's kernel spans
    ``2r`` output samples (centred on its frame), so neighbouring frames cross-fade.

    Initialised as linear interpolation along time within each band (a triangular kernel,
    whose overlapping copies sum to 1), so the condition reaches the residual layers at the
    mel's own scale from the first step. PyTorch's default init (DiffWave's is similar)
    shrinks it about 5x per stage: measured, the 8 x 8 upsampler's output then had std 0.002
    for a unit-std mel, the network learned to ignore it (denoising error identical with the
    right and a wrong mel after 400 steps) and vocoded clips scored chance accuracy."""

    def __init__(self, rates: Sequence[int]):
        super().__init__()
        self.stages = nn.ModuleList(
            nn.ConvTranspose2d(1, 1, (3, 2 * r), stride=(1, r), padding=(1, r // 2)) for r in rates
        )
        self.rates = [int(r) for r in rates]
        with torch.no_grad():
            for stage, r in zip(self.stages, self.rates, strict=True):
                k = torch.arange(2 * r, dtype=torch.float32)
                stage.weight.zero_()  # the band's own row only; neighbours start at 0
                stage.weight[0, 0, 1] = (1 - (k - (r - 0.5)).abs() / r).clamp_min(0)
                stage.bias.zero_()

    def forward(self, mel: Tensor) -> Tensor:
        h = mel.unsqueeze(1)
        for stage, r in zip(self.stages, self.rates, strict=True):
            n = h.shape[-1] * r
            h = F.leaky_relu(stage(h)[..., :n], LRELU)  # odd r: one spare sample at the end
        return h.squeeze(1)


class DiffWaveVocoder(DiffWave):
    """``forward(x [B, 1, T], c_noise [B], cond [B, n_mels, T // hop]) -> [B, 1, T]``."""

    def __init__(
        self,
        n_mels: int,
        hop: int,
        upsample_rates: Sequence[int] | None = None,
        log_floor: float = 1e-5,
        residual_layers: int = 12,
        residual_channels: int = 48,
        dilation_cycle: int = 6,
        embed_dim: int = 128,
        bf16: bool | None = None,
    ):
        rates = tuple(int(r) for r in (upsample_rates or default_rates(hop)))
        if not rates or any(r < 1 for r in rates) or math.prod(rates) != hop:
            raise DomainError(
                f"diffwave_vocoder: the product of upsample_rates {list(rates)} must be the mel "
                f"hop {hop} (one mel frame becomes hop samples)"
            )
        super().__init__(
            residual_layers, residual_channels, dilation_cycle, embed_dim, 0, bf16, n_mels
        )
        self.n_mels, self.hop = n_mels, hop
        # log-mels span [log(log_floor), ~0]: centre and scale that range to about [-2, 2]
        # (as the HiFi-GAN vocoder does) so the condition starts at the scale its init expects
        self.silence = math.log(log_floor)
        self.mel_shift = self.silence / 2
        self.mel_scale = abs(self.silence) / 4
        self.upsampler = MelUpsampler(rates)

    def forward(self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None, mask: Any = None):
        t = x.shape[-1]
        if cond is None or cond.ndim != 3 or cond.shape[1] != self.n_mels:
            got = None if cond is None else list(cond.shape)
            raise DomainError(
                f"diffwave_vocoder: needs a log-mel condition [B, {self.n_mels}, frames], got "
                f"{got} (train it on mel pairs: data.params.mel and data.conditional: true)"
            )
        if cond.shape[-1] * self.hop != t:
            raise DomainError(
                f"diffwave_vocoder: {cond.shape[-1]} mel frames make {cond.shape[-1] * self.hop} "
                f"samples (hop {self.hop}), the state has {t}"
            )
        mel = torch.nan_to_num(cond.float(), nan=self.silence)  # a dropped condition: silence
        local = self.upsampler((mel - self.mel_shift) / self.mel_scale).transpose(1, 2)
        emb = F.silu(self._noise(x, c_noise))
        return self.trunk(x, emb, local)


def build_diffwave_vocoder(info: Mapping[str, Any], **params: Any) -> DiffWaveVocoder:
    mel = info.get("mel")
    if not isinstance(mel, Mapping):
        raise DomainError(
            "diffwave_vocoder needs mel/waveform pairs: set data.params.mel (e.g. {n_fft: 256, "
            "hop: 64, n_mels: 64}) and data.conditional: true"
        )
    if list(info["shape"])[:1] != [1]:
        raise DomainError(f"diffwave_vocoder expects mono state [1, T], got {info['shape']}")
    params.setdefault("log_floor", float(mel.get("log_floor", 1e-5)))
    return DiffWaveVocoder(int(mel["n_mels"]), int(mel["hop"]), **params)

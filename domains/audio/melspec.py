"""The one log-mel definition shared by the audio codec (latent/mel diffusion) and the vocoder.

A vocoder only inverts the spectrogram it was trained on, so every piece of code that makes
or consumes log-mels for resynthesis goes through :class:`MelSettings` here, and a run
records ``settings.to_dict()`` in its info so another run can check it with
:meth:`MelSettings.check_same`.

Definition (HiFi-GAN's, Kong et al. 2020): magnitude STFT with a periodic Hann window of
``n_fft``, hop ``hop``, the signal reflect-padded by ``(n_fft - hop) / 2`` on each side and
no centring — so a clip of ``T`` samples gives exactly ``T // hop`` frames and frame ``k``
is centred on samples ``[k*hop, (k+1)*hop)`` — a Slaney-normalised mel filterbank over
``[fmin, fmax]``, then ``log(max(mel, log_floor))``. The values are *not* otherwise
normalised: a consumer that wants unit scale (a diffusion codec) scales them itself.

API (kept stable)::

    s = MelSettings(sample_rate=8000, n_fft=256, hop=64, n_mels=64, fmin=0.0, fmax=4000.0)
    mel = s.logmel(waves)             # waves [B, T] -> [B, n_mels, T // hop]
    mel = wave_to_logmel(waves, s)    # the same, as a function
    s.check_same(other, "vocoder run X", "latent run Y")  # DomainError naming the fields

The inverse (log-mel -> waveform) is a trained vocoder run:
``domains.audio.vocoder.load_vocoder(run_dir, device)`` returns an object with ``.settings``
(a MelSettings) that is called as ``vocoder(mel [B, n_mels, frames]) -> waves [B, frames*hop]``.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, fields
from typing import Any

import torch

from multigen.domain import DomainError


@dataclass(frozen=True)
class MelSettings:
    sample_rate: int
    n_fft: int
    hop: int
    n_mels: int
    fmin: float = 0.0
    fmax: float | None = None  # None = Nyquist
    log_floor: float = 1e-5

    def __post_init__(self) -> None:
        if self.hop <= 0 or self.n_fft < self.hop:
            raise DomainError(
                f"mel settings: need 0 < hop <= n_fft (hop {self.hop}, n_fft {self.n_fft})"
            )
        top = self.sample_rate / 2
        if not 0 <= self.fmin < (self.fmax if self.fmax is not None else top) <= top:
            raise DomainError(
                f"mel settings: need 0 <= fmin < fmax <= sample_rate/2 = {top:g} "
                f"(fmin {self.fmin}, fmax {self.fmax})"
            )
        if self.n_mels < 1 or self.log_floor <= 0:
            raise DomainError("mel settings: n_mels must be >= 1 and log_floor > 0")

    @property
    def f_max(self) -> float:
        return float(self.fmax) if self.fmax is not None else self.sample_rate / 2

    def frames(self, length: int) -> int:
        return length // self.hop

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> MelSettings:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise DomainError(f"mel settings: unknown fields {sorted(unknown)}")
        return cls(**d)

    def differences(self, other: MelSettings) -> list[str]:
        return [
            f"{f.name} {getattr(self, f.name)} vs {getattr(other, f.name)}"
            for f in fields(self)
            if getattr(self, f.name) != getattr(other, f.name)
        ]

    def check_same(
        self, other: MelSettings, mine: str = "this run", theirs: str = "the other"
    ) -> None:
        """DomainError naming every differing field (a vocoder trained on other mels would
        decode them into noise without complaint)."""
        diff = self.differences(other)
        if diff:
            raise DomainError(
                f"mel settings differ between {mine} and {theirs}: {', '.join(diff)}; "
                f"train the vocoder with the same mel settings (data.params of the vocoder run)"
            )

    def filterbank(self) -> torch.Tensor:
        """``[n_fft // 2 + 1, n_mels]`` Slaney mel filterbank (float32, CPU)."""
        return _filterbank(self.sample_rate, self.n_fft, self.n_mels, float(self.fmin), self.f_max)

    def logmel(self, waves: torch.Tensor) -> torch.Tensor:
        return wave_to_logmel(waves, self)

    def magnitude(self, waves: torch.Tensor) -> torch.Tensor:
        """``[B, n_fft // 2 + 1, T // hop]`` STFT magnitude on the same frame grid."""
        if waves.ndim == 3 and waves.shape[1] == 1:
            waves = waves[:, 0]
        if waves.ndim != 2:
            raise DomainError(f"log-mel: waves must be [B, T], got {list(waves.shape)}")
        if waves.shape[-1] < self.hop:
            raise DomainError(
                f"log-mel: clips of {waves.shape[-1]} samples are shorter than one hop ({self.hop})"
            )
        left = (self.n_fft - self.hop) // 2
        right = self.n_fft - self.hop - left
        x = waves.float()
        # reflect padding needs pad < length; very short clips fall back to zeros
        mode = "reflect" if x.shape[-1] > max(left, right) else "constant"
        x = torch.nn.functional.pad(x.unsqueeze(1), (left, right), mode=mode).squeeze(1)
        window = torch.hann_window(self.n_fft, device=x.device, dtype=x.dtype)
        spec = torch.stft(x, self.n_fft, self.hop, window=window, center=False, return_complex=True)
        # sqrt(|.|^2 + eps) keeps the gradient finite at silent bins (the GAN's l1 backprops here)
        return torch.sqrt(spec.real.square() + spec.imag.square() + 1e-9)

    def mel_from_magnitude(self, mag: torch.Tensor) -> torch.Tensor:
        fb = self.filterbank().to(mag.device, mag.dtype)
        return torch.log(torch.clamp(torch.einsum("bft,fm->bmt", mag, fb), min=self.log_floor))

    def magnitude_from_logmel(self, mel: torch.Tensor) -> torch.Tensor:
        """Least-squares (pseudo-inverse) linear magnitude from a log-mel: the Griffin-Lim
        baseline's input. Not used by the trained vocoder."""
        fb = self.filterbank().to(mel.device, mel.dtype)
        return torch.clamp(torch.einsum("fm,bmt->bft", torch.linalg.pinv(fb.T), mel.exp()), min=0.0)


@functools.lru_cache(maxsize=16)
def _filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float, fmax: float):
    import torchaudio

    return torchaudio.functional.melscale_fbanks(
        n_fft // 2 + 1, fmin, fmax, n_mels, sample_rate, norm="slaney", mel_scale="slaney"
    )


def wave_to_logmel(waves: torch.Tensor, settings: MelSettings) -> torch.Tensor:
    """``waves [B, T]`` (or ``[B, 1, T]``) -> log-mel ``[B, n_mels, T // hop]``; differentiable."""
    return settings.mel_from_magnitude(settings.magnitude(waves))


def check_logmel(mel: torch.Tensor, settings: MelSettings, what: str = "mel") -> torch.Tensor:
    """``[n_mels, frames]`` or ``[B, n_mels, frames]`` -> ``[B, n_mels, frames]``, or a
    DomainError saying what shape was expected."""
    if mel.ndim == 2:
        mel = mel.unsqueeze(0)
    if mel.ndim != 3 or mel.shape[1] != settings.n_mels or mel.shape[2] < 1:
        raise DomainError(
            f"{what}: expected a log-mel [n_mels={settings.n_mels}, frames] or "
            f"[B, {settings.n_mels}, frames], got {list(mel.shape)}"
        )
    if not torch.isfinite(mel).all():
        raise DomainError(f"{what}: log-mel holds NaN/inf values")
    return mel.float()


def embedded_settings(sample_rate: int = 8000) -> MelSettings:
    """Defaults for the embedded set (8 kHz, 4096 samples): 64 mels x 64 frames."""
    return MelSettings(sample_rate=sample_rate, n_fft=256, hop=64, n_mels=64, fmin=0.0, fmax=None)

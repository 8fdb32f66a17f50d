"""The ``mel`` codec: audio latent diffusion in log-mel space (AudioLDM's route, without its VAE).

``latent: {codec: mel, params: {vocoder: griffin_lim | RUN_DIR, ...}}`` makes a run train on
log-mel spectrograms ``[1, n_mels, frames]`` (:mod:`.melspec`'s one definition) with the
2-D image networks, and turn its samples into waveforms with a vocoder: Griffin-Lim (no
training; phase from iterations) or a trained vocoder run, whose mel settings must be the
codec's. The samples are then exported and scored as waveforms, like any audio run.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from multigen.datainfo import DataInfo
from multigen.domain import DomainError, NetworkSpec
from multigen.latent import CodecSpec

from .melspec import MelSettings
from .scaling import from_network, to_network

GRIFFIN_LIM = "griffin_lim"
# bands: [n_mels, frames], mel bands as the channels of a 1-D network (unet1d);
# image: [1, n_mels, frames], a one-channel image for the 2-D networks (unet, dit, dcgan)
LAYOUTS = ("bands", "image")


class GriffinLim:
    """Log-mel -> waveform by Griffin-Lim on the pseudo-inverse linear magnitude (fast GL's
    momentum, Perraudin et al. 2013); the baseline a trained vocoder has to beat."""

    def __init__(self, settings: MelSettings, iters: int = 64, momentum: float = 0.99):
        self.settings, self.iters, self.momentum = settings, iters, momentum

    def __call__(self, mel: Tensor) -> Tensor:
        import torchaudio.functional as AF

        s = self.settings
        mag = s.magnitude_from_logmel(mel.float())  # [B, F, frames]
        frames = mag.shape[-1]
        window = torch.hann_window(s.n_fft, device=mag.device)
        # rand_init=False: phase iterations start from zero phase, so decoding is deterministic
        waves = AF.griffinlim(mag, window, s.n_fft, s.hop, s.n_fft, 1.0, self.iters,
                              self.momentum, (frames - 1) * s.hop, False)  # fmt: skip
        # melspec frames are centred on k*hop + hop/2, istft's on k*hop: shift by half a hop
        return torch.nn.functional.pad(waves, (s.hop // 2, s.hop - s.hop // 2))


def default_settings(sample_rate: int, n_mels: int = 64) -> MelSettings:
    """~32 ms windows with hop 1/4 (8 kHz: n_fft 256, hop 64)."""
    n_fft = 1 << int(round(math.log2(sample_rate * 0.032)))
    return MelSettings(sample_rate=sample_rate, n_fft=n_fft, hop=n_fft // 4, n_mels=n_mels)


class MelCodec:
    """Audio states ``[B, 1, T]`` <-> log-mels ``[B, 1, n_mels, T // hop]``."""

    def __init__(
        self,
        info: DataInfo,
        vocoder: str = GRIFFIN_LIM,
        n_mels: int = 64,
        n_fft: int | None = None,
        hop: int | None = None,
        griffin_lim_iters: int = 64,
        layout: str = "bands",
        log_min: float | None = None,
    ):
        if layout not in LAYOUTS:
            raise DomainError(f"latent.params.layout must be one of {LAYOUTS}, got {layout!r}")
        self.info, self.layout, self.log_min = info, layout, log_min
        self.length = int(info["shape"][-1])
        base = default_settings(int(info["sample_rate"]), n_mels)
        n_fft = n_fft or base.n_fft
        hop = hop or n_fft // 4
        self.mel = MelSettings(sample_rate=base.sample_rate, n_fft=n_fft, hop=hop, n_mels=n_mels)
        if self.length < self.mel.n_fft:
            raise DomainError(
                f"latent codec mel: clips of {self.length} samples are shorter than one "
                f"window (n_fft {self.mel.n_fft}); use longer clips or a smaller n_fft"
            )
        self.vocoder = self._vocoder(vocoder, griffin_lim_iters)
        self.settings = {"mel": self.mel.to_dict(), "vocoder": str(vocoder), "layout": layout,
                         "log_min": log_min}  # fmt: skip

    def _vocoder(self, name: str, iters: int) -> Any:
        if name == GRIFFIN_LIM:
            return GriffinLim(self.mel, iters)
        from .vocoder import load_vocoder

        voc = load_vocoder(name, "cpu")
        voc.settings.check_same(self.mel, f"vocoder run {name}", "this latent run (latent.params)")
        return voc

    def encode(self, x: Tensor) -> Tensor:
        waves = from_network(x.reshape(len(x), -1).float(), self.info)
        mel = self.mel.logmel(waves)
        if self.log_min is not None:  # near-silent bins: their log jitters, yet nobody hears it
            mel = mel.clamp_min(self.log_min)
        return mel.unsqueeze(1) if self.layout == "image" else mel

    def decode(self, z: Tensor) -> Tensor:
        mel = z[:, 0] if self.layout == "image" else z
        waves = self.vocoder(mel.float()).clamp(-1, 1)
        waves = torch.nn.functional.pad(waves, (0, max(0, self.length - waves.shape[-1])))
        return to_network(waves[:, : self.length], self.info).unsqueeze(1)


def codec_specs() -> dict[str, CodecSpec]:
    # the images domain's 2-D networks see a log-mel as a one-channel image
    from ..images.codec import grid_networks
    from .networks.unet1d import build_unet1d

    nets = [
        NetworkSpec("unet1d", "denoiser", build_unet1d, "the 1-D U-Net, mel bands as channels"),
        *grid_networks(),
    ]
    spec = CodecSpec(
        "mel",
        "log-mel spectrogram [1, n_mels, frames]; decoded by Griffin-Lim or a vocoder run "
        "(params: vocoder, n_mels, n_fft, hop, griffin_lim_iters, layout, log_min)",
        MelCodec,
        {n.name: n for n in nets},
    )
    return {spec.name: spec}

"""The ``mel`` codec: audio latent diffusion in log-mel space (AudioLDM's route, without its VAE).

``latent: {codec: mel, params: {vocoder: griffin_lim | RUN_DIR, ...}}`` makes a run train on
log-mel spectrograms (:mod:`.melspec`'s one definition) — ``[1, n_mels, frames]`` pictures for
the images domain's 2-D networks, or ``[n_mels, frames]`` for the 1-D U-Net — and turn its
samples into waveforms with a vocoder: Griffin-Lim (no training; phase from iterations,
:func:`.vocoder.griffin_lim`) or a trained vocoder run, whose mel settings must be the
codec's. The samples are then exported and scored as waveforms, like any audio run.
"""

from __future__ import annotations

import functools
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


def default_settings(sample_rate: int, n_mels: int = 64) -> MelSettings:
    """~32 ms windows with hop 1/4 (8 kHz: n_fft 256, hop 64)."""
    n_fft = 1 << int(round(math.log2(sample_rate * 0.032)))
    return MelSettings(sample_rate=sample_rate, n_fft=n_fft, hop=n_fft // 4, n_mels=n_mels)


class MelCodec:
    """Audio states ``[B, 1, T]`` <-> log-mels ``[B, n_mels, T // hop]`` (layout ``bands``)
    or ``[B, 1, n_mels, T // hop]`` (layout ``image``)."""

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
        from .vocoder import griffin_lim, load_vocoder

        if name == GRIFFIN_LIM:
            return functools.partial(griffin_lim, settings=self.mel, n_iter=iters)
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
        "log-mel spectrogram ([n_mels, frames], or [1, n_mels, frames] with layout: image); "
        "decoded by Griffin-Lim or a vocoder run "
        "(params: vocoder, n_mels, n_fft, hop, griffin_lim_iters, layout, log_min)",
        MelCodec,
        {n.name: n for n in nets},
    )
    return {spec.name: spec}

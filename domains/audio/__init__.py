"""Audio domain: mono waveform generation (DiffWave / 1-D U-Net denoisers, WaveGAN and
HiFi-GAN-style adversarial training) with the SC09 papers' metrics."""

from __future__ import annotations

from .domain import AudioDomain
from .samples import AudioSamples


def get_domain() -> AudioDomain:
    return AudioDomain()


__all__ = ["AudioDomain", "AudioSamples", "get_domain"]

"""Audio networks: denoisers (DiffWave, DiffWave as a mel vocoder, 1-D U-Net), GAN generators
(WaveGAN; the HiFi-GAN mel vocoder) and discriminators (WaveGAN with phase shuffle,
HiFi-GAN MPD+MSD)."""

from __future__ import annotations

from multigen.adversarial.ddgan import pair_discriminator
from multigen.domain import NetworkSpec

from .diffwave import build_diffwave
from .diffwave_vocoder import build_diffwave_vocoder
from .hifigan import build_hifigan_discriminator
from .unet1d import build_unet1d
from .vocoder import build_hifigan_vocoder
from .wavegan import build_wavegan_discriminator, build_wavegan_generator


def network_specs() -> dict[str, NetworkSpec]:
    specs = [
        NetworkSpec("diffwave", "denoiser", build_diffwave,
                    "DiffWave residual stack (residual_layers, residual_channels, "
                    "dilation_cycle, embed_dim, bf16)"),
        NetworkSpec("diffwave_vocoder", "denoiser", build_diffwave_vocoder,
                    "DiffWave conditioned on the log-mel, a mel vocoder (residual_layers, "
                    "residual_channels, dilation_cycle, upsample_rates with product = mel hop, "
                    "embed_dim, bf16); mel pairs only"),
        NetworkSpec("unet1d", "denoiser", build_unet1d,
                    "1-D U-Net (channels, mults, blocks, kernel, factor, attention)"),
        NetworkSpec("wavegan", "generator", build_wavegan_generator,
                    "WaveGAN generator (latent_dim, width, layers)"),
        NetworkSpec("hifigan_vocoder", "generator", build_hifigan_vocoder,
                    "HiFi-GAN generator, log-mel -> waveform (channels, upsample_rates with "
                    "product = mel hop, resblock_kernels, resblock_dilations); mel pairs only"),
        NetworkSpec("wavegan_disc", "discriminator", build_wavegan_discriminator,
                    "WaveGAN discriminator with phase shuffle (width, layers, phase_shuffle)"),
        NetworkSpec("hifigan_disc", "discriminator", build_hifigan_discriminator,
                    "HiFi-GAN multi-period + multi-scale discriminators (periods, scales, width)"),
        NetworkSpec("wavegan_pair_disc", "discriminator",
                    pair_discriminator(build_wavegan_discriminator, axis=0),
                    "DDGAN: the WaveGAN discriminator of the pair (x_{t-1}, x_t, t) as channels"),
    ]  # fmt: skip
    return {s.name: s for s in specs}

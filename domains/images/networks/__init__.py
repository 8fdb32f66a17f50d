"""Image networks: the U-Net denoiser and the DCGAN generator/discriminator pair."""

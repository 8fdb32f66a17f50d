"""Image networks: the U-Net and DiT denoisers and the DCGAN generator/discriminator pair."""

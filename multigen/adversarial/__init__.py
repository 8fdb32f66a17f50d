"""Adversarial training pieces: GAN losses and regularisers."""

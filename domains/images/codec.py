"""The images ``vae`` codec: latent diffusion (Rombach et al. 2022) in the latent space of a
KL autoencoder trained by the suite (``method: autoencoder``, configs/images/
digits_autoencoder.yaml).

``latent: {codec: vae, params: {run: RUN_DIR_OR_ZOO}}`` encodes images with the posterior
mean of the run's EMA encoder and decodes samples with its decoder. LDM rescales latents
by one factor so they have unit variance; the engine's latent view already standardises
the encoded training set (multigen/latent.py), so the codec returns the raw mean.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from multigen.datainfo import DataInfo
from multigen.domain import DomainError, NetworkSpec
from multigen.latent import CodecSpec

from .networks.dcgan import build_discriminator, build_generator
from .networks.dit import build_dit
from .networks.unet import build_unet


def load_autoencoder(run: Any, checkpoint: str = "latest", device: str = "cpu"):
    """A trained ``autoencoder`` run (folder or zoo reference); any failure to load it is
    one line naming the run."""
    from multigen import api

    what = f"latent.params.run {str(run)!r}"
    try:
        loaded = api.load_run(run, checkpoint, device)
    except (DomainError, ValueError, OSError, KeyError) as exc:
        reason = " ".join(str(exc).split())
        raise DomainError(f"{what}: cannot load the autoencoder run: {reason}") from None
    if loaded.config.method.name != "autoencoder" or "autoencoder" not in loaded.models:
        raise DomainError(
            f"{what} is a {loaded.config.method.name!r} run; the vae codec needs an "
            "autoencoder run (method: autoencoder, e.g. configs/images/digits_autoencoder.yaml)"
        )
    return loaded


class VAECodec:
    """Images ``[B, C, H, W]`` in [-1, 1] <-> latents ``[B, c, h, w]`` of an autoencoder run."""

    def __init__(self, info: DataInfo, run: Any = None, checkpoint: str = "latest"):
        if run is None:
            raise DomainError(
                "latent codec vae needs params.run: the folder (or zoo:NAME) of an autoencoder "
                "run, e.g. latent: {codec: vae, params: {run: runs/digits_autoencoder}}"
            )
        loaded = load_autoencoder(run, checkpoint)
        ae_shape, data_shape = list(loaded.info.shape), list(info["shape"])
        if ae_shape != data_shape:
            names = ("channels", "height", "width")
            differ = [
                f"{n} {a} (autoencoder) vs {d} (data)"
                for n, a, d in zip(names, ae_shape, data_shape, strict=False)
                if a != d
            ] or [f"shape {ae_shape} (autoencoder) vs {data_shape} (data)"]
            raise DomainError(
                f"latent.params.run {str(run)!r} was trained on images {ae_shape} but this run's "
                f"data are {data_shape}: {'; '.join(differ)}; train the autoencoder on this data"
            )
        self.ae = loaded.models["autoencoder"].float().eval()
        self.device = loaded.device
        with torch.no_grad():
            probe = self.ae.encode(torch.zeros(1, *data_shape, device=self.device))[0]
        self.latent_shape = list(probe.shape[1:])
        # what a later load compares: the same run, checkpoint and shapes
        self.settings = {
            "run": str(run),
            "checkpoint": loaded.checkpoint.name,
            "data_shape": data_shape,
            "latent_shape": self.latent_shape,
        }

    def encode(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.ae.encode(x.float().to(self.device))[0].cpu()

    def decode(self, z: Tensor) -> Tensor:
        with torch.no_grad():
            return self.ae.decode(z.float().to(self.device)).clamp(-1, 1).cpu()


def grid_networks() -> list[NetworkSpec]:
    """The images networks that work on any square ``[c, h, w]`` latent grid (this domain's
    autoencoder latents, audio's log-mel pictures)."""
    return [
        NetworkSpec("unet", "denoiser", build_unet, "the images U-Net on the latent grid"),
        NetworkSpec("dit", "denoiser", build_dit, "the images DiT on the latent grid"),
        NetworkSpec("dcgan_generator", "generator", build_generator, "the images DCGAN"),
        NetworkSpec("dcgan_discriminator", "discriminator", build_discriminator,
                    "the images DCGAN discriminator"),
    ]  # fmt: skip


def codec_specs() -> dict[str, CodecSpec]:
    nets = grid_networks()
    spec = CodecSpec(
        "vae",
        "KL autoencoder latents [c, h, w] of an autoencoder run (params: run, checkpoint); "
        "encoded by the posterior mean, decoded by the run's EMA decoder",
        VAECodec,
        {n.name: n for n in nets},
    )
    return {spec.name: spec}

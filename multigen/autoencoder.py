"""The ``autoencoder`` method: a KL-regularised autoencoder trained by the suite's trainer
(the first stage of latent diffusion, Rombach et al. 2022), so that a domain's codec can
load it as a run like any other (``api.load_run``; EMA weights).

The network (a domain's ``autoencoder``-role network) exposes ``encode(x) -> (mean, logvar)``
and ``decode(z)``. Loss per item, as LDM's ``LPIPSWithDiscriminator`` without its perceptual
and adversarial terms (neither works offline at this scale): the reconstruction error summed
over the data's dimensions plus ``kl_weight`` times the KL divergence of the posterior from
N(0, I) summed over the latent's, both divided by the data's dimension count so the
learning rate means the same at any image size.

A run's "samples" are reconstructions (posterior mean, decoded) of held-out items: sample
``i`` reconstructs the test-split item its own generator picks, so the trainer's final
samples, ``multigen sample`` and ``evaluate`` work unchanged and score the autoencoder's
ceiling as a generator of latent diffusion.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from multigen.config import SampleConfig
from multigen.domain import Batch, DomainError
from multigen.method_config import AutoencoderMethod
from multigen.methods import Method, OptimizerSpec, Phase
from multigen.randomness import randn

HELD_OUT = "test"  # the split sampling reconstructs


def kl_divergence(mean: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mean, exp(logvar)) || N(0, I)) per item, summed over all but the batch dim."""
    kl = 0.5 * (mean.pow(2) + logvar.exp() - 1.0 - logvar)
    return kl.flatten(1).sum(1)


def reconstruction_error(x: Tensor, x_hat: Tensor, kind: str) -> Tensor:
    """Per-item L1 or squared error summed over the data's dimensions."""
    diff = x_hat.float() - x.float()
    err = diff.abs() if kind == "l1" else diff.pow(2)
    return err.flatten(1).sum(1)


class Autoencoder(Method):
    default_sampler = "reconstruct"
    ema_models = ("autoencoder",)

    def __post_init__(self) -> None:
        net = self.build_network("autoencoder", self.run.model.name, self.run.model.params)
        for attr in ("encode", "decode"):
            if not callable(getattr(net, attr, None)):
                raise DomainError(
                    f"method autoencoder: network {self.run.model.name!r} has no {attr}()"
                )
        self.models = {"autoencoder": net}
        self._held_out: Tensor | None = None

    def optimizers(self) -> dict[str, OptimizerSpec]:
        return {"autoencoder": OptimizerSpec(("autoencoder",), self.run.train.lr)}

    def phases(self) -> list[Phase]:
        return [Phase("reconstruct", "autoencoder", self._loss)]

    def _loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        cfg: AutoencoderMethod = self.config
        ae = models["autoencoder"]
        mean, logvar = ae.encode(batch.x)
        eps = randn(gens, mean.shape[1:]).to(mean.device, mean.dtype)
        z = mean + (0.5 * logvar).exp() * eps  # reparameterised posterior draw
        x_hat = ae.decode(z)
        dims = batch.x[0].numel()
        rec = reconstruction_error(batch.x, x_hat, cfg.loss)
        kl = kl_divergence(mean.float(), logvar.float())
        return ((rec + cfg.kl_weight * kl) / dims).mean()

    # ---- sampling: reconstructions of held-out items ------------------------------------
    def samplers(self) -> tuple[str, ...]:
        return ("reconstruct",)

    def held_out(self) -> Tensor:
        """The held-out split of the run's dataset as network-scale states (loaded once)."""
        if self._held_out is None:
            data = self.run.data
            ds = self.domain.load_dataset(data.name, data.path, HELD_OUT, **data.params)
            items = [ds[i] for i in range(len(ds))]
            if not items:
                raise DomainError(
                    f"method autoencoder: the {HELD_OUT} split of {data.name!r} is empty"
                )
            self._held_out = self.domain.collate(items).x
        return self._held_out

    def sample(
        self,
        models: dict[str, nn.Module],
        template: Batch,
        generators: Sequence[torch.Generator],
        options: SampleConfig,
    ) -> Batch:
        pool = self.held_out()
        idx = torch.stack([torch.randint(len(pool), (), generator=g) for g in generators])
        x = pool[idx].to(template.x.device)
        ae = models["autoencoder"]
        x_hat = ae.decode(ae.encode(x)[0])
        return Batch(x_hat.float(), template.mask, template.cond)

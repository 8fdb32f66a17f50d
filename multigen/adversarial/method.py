"""The GAN method: generator and discriminator phases built from the engine's adversarial
pieces (losses, lazy R1, WGAN-GP, path-length regularisation, ADA, style mixing)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from multigen.adversarial import losses as gan_losses
from multigen.adversarial import style
from multigen.adversarial.augment import AdaptiveAugment
from multigen.config import SampleConfig
from multigen.domain import Batch, DomainError
from multigen.method_config import GANMethod
from multigen.methods import Method, OptimizerSpec, Phase
from multigen.randomness import rand, randn


class GAN(Method):
    """Adversarial training with the engine's losses, lazy R1 and WGAN-GP; for generators with
    a mapping network (:class:`~multigen.adversarial.style.StyleGenerator`) also path-length
    regularisation, style mixing and truncation; adaptive discriminator augmentation (ADA)
    for domains whose states are images."""

    default_sampler = "generator"
    ema_models = ("generator",)

    def __post_init__(self) -> None:
        cfg: GANMethod = self.config
        if self.run.discriminator is None:
            raise DomainError("method gan needs a 'discriminator' section in the config")
        gen = self.build_network("generator", self.run.model.name, self.run.model.params)
        disc = self.build_network(
            "discriminator", self.run.discriminator.name, self.run.discriminator.params
        )
        self.models = {"generator": gen, "discriminator": disc}
        what = repr(self.run.model.name)
        if cfg.pl_weight > 0:
            style.require_style(gen, "method.pl_weight", what)
            self.models["path_length"] = style.PathLengthMean()
        if cfg.style_mixing > 0:
            style.require_style(gen, "method.style_mixing", what)
        if cfg.augment != "none":
            if not self.domain.image_augment or len(self.info.shape) != 3:
                raise DomainError(
                    f"method.augment: domain {self.domain.name!r} does not take image "
                    f"augmentations (states {list(self.info.shape)}); set augment: none"
                )
            target = cfg.ada_target if cfg.augment == "ada" else None
            self.models["augment"] = AdaptiveAugment(
                cfg.augment_pipeline, cfg.augment_p, target, cfg.ada_interval, cfg.ada_kimg
            )
        if cfg.grow_until > 0:
            for role, net in (("model", gen), ("discriminator", disc)):
                if not hasattr(net, "set_progress"):
                    name = (self.run.model if role == "model" else self.run.discriminator).name
                    raise DomainError(
                        f"method.grow_until needs networks that grow (progan_generator, "
                        f"progan_discriminator); {role} {name!r} does not"
                    )
        if cfg.l1_weight > 0 and not self.run.data.conditional:
            raise DomainError(
                "method.l1_weight compares the generator's output with its paired target: "
                "it needs paired data fed as the condition (data.conditional: true)"
            )
        if cfg.fm_weight > 0:
            if not self.run.data.conditional:
                raise DomainError(
                    "method.fm_weight compares the discriminator's features on each generated "
                    "sample and its paired target: it needs paired data (data.conditional: true)"
                )
            if not getattr(disc, "has_features", False):
                raise DomainError(
                    f"method.fm_weight needs a discriminator that returns its activations "
                    f"(e.g. hifigan_disc); {self.run.discriminator.name!r} does not"
                )
            if cfg.augment != "none":
                raise DomainError("method.fm_weight and method.augment cannot be combined")
        self._ada_step = -1

    def _grow(self, models: dict[str, nn.Module], step: int) -> None:
        """Progressive growing: tell both networks how far training is through growth."""
        until = self.config.grow_until
        if until > 0:
            fraction = min(1.0, step / max(1.0, until * self.run.train.steps))
            for name in ("generator", "discriminator"):
                models[name].set_progress(fraction)

    def samplers(self) -> tuple[str, ...]:
        return ("generator",)

    def optimizers(self) -> dict[str, OptimizerSpec]:
        cfg: GANMethod = self.config
        lr_g, lr_d = self.run.train.lr, cfg.lr_d or self.run.train.lr
        betas_g = betas_d = cfg.betas
        if cfg.lazy_phases:  # each regulariser's own optimiser steps: Adam corrected
            if cfg.pl_weight > 0:
                lr_g, betas_g = style.lazy_adam(lr_g, cfg.betas, cfg.pl_every)
            if cfg.r1_gamma > 0:
                lr_d, betas_d = style.lazy_adam(lr_d, cfg.betas, cfg.r1_every)
        return {
            "generator": OptimizerSpec(("generator",), lr_g, betas_g),
            "discriminator": OptimizerSpec(("discriminator",), lr_d, betas_d),
        }

    def phases(self) -> list[Phase]:
        cfg: GANMethod = self.config
        out = [Phase("D", "discriminator", self._d_loss, repeat=cfg.d_steps, frozen=("generator",))]
        if cfg.lazy_phases and cfg.r1_gamma > 0:
            out.append(
                Phase("Dreg", "discriminator", self._r1_loss, every=cfg.r1_every,
                      frozen=("generator",))
            )  # fmt: skip
        out.append(Phase("G", "generator", self._g_loss, frozen=("discriminator",)))
        if cfg.lazy_phases and cfg.pl_weight > 0:
            out.append(
                Phase("Greg", "generator", self._pl_loss, every=cfg.pl_every,
                      frozen=("discriminator",))
            )  # fmt: skip
        return out

    def log_values(self, models: dict[str, nn.Module]) -> dict[str, float]:
        out = {}
        if "augment" in models:
            out["ada_p"] = float(models["augment"].p)
            if models["augment"].adaptive:
                out["ada_rt"] = float(models["augment"].rt)
        if "path_length" in models:
            out["pl_mean"] = float(models["path_length"].mean)
        return out

    def _styles(self, gen: nn.Module, batch: Batch, gens: Sequence[torch.Generator]):
        """(ws, latent) of a style generator, mixed with a second latent's styles with
        probability ``style_mixing``."""
        latent = gen.sample_latent(batch, gens)
        ws = gen.mapping(latent, batch.cond)
        prob = self.config.style_mixing
        if prob > 0:
            ws2 = gen.mapping(gen.sample_latent(batch, gens), batch.cond)
            u = rand(gens, (2,)).to(ws.device)
            ws = style.mix_styles(ws, ws2, style.mixing_cutoffs(u[:, 0], u[:, 1], gen.num_ws, prob))
        return ws, latent

    def _fake(self, gen: nn.Module, batch: Batch, gens: Sequence[torch.Generator]) -> Tensor:
        if isinstance(gen, style.StyleGenerator) and self.config.style_mixing > 0:
            ws, latent = self._styles(gen, batch, gens)
            return gen.synthesis(ws, latent)
        z = gen.sample_latent(batch, gens)
        return gen(z, batch.cond, batch.mask)

    def _critic(self, models: dict[str, nn.Module], batch: Batch, gens):
        """D on (augmented, when ADA is on) inputs, as float logits."""
        disc, aug = models["discriminator"], models.get("augment")

        def critic(x: Tensor) -> Tensor:
            if aug is not None:
                x = aug(x, gens)
            return disc(x, batch.cond, batch.mask).float()

        return critic

    def _d_loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        cfg: GANMethod = self.config
        gen = models["generator"]
        self._grow(models, step)
        with torch.no_grad():
            fake = self._fake(gen, batch, gens)
        critic = self._critic(models, batch, gens)
        aug = models.get("augment")
        if aug is not None and step % aug.interval == 0 and step != self._ada_step:
            aug.update()  # from the statistics of the last `interval` steps
            self._ada_step = step
        d_real = critic(batch.x)
        if aug is not None:
            aug.observe(d_real)
        loss = gan_losses.d_loss(cfg.loss, d_real, critic(fake)).mean()
        if cfg.loss == "wgan_gp" and cfg.gp_weight > 0:
            u = rand(gens).to(batch.x.device, batch.x.dtype)
            loss = (
                loss + cfg.gp_weight * gan_losses.gradient_penalty(critic, batch.x, fake, u).mean()
            )
        if not cfg.lazy_phases and cfg.r1_gamma > 0 and step % cfg.r1_every == 0:
            # Lazy regularisation (Karras et al. 2020): every k steps, weighted by k.
            loss = loss + self._r1_loss(models, batch, gens, step)
        return loss

    def _r1_loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        cfg: GANMethod = self.config
        r1 = gan_losses.r1_penalty(self._critic(models, batch, gens), batch.x).mean()
        return (cfg.r1_gamma / 2) * cfg.r1_every * r1

    def _pl_loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        """Path-length regularisation (Karras et al. 2020a): (‖J_wᵀy‖ - a)², a the running
        mean of the lengths, on batch/pl_batch_shrink samples, weighted by pl_every."""
        cfg: GANMethod = self.config
        gen = models["generator"]
        n = max(1, len(batch) // cfg.pl_batch_shrink)
        sub, sub_gens = batch.select(slice(0, n)), gens[:n]
        ws, latent = self._styles(gen, sub, sub_gens)
        y = style.pl_direction(tuple(self.info.shape), randn(sub_gens, self.info.shape))
        lengths = style.path_lengths(lambda w: gen.synthesis(w, latent), ws, y.to(ws.device))
        target = models["path_length"].update(lengths, cfg.pl_decay)
        return (lengths - target).square().mean() * cfg.pl_weight * cfg.pl_every

    def _g_loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        cfg: GANMethod = self.config
        self._grow(models, step)
        fake = self._fake(models["generator"], batch, gens)
        if cfg.fm_weight > 0:  # HiFi-GAN: L1 between D's activations on the pair (real detached)
            disc = models["discriminator"]
            logits, fake_maps = disc(fake, batch.cond, batch.mask, features=True)
            with torch.no_grad():
                _, real_maps = disc(batch.x, batch.cond, batch.mask, features=True)
            fm = sum((f.float() - r.float()).abs().mean() for f, r in zip(fake_maps, real_maps))
            loss = gan_losses.g_loss(cfg.loss, logits.float()).mean()
            loss = loss + cfg.fm_weight * fm / max(1, len(fake_maps))
        else:
            logits = self._critic(models, batch, gens)(fake)
            loss = gan_losses.g_loss(cfg.loss, logits).mean()
        if cfg.l1_weight > 0:  # pix2pix: L1 to the paired target (Isola et al. 2017), in the
            # domain's paired-feature space (HiFi-GAN: the log-mel)
            feats = self.domain.paired_features
            diff = feats(fake.float(), self.info) - feats(batch.x.float(), self.info)
            loss = loss + cfg.l1_weight * diff.abs().mean()
        if not cfg.lazy_phases and cfg.pl_weight > 0 and step % cfg.pl_every == 0:
            loss = loss + self._pl_loss(models, batch, gens, step)
        return loss

    def sample(
        self,
        models: dict[str, nn.Module],
        template: Batch,
        generators: Sequence[torch.Generator],
        options: SampleConfig,
        sigmas: Tensor | None = None,
    ) -> Batch:
        gen = models["generator"]
        psi, mix = options.truncation, options.style_mixing
        if psi is None and mix is None:
            return template.with_x(self._fake(gen, template, generators).float())
        x = style.styled_sample(gen, template, generators, psi, mix, repr(self.run.model.name))
        return template.with_x(x.float())

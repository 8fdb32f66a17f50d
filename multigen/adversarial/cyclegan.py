"""CycleGAN (Zhu et al. 2017): unpaired translation between two sets of states, A and B.

The data hands each batch B states as ``Batch.x`` and A states, *unrelated* to them, as
``Batch.cond`` (images: ``data.name digits_thin_bold`` or ``unpaired_folder``); the domain's
data description gives both shapes (``shape`` for B, ``source_shape`` for A). Four networks:

- ``generator`` G: A -> B and ``generator_ba`` F: B -> A, both the ``model`` section's
  network (an image-to-image generator, ``forward(z, cond)`` with no latent: images'
  ``pix2pix_generator``), F built with the two shapes swapped;
- ``discriminator`` D_B (judges B states) and ``discriminator_a`` D_A, both the
  ``discriminator`` section's network, which must judge a state alone (images:
  ``patchgan_discriminator`` with ``conditional: false``).

Losses, per step (the paper's Eq. 3 with its identity term, Sec. 5.2 / 7.1):

- G phase: L_GAN(G, D_B) + L_GAN(F, D_A) + λ_cyc (‖F(G(a)) - a‖₁ + ‖G(F(b)) - b‖₁)
  + λ_id (‖G(b) - b‖₁ + ‖F(a) - a‖₁), L1 as the mean absolute difference per element;
- D phase: ½ [d(D_B(b), D_B(b̃)) + d(D_A(a), D_A(ã))], b̃ = G(a) and ã = F(b) from the G phase
  of the same step (detached), drawn through a history of ``pool_size`` earlier fakes
  (Shrivastava et al. 2017): once the history is full, each fake is swapped, with
  probability ½, for a stored one, which it replaces.

Sampling translates A -> B (the conditions are A states: ``multigen translate RUN A_DIR``);
:meth:`CycleGAN.reversed_run` gives the same run translating B -> A with F
(``multigen translate RUN B_DIR --direction ba``).
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from multigen.adversarial import losses as gan_losses
from multigen.config import SampleConfig
from multigen.domain import Batch, DataInfo, DomainError
from multigen.method_config import CycleGANMethod
from multigen.methods import Method, OptimizerSpec, Phase
from multigen.randomness import rand

DIRECTIONS = ("ab", "ba")


def reversed_info(info: DataInfo) -> DataInfo:
    """The data description of the B -> A direction: ``shape`` and ``source_shape``
    swapped, ``reversed`` flipped (a domain's default sources follow it)."""
    src = info.get("source_shape")
    if src is None:
        raise DomainError("this run's data has no source_shape, so it has no B -> A direction")
    extra = {
        **info.extra,
        "source_shape": list(info.shape),
        "reversed": not info.get("reversed", False),
    }
    return dataclasses.replace(info, shape=tuple(int(s) for s in src), extra=extra)


def cycle_losses(
    a: Tensor, b: Tensor, rec_a: Tensor, rec_b: Tensor, idt_a: Tensor | None, idt_b: Tensor | None
) -> tuple[Tensor, Tensor]:
    """(cycle, identity): ‖rec_a - a‖₁ + ‖rec_b - b‖₁ and ‖idt_a - a‖₁ + ‖idt_b - b‖₁, each
    L1 the mean absolute difference over elements (rec_a = F(G(a)), idt_a = F(a), ...);
    identity 0 when ``idt_a``/``idt_b`` are None."""

    def l1(x: Tensor, y: Tensor) -> Tensor:
        return (x.float() - y.float()).abs().mean()

    cycle = l1(rec_a, a) + l1(rec_b, b)
    if idt_a is None or idt_b is None:
        return cycle, torch.zeros((), device=cycle.device)
    return cycle, l1(idt_a, a) + l1(idt_b, b)


class ImagePool(nn.Module):
    """The history of generated states a discriminator sees (Shrivastava et al. 2017, as in
    CycleGAN's reference code): until ``size`` are stored each fake is stored and passed on;
    then each fake is, with probability ½, stored in place of a random stored one, which is
    passed on instead. Buffers, so the history is saved with the checkpoint; stored only
    while training (a timing probe in eval mode changes nothing)."""

    def __init__(self, size: int, shape: Sequence[int]):
        super().__init__()
        self.size = int(size)
        self.register_buffer("images", torch.zeros(self.size, *shape))
        self.register_buffer("count", torch.zeros((), dtype=torch.long))

    def query(self, fakes: Tensor, u: Tensor) -> Tensor:
        """``u``: [B, 2] uniforms in [0, 1) (swap or not, which slot), one row per fake."""
        if self.size == 0:
            return fakes
        out = []
        count = int(self.count)
        for i, fake in enumerate(fakes.detach()):
            stored = fake.to(self.images.dtype)
            if count < self.size:
                if self.training:
                    self.images[count] = stored
                count += 1
                out.append(fake)
            elif float(u[i, 0]) < 0.5:
                j = min(int(float(u[i, 1]) * self.size), self.size - 1)
                old = self.images[j].clone().to(fake.dtype)
                if self.training:
                    self.images[j] = stored
                out.append(old)
            else:
                out.append(fake)
        if self.training:
            self.count.fill_(min(count, self.size))
        return torch.stack(out)


class CycleGAN(Method):
    """Unpaired translation A <-> B: see the module docstring."""

    default_sampler = "generator"
    ema_models = ("generator", "generator_ba")

    def __post_init__(self) -> None:
        cfg: CycleGANMethod = self.config
        run = self.run
        if run.discriminator is None:
            raise DomainError("method cyclegan needs a 'discriminator' section in the config")
        if not run.data.conditional or self.info.get("source_shape") is None:
            raise DomainError(
                "method cyclegan needs unpaired data whose A side travels as the condition "
                "(images: data.name digits_thin_bold or unpaired_folder, data.conditional: true)"
            )
        back = reversed_info(self.info)
        gen = self.build_network("generator", run.model.name, run.model.params)
        if getattr(gen, "latent_dim", None) != 0:
            raise DomainError(
                f"method cyclegan translates states: model {run.model.name!r} is not an "
                "image-to-image generator without a latent (images: pix2pix_generator)"
            )
        d_name, d_params = run.discriminator.name, run.discriminator.params
        disc = self.build_network("discriminator", d_name, d_params)
        if getattr(disc, "conditional", False):
            raise DomainError(
                f"method cyclegan judges each side alone: discriminator {d_name!r} is "
                "conditional; set discriminator.params.conditional: false"
            )
        self.models = {
            "generator": gen,
            "generator_ba": self.build_network("generator", run.model.name, run.model.params, back),
            "discriminator": disc,
            "discriminator_a": self.build_network("discriminator", d_name, d_params, back),
        }
        if cfg.identity_weight > 0 and self.info.shape[0] != back.shape[0]:
            raise DomainError(
                f"method.identity_weight feeds B states to G (A -> B): A has {back.shape[0]} "
                f"channel(s), B {self.info.shape[0]}; set identity_weight: 0"
            )
        if cfg.pool_size > 0:
            self.models["pool_b"] = ImagePool(cfg.pool_size, self.info.shape)
            self.models["pool_a"] = ImagePool(cfg.pool_size, back.shape)
        self.direction = "ab"
        self._fakes: tuple[int, int, Tensor, Tensor] | None = None

    # ---- training ----------------------------------------------------------------------
    def optimizers(self) -> dict[str, OptimizerSpec]:
        cfg: CycleGANMethod = self.config
        lr_g, lr_d = self.run.train.lr, cfg.lr_d or self.run.train.lr
        return {
            "generator": OptimizerSpec(("generator", "generator_ba"), lr_g, cfg.betas),
            "discriminator": OptimizerSpec(("discriminator", "discriminator_a"), lr_d, cfg.betas),
        }

    def phases(self) -> list[Phase]:
        gens, discs = ("generator", "generator_ba"), ("discriminator", "discriminator_a")
        return [
            Phase("G", "generator", self._g_loss, frozen=discs),
            Phase("D", "discriminator", self._d_loss, frozen=gens),
        ]

    def samplers(self) -> tuple[str, ...]:
        return ("generator",)

    def _g_loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        cfg: CycleGANMethod = self.config
        G, F = models["generator"], models["generator_ba"]
        a, b = batch.cond, batch.x
        fake_b, fake_a = G(None, a), F(None, b)
        adv = (
            gan_losses.g_loss(cfg.loss, models["discriminator"](fake_b).float()).mean()
            + gan_losses.g_loss(cfg.loss, models["discriminator_a"](fake_a).float()).mean()
        )
        idt = (F(None, a), G(None, b)) if cfg.identity_weight > 0 else (None, None)
        cycle, identity = cycle_losses(a, b, F(None, fake_b), G(None, fake_a), *idt)
        self._fakes = (step, b.data_ptr(), fake_b.detach(), fake_a.detach())
        return adv + cfg.cycle_weight * cycle + cfg.identity_weight * identity

    def _d_loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        cfg: CycleGANMethod = self.config
        a, b = batch.cond, batch.x
        if self._fakes is not None and self._fakes[:2] == (step, b.data_ptr()):
            fake_b, fake_a = self._fakes[2:]  # this step's G phase made them
        else:
            with torch.no_grad():
                fake_b, fake_a = models["generator"](None, a), models["generator_ba"](None, b)
        self._fakes = None
        if "pool_b" in models:
            u = rand(gens, (4,)).to(b.device)
            fake_b = models["pool_b"].query(fake_b, u[:, :2])
            fake_a = models["pool_a"].query(fake_a, u[:, 2:])
        d_b, d_a = models["discriminator"], models["discriminator_a"]
        loss_b = gan_losses.d_loss(cfg.loss, d_b(b).float(), d_b(fake_b).float()).mean()
        loss_a = gan_losses.d_loss(cfg.loss, d_a(a).float(), d_a(fake_a).float()).mean()
        return 0.5 * (loss_b + loss_a)

    # ---- sampling ----------------------------------------------------------------------
    def sample(
        self,
        models: dict[str, nn.Module],
        template: Batch,
        generators: Sequence[torch.Generator],
        options: SampleConfig,
        sigmas: Tensor | None = None,
    ) -> Batch:
        """Translate the template's conditions: A -> B with G, or B -> A with F in a
        :meth:`reversed_run`."""
        if template.cond is None or template.cond.ndim < 2:
            raise DomainError("cyclegan translates states: give the source images to translate")
        gen = models["generator" if self.direction == "ab" else "generator_ba"]
        return template.with_x(gen(None, template.cond).float())

    def reversed_run(self, run: Any) -> Any:
        """A loaded run (``multigen.api.LoadedRun``) of this method translating B -> A: F as
        the sampler, the data description swapped, so sources are checked as B states."""
        method = copy.copy(self)
        method.direction = "ba" if self.direction == "ab" else "ab"
        method.info = reversed_info(self.info)
        return dataclasses.replace(run, method=method, info=method.info)

"""Training methods: what to build, what loss each optimisation phase takes, how to sample.

A method never knows a domain by name: it asks the domain for networks, noise and
templates through the contract in :mod:`multigen.domain`. The :class:`~multigen.train.Trainer`
runs any method's phases with the same devices, precision, EMA, clipping and checkpoints.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from multigen.adversarial import losses as gan_losses
from multigen.adversarial import style
from multigen.adversarial.augment import AdaptiveAugment
from multigen.config import GANMethod, RunConfig, SampleConfig
from multigen.diffusion import samplers as S
from multigen.diffusion import schedules
from multigen.diffusion.guidance import guided
from multigen.diffusion.precond import Denoiser
from multigen.diffusion.processes import build_process
from multigen.domain import Batch, DataInfo, Domain, DomainError
from multigen.fileio import error_text
from multigen.nn import drop_condition
from multigen.randomness import rand, randn

LossFn = Callable[[dict[str, nn.Module], Batch, Sequence[torch.Generator], int], Tensor]


@dataclass
class Phase:
    """One optimisation step of one optimizer: ``loss(models, batch, generators, step)``."""

    name: str
    optimizer: str
    loss: LossFn
    repeat: int = 1
    frozen: tuple[str, ...] = ()  # models whose parameters need no gradient in this phase
    every: int = 1  # runs on steps k with k % every == 0 (lazy regularisation)


@dataclass
class OptimizerSpec:
    models: tuple[str, ...]
    lr: float
    betas: tuple[float, float] = (0.9, 0.999)


@dataclass
class Method:
    """Base class; see :class:`DiffusionFamily` and :class:`GAN`."""

    config: Any
    run: RunConfig
    domain: Domain
    info: DataInfo
    models: dict[str, nn.Module] = field(default_factory=dict)

    default_sampler: ClassVar[str] = "euler"
    ema_models: ClassVar[tuple[str, ...]] = ()  # class-level: not a dataclass field

    def __post_init__(self) -> None:
        """Subclasses build their networks here (the dataclass __init__ calls it)."""

    def prepare_training(self, device: torch.device) -> None:
        """Called by the Trainer once, before the models move to ``device`` and before the
        first step; never when a finished run is loaded for sampling. Load here what only
        training needs (a consistency distillation's teacher)."""

    def optimizers(self) -> dict[str, OptimizerSpec]:
        raise NotImplementedError

    def log_values(self, models: dict[str, nn.Module]) -> dict[str, float]:
        """Training state the log records beside the losses (e.g. ADA's p)."""
        return {}

    def phases(self) -> list[Phase]:
        raise NotImplementedError

    def sample(
        self,
        models: dict[str, nn.Module],
        template: Batch,
        generators: Sequence[torch.Generator],
        options: SampleConfig,
    ) -> Batch:
        raise NotImplementedError

    def samplers(self) -> tuple[str, ...]:
        return tuple(S.SAMPLERS)

    def sampler(self, name: str) -> S.Sampler | None:
        """The registry record sampler ``name`` uses for this method (None: one-shot)."""
        return None

    def sampler_options(self, name: str) -> tuple[str, ...]:
        """The sample options (``eta``, ``churn``) that sampler ``name`` takes here."""
        spec = self.sampler(name)
        return spec.options if spec is not None else ()

    def schedules(self) -> tuple[str, ...]:
        """Names ``sample.schedule`` accepts."""
        return ("default",)

    def build_network(self, role: str, name: str, params: dict[str, Any]) -> nn.Module:
        spec = self.domain.networks.get(name)
        allowed = sorted(n for n, s in self.domain.networks.items() if s.role == role)
        if spec is None or spec.role != role:
            raise DomainError(
                f"unknown {role} network {name!r} for domain {self.domain.name!r}; "
                f"choose one of: {', '.join(allowed)}"
            )
        try:
            _check_size(name, spec.builder, self.info, params)
            return spec.builder(self.info, **params)
        except (TypeError, ValueError, RuntimeError, OverflowError) as exc:
            raise DomainError(
                f"network {name!r}: bad parameters {params}: {error_text(exc)}"
            ) from None


MAX_PARAMETERS = 2**33  # 8.6e9 values (34 GB in fp32): beyond any machine this suite targets


def _check_size(name: str, builder: Callable[..., nn.Module], info: Any, params: dict) -> None:
    """Build once on the meta device (no memory) and refuse sizes no machine can hold, so a
    width of 1e10 in a config is one line, not an allocator failure."""
    try:
        with torch.device("meta"):
            probe = builder(info, **params)
        count = sum(t.numel() for t in [*probe.parameters(), *probe.buffers()])
    except Exception:  # a builder the meta device cannot run: the real build decides
        return
    if count > MAX_PARAMETERS:
        raise DomainError(
            f"network {name!r}: parameters {params} give {count:.3g} weights, over the "
            f"{MAX_PARAMETERS:.3g} limit; check the sizes"
        )


class DiffusionFamily(Method):
    """DDPM, EDM and flow matching: one denoiser and one loss shape; what differs between
    them is their :class:`~multigen.diffusion.processes.Process`."""

    ema_models = ("model",)

    def __post_init__(self) -> None:
        self.process = build_process(self.config, self.info)
        self.default_sampler = self.process.default_sampler
        net = self.build_network("denoiser", self.run.model.name, self.run.model.params)
        self.models = {"model": Denoiser(net, self.process.precond)}

    def optimizers(self) -> dict[str, OptimizerSpec]:
        return {"model": OptimizerSpec(("model",), self.run.train.lr)}

    # ---- training ----------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        return [Phase("denoise", "model", self._loss)]

    def _loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        device = batch.x.device
        sigma = self.process.training_sigmas(gens).to(device, torch.float32, non_blocking=True)
        noise = self.domain.noise(batch, gens)
        if getattr(self.config, "ot_pairing", False):
            noise = self.domain.align(batch, noise)
        drop_u = rand(gens).to(device) if batch.cond is not None else None
        cond = batch.cond
        if drop_u is not None and self.config.cond_drop > 0:
            cond = drop_condition(cond, self.config.cond_drop, uniform=drop_u)
        return models["model"].loss(batch.x, noise, sigma, cond, batch.mask).mean()

    # ---- sampling ----------------------------------------------------------------------
    def schedules(self) -> tuple[str, ...]:
        return ("default", "karras", *self.domain.schedules)

    def sigmas(self, steps: int, schedule: str = "default") -> Tensor:
        if schedule == "default":
            return self.process.sampling_sigmas(steps)
        if schedule == "karras":
            return schedules.karras_sigmas(steps, *self.process.sigma_range())
        if schedule in self.domain.schedules:
            return self.domain.schedules[schedule]()
        raise DomainError(
            f"unknown sample.schedule {schedule!r}; choose one of: {', '.join(self.schedules())}"
        )

    def sampler(self, name: str) -> S.Sampler:
        return self.process.sampler(name)

    def sample(
        self,
        models: dict[str, nn.Module],
        template: Batch,
        generators: Sequence[torch.Generator],
        options: SampleConfig,
        sigmas: Tensor | None = None,
    ) -> Batch:
        spec = self.sampler(options.sampler or self.default_sampler)
        if sigmas is None:
            sigmas = self.sigmas(options.steps, options.schedule)
        model = models["model"]
        denoise_cond = guided(model, options.guidance)
        B = len(template)

        def noise() -> Tensor:
            return S.as_float64(self.domain.noise(template, generators))

        clip = self.info.x0_clip  # only domains that ask for it (images) clip x̂0

        def denoise(x: Tensor, s: float) -> Tensor:
            sig = torch.full((B,), s, device=x.device, dtype=torch.float32)
            x0 = denoise_cond(x.float(), sig, template.cond, template.mask).to(x.dtype)
            return x0 if clip is None else x0.clamp(*clip)

        # unset options (None) leave the sampler's own default (dpmpp_2m_sde: eta 1)
        kwargs = {k: getattr(options, k) for k in spec.options if getattr(options, k) is not None}
        if "snr" in spec.options:  # the pc samplers: the paper's snr for this process's type
            kwargs.setdefault("snr", self.process.pc_snr)
        x = self.process.initial_scale(sigmas[0].item()) * noise()
        x = spec.fn(denoise, x, sigmas, noise, **kwargs)
        return template.with_x(x.float())


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
        logits = self._critic(models, batch, gens)(fake)
        loss = gan_losses.g_loss(cfg.loss, logits).mean()
        if cfg.l1_weight > 0:  # pix2pix: L1 to the paired target (Isola et al. 2017)
            loss = loss + cfg.l1_weight * (fake.float() - batch.x.float()).abs().mean()
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


METHODS = ("ddpm", "edm", "flow", "vesde", "vpsde", "gan")


def build_method(run: RunConfig, domain: Domain, info: Mapping[str, Any]) -> Method:
    if run.method.name == "joint_flow":  # states with categorical parts (multigen/joint.py)
        from multigen.joint import JointFlow

        return JointFlow(run.method, run, domain, DataInfo.of(info))
    if run.method.name == "consistency":  # few-step models (multigen/consistency.py)
        from multigen.consistency import Consistency

        return Consistency(run.method, run, domain, DataInfo.of(info))
    cls = GAN if isinstance(run.method, GANMethod) else DiffusionFamily
    return cls(run.method, run, domain, DataInfo.of(info))


def nfe(method: Method, sampler: str | None, steps: int, **options: Any) -> int:
    """Network evaluations one sample costs (guidance doubles the batch, not the count);
    ``options``: sample options the count depends on (pc: corrector_steps)."""
    spec = method.sampler(sampler or method.default_sampler)
    return 1 if spec is None else spec.nfe(steps, **options)

"""Training methods: what to build, what loss each optimisation phase takes, how to sample.

A method never knows a domain by name: it asks the domain for networks, noise and
templates through the contract in :mod:`multigen.domain`. The :class:`~multigen.train.Trainer`
runs any method's phases with the same devices, precision, EMA, clipping and checkpoints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn

from multigen.adversarial import losses as gan_losses
from multigen.config import (
    DiffusionMethod,
    EDMMethod,
    FlowMethod,
    GANMethod,
    RunConfig,
    SampleConfig,
)
from multigen.diffusion import samplers as S
from multigen.diffusion import schedules
from multigen.diffusion.guidance import guided
from multigen.diffusion.precond import Denoiser, EDMPrecond, FlowPrecond, VPPrecond
from multigen.domain import Batch, Domain, DomainError
from multigen.nn import drop_condition

LossFn = Callable[[dict[str, nn.Module], Batch, Sequence[torch.Generator], int], Tensor]


@dataclass
class Phase:
    """One optimisation step of one optimizer: ``loss(models, batch, generators, step)``."""

    name: str
    optimizer: str
    loss: LossFn
    repeat: int = 1
    frozen: tuple[str, ...] = ()  # models whose parameters need no gradient in this phase


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
    info: dict[str, Any]
    models: dict[str, nn.Module] = field(default_factory=dict)

    default_sampler: ClassVar[str] = "euler"
    ema_models: ClassVar[tuple[str, ...]] = ()  # class-level: not a dataclass field

    def __post_init__(self) -> None:
        """Subclasses build their networks here (the dataclass __init__ calls it)."""

    def optimizers(self) -> dict[str, OptimizerSpec]:
        raise NotImplementedError

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

    def sampler_options(self, name: str) -> tuple[str, ...]:
        """The sample options (``eta``, ``churn``) that sampler ``name`` uses here."""
        return ()

    def build_network(self, role: str, name: str, params: dict[str, Any]) -> nn.Module:
        spec = self.domain.networks.get(name)
        allowed = sorted(n for n, s in self.domain.networks.items() if s.role == role)
        if spec is None or spec.role != role:
            raise DomainError(
                f"unknown {role} network {name!r} for domain {self.domain.name!r}; "
                f"choose one of: {', '.join(allowed)}"
            )
        try:
            return spec.builder(self.info, **params)
        except TypeError as exc:
            raise DomainError(f"network {name!r}: bad parameters {params}: {exc}") from None


def uniform_per_sample(generators: Sequence[torch.Generator]) -> Tensor:
    """One U(0,1) draw per sample from its own generator, on the generators' device."""
    return torch.stack([torch.rand((), generator=g, device=g.device) for g in generators])


def normal_per_sample(generators: Sequence[torch.Generator]) -> Tensor:
    return torch.stack([torch.randn((), generator=g, device=g.device) for g in generators])


def ot_pair(x0: Tensor, noise: Tensor) -> Tensor:
    """Minibatch OT (Tong et al. 2023; Pooladian et al. 2023): reorder the noise so the total
    squared distance to the data is minimal (exact assignment, scipy)."""
    cost = torch.cdist(x0.flatten(1).double().cpu(), noise.flatten(1).double().cpu()) ** 2
    _, cols = linear_sum_assignment(cost.numpy())
    return noise[torch.as_tensor(cols, device=noise.device)]


class DiffusionFamily(Method):
    """DDPM (ε/v/x0 on a VP schedule), EDM and flow matching: one denoiser, one loss shape."""

    ema_models = ("model",)

    def __post_init__(self) -> None:
        cfg = self.config
        if isinstance(cfg, DiffusionMethod):
            self.sigma_table = schedules.vp_sigmas(cfg.schedule, cfg.timesteps)
            param = VPPrecond(cfg.parameterization, self.sigma_table)
            self.default_sampler = "ddpm"
        elif isinstance(cfg, EDMMethod):
            sd = cfg.sigma_data or float(self.info.get("sigma_data", 0.5))
            param = EDMPrecond(sd)
            self.default_sampler = "heun"
        else:
            param = FlowPrecond()
            self.default_sampler = "euler"
        net = self.build_network("denoiser", self.run.model.name, self.run.model.params)
        self.models = {"model": Denoiser(net, param)}

    def optimizers(self) -> dict[str, OptimizerSpec]:
        return {"model": OptimizerSpec(("model",), self.run.train.lr)}

    # ---- training ----------------------------------------------------------------------
    def training_sigmas(self, generators: Sequence[torch.Generator]) -> Tensor:
        cfg = self.config
        if isinstance(cfg, DiffusionMethod):
            idx = (
                (uniform_per_sample(generators) * cfg.timesteps).long().clamp(max=cfg.timesteps - 1)
            )
            return self.sigma_table[idx]
        if isinstance(cfg, EDMMethod):
            return (cfg.p_mean + cfg.p_std * normal_per_sample(generators).double()).exp()
        u = uniform_per_sample(generators).double()
        if cfg.t_sampling == "logit_normal":
            u = torch.sigmoid(normal_per_sample(generators).double())
        t = (u * cfg.t_max).clamp(min=1e-5)
        return t / (1 - t)

    def phases(self) -> list[Phase]:
        return [Phase("denoise", "model", self._loss)]

    def _loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        device = batch.x.device
        sigma = self.training_sigmas(gens).to(device, torch.float32, non_blocking=True)
        noise = self.domain.noise(batch, gens)
        if isinstance(self.config, FlowMethod) and self.config.ot_pairing:
            align = getattr(self.domain, "align", None)
            if align is not None:
                noise = align(batch, noise)
            elif batch.mask is None:
                noise = ot_pair(batch.x, noise)
            else:
                raise DomainError(
                    f"flow.ot_pairing needs domain {self.domain.name!r} to provide align() "
                    "for masked (variable-size) data"
                )
        drop_u = uniform_per_sample(gens).to(device) if batch.cond is not None else None
        cond = batch.cond
        if drop_u is not None and self.config.cond_drop > 0:
            cond = drop_condition(cond, self.config.cond_drop, uniform=drop_u)
        return models["model"].loss(batch.x, noise, sigma, cond, batch.mask).mean()

    # ---- sampling ----------------------------------------------------------------------
    def sigmas(self, steps: int, schedule: str = "default") -> Tensor:
        cfg = self.config
        if schedule == "diffwave_fast":
            return schedules.diffwave_fast_sigmas()
        if schedule == "karras":
            return schedules.karras_sigmas(steps, *self.sigma_range())
        if isinstance(cfg, DiffusionMethod):
            return schedules.discrete_sigmas(self.sigma_table, steps)
        if isinstance(cfg, EDMMethod):
            return schedules.karras_sigmas(steps, cfg.sigma_min, cfg.sigma_max)
        return schedules.flow_sigmas(steps, cfg.t_max)

    def sigma_range(self) -> tuple[float, float]:
        """(σ_min, σ_max) the method was trained over (flow: t from 1e-3 to t_max)."""
        cfg = self.config
        if isinstance(cfg, DiffusionMethod):
            return self.sigma_table[0].item(), self.sigma_table[-1].item()
        if isinstance(cfg, EDMMethod):
            return cfg.sigma_min, cfg.sigma_max
        return 1e-3 / (1 - 1e-3), cfg.t_max / (1 - cfg.t_max)

    def initial_scale(self, sigma_max: float) -> float:
        """Std of the starting noise: VP models start from N(0, I) in VP scale, as DDPM and
        DiffWave do (σ_max·sqrt(1 + 1/σ_max²) in VE scale); EDM and flows from σ_max·n."""
        if isinstance(self.config, DiffusionMethod):
            return math.sqrt(1 + sigma_max**2)
        return sigma_max

    def _sampler_fn(self, name: str) -> Callable[..., Tensor]:
        if name == "heun" and isinstance(self.config, FlowMethod):
            return S.heun_flow  # flows integrate their ODE in t (no churn)
        return S.get_sampler(name)

    def sampler_options(self, name: str) -> tuple[str, ...]:
        fn = self._sampler_fn(name)
        return tuple(key for key, takes in (("eta", S.ddim), ("churn", S.heun)) if fn is takes)

    def sample(
        self,
        models: dict[str, nn.Module],
        template: Batch,
        generators: Sequence[torch.Generator],
        options: SampleConfig,
        sigmas: Tensor | None = None,
    ) -> Batch:
        name = options.sampler or self.default_sampler
        fn = self._sampler_fn(name)
        if sigmas is None:
            sigmas = self.sigmas(options.steps, options.schedule)
        model = models["model"]
        denoise_cond = guided(model, options.guidance)
        B = len(template)

        def noise() -> Tensor:
            return S.as_float64(self.domain.noise(template, generators))

        clip = self.info.get("x0_clip")  # only domains that ask for it (images) clip x̂0

        def denoise(x: Tensor, s: float) -> Tensor:
            sig = torch.full((B,), s, device=x.device, dtype=torch.float32)
            x0 = denoise_cond(x.float(), sig, template.cond, template.mask).to(x.dtype)
            return x0 if clip is None else x0.clamp(*clip)

        kwargs = {key: getattr(options, key) for key in self.sampler_options(name)}
        x = self.initial_scale(sigmas[0].item()) * noise()
        x = fn(denoise, x, sigmas, noise, **kwargs)
        return template.with_x(x.float())


class GAN(Method):
    """Adversarial training with the engine's losses, lazy R1 and WGAN-GP."""

    default_sampler = "generator"
    ema_models = ("generator",)

    def __post_init__(self) -> None:
        if self.run.discriminator is None:
            raise DomainError("method gan needs a 'discriminator' section in the config")
        gen = self.build_network("generator", self.run.model.name, self.run.model.params)
        disc = self.build_network(
            "discriminator", self.run.discriminator.name, self.run.discriminator.params
        )
        self.models = {"generator": gen, "discriminator": disc}

    def samplers(self) -> tuple[str, ...]:
        return ("generator",)

    def optimizers(self) -> dict[str, OptimizerSpec]:
        cfg: GANMethod = self.config
        lr = self.run.train.lr
        return {
            "generator": OptimizerSpec(("generator",), lr, cfg.betas),
            "discriminator": OptimizerSpec(("discriminator",), cfg.lr_d or lr, cfg.betas),
        }

    def phases(self) -> list[Phase]:
        cfg: GANMethod = self.config
        return [
            Phase("D", "discriminator", self._d_loss, repeat=cfg.d_steps, frozen=("generator",)),
            Phase("G", "generator", self._g_loss, frozen=("discriminator",)),
        ]

    def _fake(self, gen: nn.Module, batch: Batch, gens: Sequence[torch.Generator]) -> Tensor:
        z = gen.sample_latent(batch, gens)
        return gen(z, batch.cond, batch.mask)

    def _d_loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        cfg: GANMethod = self.config
        gen, disc = models["generator"], models["discriminator"]
        with torch.no_grad():
            fake = self._fake(gen, batch, gens)

        def critic(x: Tensor) -> Tensor:
            return disc(x, batch.cond, batch.mask).float()

        loss = gan_losses.d_loss(cfg.loss, critic(batch.x), critic(fake)).mean()
        if cfg.loss == "wgan_gp" and cfg.gp_weight > 0:
            u = uniform_per_sample(gens).to(batch.x.device, batch.x.dtype)
            loss = (
                loss + cfg.gp_weight * gan_losses.gradient_penalty(critic, batch.x, fake, u).mean()
            )
        if cfg.r1_gamma > 0 and step % cfg.r1_every == 0:
            # Lazy regularisation (Karras et al. 2020): every k steps, weighted by k.
            r1 = gan_losses.r1_penalty(critic, batch.x).mean()
            loss = loss + (cfg.r1_gamma / 2) * cfg.r1_every * r1
        return loss

    def _g_loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        cfg: GANMethod = self.config
        fake = self._fake(models["generator"], batch, gens)
        logits = models["discriminator"](fake, batch.cond, batch.mask).float()
        return gan_losses.g_loss(cfg.loss, logits).mean()

    def sample(
        self,
        models: dict[str, nn.Module],
        template: Batch,
        generators: Sequence[torch.Generator],
        options: SampleConfig,
        sigmas: Tensor | None = None,
    ) -> Batch:
        x = self._fake(models["generator"], template, generators)
        return template.with_x(x.float())


METHODS = ("ddpm", "edm", "flow", "gan")


def build_method(run: RunConfig, domain: Domain, info: dict[str, Any]) -> Method:
    cls = GAN if isinstance(run.method, GANMethod) else DiffusionFamily
    return cls(run.method, run, domain, info)


def nfe(method: Method, sampler: str | None, steps: int) -> int:
    """Network evaluations one sample costs (guidance doubles the batch, not the count)."""
    if isinstance(method, GAN):
        return 1
    return S.NFE[sampler or method.default_sampler](steps)


def seeds_to_generators(
    seeds: Sequence[int], device: torch.device | str = "cpu"
) -> list[torch.Generator]:
    """One generator per sample, so a sample depends on its seed alone, not the batch."""
    return [torch.Generator(device=device).manual_seed(int(s)) for s in seeds]


def step_generators(
    seed: int, step: int, positions: Sequence[int], device: torch.device | str = "cpu"
) -> list[torch.Generator]:
    """Training randomness per (run seed, step, position in the global batch): the same draws
    whatever the number of processes the global batch is split over. The generators live on
    the training device, so no noise crosses from host to device."""
    mix = 0x9E3779B97F4A7C15
    base = (seed * mix + step) * mix
    return [torch.Generator(device).manual_seed((base + p) % (2**63 - 1)) for p in positions]

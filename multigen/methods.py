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

from multigen.config import RunConfig, SampleConfig
from multigen.diffusion import samplers as S
from multigen.diffusion import schedules
from multigen.diffusion.guidance import guided
from multigen.diffusion.precond import Denoiser
from multigen.diffusion.processes import build_process
from multigen.domain import Batch, DataInfo, Domain, DomainError
from multigen.fileio import error_text
from multigen.nn import drop_condition
from multigen.randomness import rand

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
    """Base class; see :class:`DiffusionFamily` and :class:`~multigen.adversarial.method.GAN`."""

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

    def build_network(
        self, role: str, name: str, params: dict[str, Any], info: DataInfo | None = None
    ) -> nn.Module:
        """Network ``name`` of ``role`` for this run's data (or ``info``: CycleGAN builds its
        B -> A networks for the swapped shapes)."""
        info = self.info if info is None else info
        spec = self.domain.networks.get(name)
        allowed = sorted(n for n, s in self.domain.networks.items() if s.role == role)
        if spec is None or spec.role != role:
            raise DomainError(
                f"unknown {role} network {name!r} for domain {self.domain.name!r}; "
                f"choose one of: {', '.join(allowed)}"
            )
        try:
            _check_size(name, spec.builder, info, params)
            return spec.builder(info, **params)
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


METHODS = ("ddpm", "edm", "flow", "vesde", "vpsde", "gan")


def build_method(run: RunConfig, domain: Domain, info: Mapping[str, Any]) -> Method:
    if run.method.name == "joint_flow":  # states with categorical parts (multigen/joint.py)
        from multigen.joint import JointFlow

        return JointFlow(run.method, run, domain, DataInfo.of(info))
    if run.method.name == "consistency":  # few-step models (multigen/consistency.py)
        from multigen.consistency import Consistency

        return Consistency(run.method, run, domain, DataInfo.of(info))
    if run.method.name == "gan":  # adversarial training (multigen/adversarial/method.py)
        from multigen.adversarial.method import GAN

        return GAN(run.method, run, domain, DataInfo.of(info))
    if run.method.name == "cyclegan":  # unpaired translation (multigen/adversarial/cyclegan.py)
        from multigen.adversarial.cyclegan import CycleGAN

        return CycleGAN(run.method, run, domain, DataInfo.of(info))
    if run.method.name == "ddgan":  # diffusion GAN (multigen/adversarial/ddgan.py)
        from multigen.adversarial.ddgan import DDGAN

        return DDGAN(run.method, run, domain, DataInfo.of(info))
    if run.method.name == "autoencoder":  # latent diffusion's first stage (multigen/autoencoder.py)
        from multigen.autoencoder import Autoencoder

        return Autoencoder(run.method, run, domain, DataInfo.of(info))
    return DiffusionFamily(run.method, run, domain, DataInfo.of(info))


def nfe(method: Method, sampler: str | None, steps: int, **options: Any) -> int:
    """Network evaluations one sample costs (guidance doubles the batch, not the count);
    ``options``: sample options the count depends on (pc: corrector_steps)."""
    spec = method.sampler(sampler or method.default_sampler)
    return 1 if spec is None else spec.nfe(steps, **options)

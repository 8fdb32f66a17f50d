"""Diffusion processes: everything one family (DDPM, EDM, flow matching) decides.

A process owns its preconditioner (how the network's output becomes x̂0), the σ a training
step draws, the σ list sampling walks by default, the σ range it was trained over, the scale
of the starting noise, and its default sampler. The training loss and the sampling loop are
shared (:class:`multigen.methods.DiffusionFamily`), so a new schedule or family (consistency
training, say) is one new class here, registered in :data:`PROCESSES`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar

import torch
from torch import Tensor

from multigen.diffusion import consistency as C
from multigen.diffusion import samplers as S
from multigen.diffusion import schedules, sde
from multigen.diffusion.precond import EDMPrecond, FlowPrecond, Parameterization, VPPrecond
from multigen.domain import DataInfo, DomainError
from multigen.method_config import (
    ConsistencyMethod,
    DiffusionMethod,
    EDMMethod,
    FlowMethod,
    VESDEMethod,
    VPSDEMethod,
)
from multigen.randomness import rand, randn


class Process:
    """Base class; subclasses set :attr:`default_sampler` and build :attr:`precond`."""

    default_sampler: ClassVar[str]
    precond: Parameterization
    pc_snr: ClassVar[float] = 0.16  # the pc samplers' default snr (Song et al.: VE 0.16)

    def __init__(self, config: Any, info: DataInfo):
        self.config, self.info = config, info

    def training_sigmas(self, generators: Sequence[torch.Generator]) -> Tensor:
        """One σ per sample (float64), drawn from that sample's generator."""
        raise NotImplementedError

    def sampling_sigmas(self, steps: int) -> Tensor:
        """The family's own descending σ list for ``steps`` intervals, ending in 0."""
        raise NotImplementedError

    def sigma_range(self) -> tuple[float, float]:
        """(σ_min, σ_max) the model was trained over."""
        raise NotImplementedError

    def initial_scale(self, sigma_max: float) -> float:
        """Std of the starting noise at the first σ of a sampling list."""
        return sigma_max

    def sampler(self, name: str) -> S.Sampler:
        return S.get_sampler(name)


class VPProcess(Process):
    """DDPM: a discrete variance-preserving schedule, ε/v/x0 prediction (Ho et al. 2020)."""

    default_sampler = "ddpm"
    pc_snr = 0.01  # Song et al.'s snr for VP processes

    def __init__(self, config: DiffusionMethod, info: DataInfo):
        super().__init__(config, info)
        self.sigma_table = schedules.vp_sigmas(config.schedule, config.timesteps)
        self.precond = VPPrecond(config.parameterization, self.sigma_table)

    def training_sigmas(self, generators: Sequence[torch.Generator]) -> Tensor:
        T = self.config.timesteps
        idx = (rand(generators) * T).long().clamp(max=T - 1)
        return self.sigma_table[idx]

    def sampling_sigmas(self, steps: int) -> Tensor:
        return schedules.discrete_sigmas(self.sigma_table, steps)

    def sigma_range(self) -> tuple[float, float]:
        return self.sigma_table[0].item(), self.sigma_table[-1].item()

    def initial_scale(self, sigma_max: float) -> float:
        """N(0, I) in VP scale, as DDPM and DiffWave start: σ_max·sqrt(1 + 1/σ_max²) in VE."""
        return math.sqrt(1 + sigma_max**2)


class EDMProcess(Process):
    """Karras et al. (2022): log-normal training σ, σ_data preconditioning, ρ = 7 sampling."""

    default_sampler = "heun"

    def __init__(self, config: EDMMethod, info: DataInfo):
        super().__init__(config, info)
        self.precond = EDMPrecond(config.sigma_data or info.sigma_data)

    def training_sigmas(self, generators: Sequence[torch.Generator]) -> Tensor:
        c = self.config
        return (c.p_mean + c.p_std * randn(generators).double()).exp()

    def sampling_sigmas(self, steps: int) -> Tensor:
        return schedules.karras_sigmas(steps, self.config.sigma_min, self.config.sigma_max)

    def sigma_range(self) -> tuple[float, float]:
        return self.config.sigma_min, self.config.sigma_max


class FlowProcess(Process):
    """Rectified flow / conditional flow matching, x_t = (1-t)·x0 + t·ε, σ = t/(1-t)."""

    default_sampler = "euler"

    def __init__(self, config: FlowMethod, info: DataInfo):
        super().__init__(config, info)
        self.precond = FlowPrecond()

    def training_sigmas(self, generators: Sequence[torch.Generator]) -> Tensor:
        if self.config.t_sampling == "logit_normal":
            u = torch.sigmoid(randn(generators).double())
        else:
            u = rand(generators).double()
        t = (u * self.config.t_max).clamp(min=1e-5)
        return t / (1 - t)

    def sampling_sigmas(self, steps: int) -> Tensor:
        return schedules.flow_sigmas(steps, self.config.t_max)

    def sigma_range(self) -> tuple[float, float]:
        return 1e-3 / (1 - 1e-3), self.config.t_max / (1 - self.config.t_max)

    def sampler(self, name: str) -> S.Sampler:
        if name == "heun":
            return S.HEUN_FLOW  # flows integrate their ODE in t (no churn)
        return super().sampler(name)


class ConsistencyProcess(Process):
    """Consistency models (:mod:`multigen.diffusion.consistency`): f(x, σ_min) = x; training
    compares adjacent levels of a σ discretisation; sampling calls f at σ_max, then once per
    level of ``method.sample_sigmas`` (the training loss is the method's own)."""

    default_sampler = "consistency"

    def __init__(self, config: ConsistencyMethod, info: DataInfo):
        super().__init__(config, info)
        c = config
        if not c.sigma_min < c.sigma_max:
            raise DomainError(
                f"method.sigma_min {c.sigma_min} must be below method.sigma_max {c.sigma_max}"
            )
        mids = list(c.sample_sigmas)
        if any(not c.sigma_min < s < c.sigma_max for s in mids) or mids != sorted(mids)[::-1]:
            raise DomainError(
                f"method.sample_sigmas {mids} must descend strictly inside (sigma_min "
                f"{c.sigma_min}, sigma_max {c.sigma_max})"
            )
        self.precond = C.ConsistencyPrecond(c.sigma_data or info.sigma_data, c.sigma_min)

    def levels(self, step: int, total: int) -> Tensor:
        """The ascending σ levels training step ``step`` (of ``total``) compares."""
        c = self.config
        n = c.levels if c.mode == "distill" else C.curriculum_levels(step, total, c.s0, c.s1)
        return C.levels(n, c.sigma_min, c.sigma_max, c.rho)

    def training_pairs(
        self, generators: Sequence[torch.Generator], step: int, total: int
    ) -> tuple[Tensor, Tensor]:
        """(σ_lo, σ_hi) per sample (float64): adjacent levels, the interval drawn from that
        sample's generator with log-normal (or uniform) weights."""
        c = self.config
        sig = self.levels(step, total)
        if c.index_sampling == "lognormal":
            probs = C.index_probabilities(sig, c.p_mean, c.p_std)
        else:
            probs = torch.full((sig.shape[0] - 1,), 1.0 / (sig.shape[0] - 1), dtype=torch.float64)
        i = C.draw_intervals(probs, rand(generators))
        return sig[i], sig[i + 1]

    @property
    def max_steps(self) -> int:
        return 1 + len(self.config.sample_sigmas)

    def sampling_sigmas(self, steps: int) -> Tensor:
        if not 1 <= steps <= self.max_steps:
            raise DomainError(
                f"a consistency model samples in 1 to {self.max_steps} steps (sigma_max "
                f"{self.config.sigma_max}, then method.sample_sigmas "
                f"{list(self.config.sample_sigmas)}); got steps {steps}"
            )
        mids = list(self.config.sample_sigmas)[: steps - 1]
        return torch.tensor([self.config.sigma_max, *mids, 0.0], dtype=torch.float64)

    def sigma_range(self) -> tuple[float, float]:
        return self.config.sigma_min, self.config.sigma_max

    def sampler(self, name: str) -> S.Sampler:
        if name != "consistency":
            raise DomainError(
                f"a consistency model samples with sampler 'consistency' (1 to "
                f"{self.max_steps} steps), not {name!r}"
            )
        return C.sampler_record(self.config.sigma_min)


class VESDEProcess(Process):
    """Score SDE, variance exploding (Song et al. 2021; :mod:`multigen.diffusion.sde`):
    continuous t ~ U(eps, 1), σ(t) = σ_min (σ_max/σ_min)^t, ε-prediction (λ(σ) = σ²)."""

    default_sampler = "pc"

    def __init__(self, config: VESDEMethod, info: DataInfo):
        super().__init__(config, info)
        c = config
        self.precond = sde.VESDEPrecond(c.sigma_min, c.sigma_max, c.sigma_data or info.sigma_data)

    def sigma_of(self, t: Tensor) -> Tensor:
        return sde.ve_sigma(t, self.config.sigma_min, self.config.sigma_max)

    def training_sigmas(self, generators: Sequence[torch.Generator]) -> Tensor:
        eps = self.config.eps
        return self.sigma_of(eps + (1 - eps) * rand(generators).double())

    def sampling_sigmas(self, steps: int) -> Tensor:
        """``steps`` times uniform from 1 to sampling_eps, then 0 (the final x̂0 step)."""
        t = torch.linspace(1.0, self.config.sampling_eps, steps, dtype=torch.float64)
        return torch.cat([self.sigma_of(t), t.new_zeros(1)])

    def sigma_range(self) -> tuple[float, float]:
        t = torch.tensor([self.config.eps, 1.0], dtype=torch.float64)
        lo, hi = self.sigma_of(t).tolist()
        return lo, hi


class VPSDEProcess(VESDEProcess):
    """Score SDE, variance preserving (Song et al. 2021): β(t) linear from β_min to β_max,
    continuous t ~ U(eps, 1), ε-prediction; prior N(0, I) in the VP state."""

    pc_snr = 0.01

    def __init__(self, config: VPSDEMethod, info: DataInfo):
        Process.__init__(self, config, info)
        self.precond = sde.VPSDEPrecond(config.beta_min, config.beta_max)

    def sigma_of(self, t: Tensor) -> Tensor:
        return sde.vp_sigma(t, self.config.beta_min, self.config.beta_max)

    def initial_scale(self, sigma_max: float) -> float:
        return math.sqrt(1 + sigma_max**2)


PROCESSES: dict[str, type[Process]] = {
    "ddpm": VPProcess,
    "edm": EDMProcess,
    "flow": FlowProcess,
    "consistency": ConsistencyProcess,
    "vesde": VESDEProcess,
    "vpsde": VPSDEProcess,
}


def build_process(config: Any, info: DataInfo) -> Process:
    return PROCESSES[config.name](config, info)

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

from multigen.config import DiffusionMethod, EDMMethod, FlowMethod
from multigen.diffusion import samplers as S
from multigen.diffusion import schedules
from multigen.diffusion.precond import EDMPrecond, FlowPrecond, Parameterization, VPPrecond
from multigen.domain import DataInfo
from multigen.randomness import rand, randn


class Process:
    """Base class; subclasses set :attr:`default_sampler` and build :attr:`precond`."""

    default_sampler: ClassVar[str]
    precond: Parameterization

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


PROCESSES: dict[str, type[Process]] = {"ddpm": VPProcess, "edm": EDMProcess, "flow": FlowProcess}


def build_process(config: Any, info: DataInfo) -> Process:
    return PROCESSES[config.name](config, info)

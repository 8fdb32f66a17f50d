"""Samplers: pure functions over a denoiser and a descending σ list ending in 0.

``denoise(x, sigma) -> x̂0`` takes the float64 state and a scalar σ (float); ``noise()``
returns fresh standard noise in the domain's state space (per-sample seeded by the caller).
All updates are in VE form x = x0 + σ·n, where DDIM is the exact Euler step of the
probability-flow ODE and is the same update as flow-matching Euler (see tests).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import Tensor

from multigen.diffusion import sde

DenoiseFn = Callable[[Tensor, float], Tensor]
NoiseFn = Callable[[], Tensor]


def ddim(denoise: DenoiseFn, x: Tensor, sigmas: Tensor, noise: NoiseFn, eta: float = 0.0) -> Tensor:
    """DDIM (Song et al. 2021). η = 0: deterministic; η = 1: DDPM ancestral sampling.

    The stochastic part splits σ_next into σ_down (deterministic move) and σ_up (fresh
    noise), σ_up² = η²·σ_next²·(σ² - σ_next²)/σ², which is DDIM's σ_t(η) in VE units.
    η > 1 injects more noise than the posterior, capped at σ_up = σ_next (x̂0 re-noised
    afresh). That lowers the sampling temperature: on Gaussian data the covariance shrinks
    (see tests), trading diversity for cleaner samples.
    """
    sig = sigmas.tolist()
    for s, s_next in zip(sig[:-1], sig[1:]):
        x0 = denoise(x, s)
        if s_next == 0:
            x = x0
            continue
        s_up = min(s_next, eta * math.sqrt(max(s_next**2 * (s**2 - s_next**2) / s**2, 0.0)))
        s_down = math.sqrt(s_next**2 - s_up**2)
        x = x0 + (s_down / s) * (x - x0)
        if s_up > 0:
            x = x + s_up * noise()
    return x


def ddpm(denoise: DenoiseFn, x: Tensor, sigmas: Tensor, noise: NoiseFn) -> Tensor:
    """DDPM ancestral sampling (Ho et al. 2020): the posterior q(x_{t-1} | x_t, x̂0)."""
    return ddim(denoise, x, sigmas, noise, eta=1.0)


def euler(denoise: DenoiseFn, x: Tensor, sigmas: Tensor, noise: NoiseFn) -> Tensor:
    """First-order probability-flow ODE step dx/dσ = (x - D)/σ (= DDIM η=0 = flow Euler)."""
    return ddim(denoise, x, sigmas, noise, eta=0.0)


def heun(
    denoise: DenoiseFn,
    x: Tensor,
    sigmas: Tensor,
    noise: NoiseFn,
    churn: float = 0.0,
    s_tmin: float = 0.0,
    s_tmax: float = float("inf"),
    s_noise: float = 1.0,
) -> Tensor:
    """EDM's 2nd-order Heun sampler (Karras et al. 2022, Algorithm 2), optional churn."""
    sig = sigmas.tolist()
    n = len(sig) - 1
    for s, s_next in zip(sig[:-1], sig[1:]):
        gamma = min(churn / n, math.sqrt(2) - 1) if s_tmin <= s <= s_tmax else 0.0
        s_hat = s * (1 + gamma)
        if gamma > 0:
            x = x + math.sqrt(s_hat**2 - s**2) * s_noise * noise()
        d = (x - denoise(x, s_hat)) / s_hat
        x_next = x + (s_next - s_hat) * d
        if s_next > 0:
            d_next = (x_next - denoise(x_next, s_next)) / s_next
            x_next = x + (s_next - s_hat) * (d + d_next) / 2
        x = x_next
    return x


def heun_flow(denoise: DenoiseFn, x: Tensor, sigmas: Tensor, noise: NoiseFn) -> Tensor:
    """Heun on the flow-matching ODE dx_t/dt = (x_t - x̂0)/t, integrated in t = σ/(1+σ).

    Same NFE as :func:`heun`; for flows (σ_max = t/(1-t) ≈ 10⁴) the σ-space corrector would
    multiply the denoiser's error by (σ - σ_next)/σ_next, while in t it stays bounded.
    """
    sig = sigmas.tolist()
    for s, s_next in zip(sig[:-1], sig[1:]):
        t, t_next = s / (1 + s), s_next / (1 + s_next)
        xf = x / (1 + s)
        v = (xf - denoise(x, s)) / t
        xf_next = xf + (t_next - t) * v
        if s_next > 0:
            v_next = (xf_next - denoise(xf_next * (1 + s_next), s_next)) / t_next
            xf_next = xf + (t_next - t) * (v + v_next) / 2
        x = xf_next * (1 + s_next)
    return x


def dpmpp_2m(denoise: DenoiseFn, x: Tensor, sigmas: Tensor, noise: NoiseFn) -> Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022): multistep 2nd order in λ = -log σ, data prediction;
    the deterministic (η = 0) case of :func:`dpmpp_2m_sde`."""
    return dpmpp_2m_sde(denoise, x, sigmas, noise, eta=0.0)


def dpmpp_2m_sde(
    denoise: DenoiseFn, x: Tensor, sigmas: Tensor, noise: NoiseFn, eta: float = 1.0
) -> Tensor:
    """DPM-Solver++(2M) SDE (Lu et al. 2022; the midpoint form of k-diffusion): the
    multistep data-prediction solver of the reverse SDE. At first order with η = 1 each
    step *is* DDPM's posterior step (same mean and noise); the second-order term corrects
    the drift with the previous x̂0 (step ratio h/h_prev), so few steps keep ancestral
    sampling's noise. η = 0 is the ODE solver DPM-Solver++(2M).
    """
    sig = sigmas.tolist()
    prev_x0: Tensor | None = None
    prev_h = 0.0
    for s, s_next in zip(sig[:-1], sig[1:]):
        x0 = denoise(x, s)
        if s_next == 0:
            x = x0
            break
        h = math.log(s) - math.log(s_next)
        gain = -math.expm1(-(1 + eta) * h)  # weight of x̂0 in the posterior mean
        x = (s_next / s) * math.exp(-eta * h) * x + gain * x0
        if prev_x0 is not None:
            x = x + 0.5 * gain * (h / prev_h) * (x0 - prev_x0)
        if eta > 0:
            x = x + s_next * math.sqrt(-math.expm1(-2 * eta * h)) * noise()
        prev_x0, prev_h = x0, h
    return x


# sampler keywords a user sets (fields of SampleConfig); snr/corrector_steps: the pc samplers
OPTIONS = ("eta", "churn", "snr", "corrector_steps")


def one_call_per_step(steps: int) -> int:
    return steps


def heun_calls(steps: int) -> int:
    """Two calls per interval but one on the last (its step to σ = 0 is first order)."""
    return 2 * steps - 1


@dataclass(frozen=True)
class Sampler:
    """One registry record: every layer (methods, API, CLI, benchmarks) asks it.

    ``calls(steps)`` is the number of network evaluations for ``steps`` σ intervals; the
    user options it takes are read from ``fn``'s signature, so they cannot drift apart.
    """

    name: str
    fn: Callable[..., Tensor]
    calls: Callable[..., int] = one_call_per_step  # (steps, **options it depends on)
    description: str = ""

    @property
    def options(self) -> tuple[str, ...]:
        return tuple(p for p in inspect.signature(self.fn).parameters if p in OPTIONS)

    def nfe(self, steps: int, **options: Any) -> int:
        """Network calls for ``steps`` intervals; ``options`` (sample options, None = unset)
        matter where ``calls`` takes them (pc: corrector_steps)."""
        takes = inspect.signature(self.calls).parameters
        given = {k: v for k, v in options.items() if k in takes and v is not None}
        return self.calls(steps, **given)

    def steps_for_nfe(self, budget: int, **options: Any) -> int:
        """The most σ intervals whose NFE stays within ``budget`` (at least one)."""
        steps = 1
        while self.nfe(steps + 1, **options) <= budget:
            steps += 1
        return steps


SAMPLERS: dict[str, Sampler] = {
    s.name: s
    for s in (
        Sampler("ddpm", ddpm, description="ancestral (DDPM's posterior steps)"),
        Sampler("ddim", ddim, description="DDIM; eta 0 deterministic, 1 ancestral"),
        Sampler("euler", euler, description="Euler on the probability-flow ODE"),
        Sampler("heun", heun, heun_calls, "EDM's 2nd-order Heun, optional churn"),
        Sampler("dpmpp_2m", dpmpp_2m, description="DPM-Solver++(2M)"),
        Sampler("dpmpp_2m_sde", dpmpp_2m_sde, description="DPM-Solver++(2M) SDE; eta 1 default"),
        Sampler("euler_maruyama", sde.euler_maruyama, description="Euler–Maruyama, reverse SDE"),
        Sampler("pc", sde.pc, sde.pc_calls, "predictor–corrector: reverse diffusion + Langevin"),
        Sampler("pc_em", sde.pc_em, sde.pc_calls, "predictor–corrector: Euler–Maruyama + Langevin"),
    )
}
# Heun for flow matching integrates in t; methods that need it ask for this record by name.
HEUN_FLOW = Sampler("heun", heun_flow, heun_calls, "Heun on the flow ODE in t")


def get_sampler(name: str) -> Sampler:
    if name not in SAMPLERS:
        raise ValueError(f"unknown sampler {name!r}; choose one of: {', '.join(SAMPLERS)}")
    return SAMPLERS[name]


def as_float64(x: Tensor) -> Tensor:
    """Sampler state lives in float64 where the device supports it cheaply (CPU)."""
    return x.double() if x.device.type == "cpu" else x.float()

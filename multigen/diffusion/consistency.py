"""Consistency models: the pieces that know no method, run or domain.

A consistency function f(x, σ) maps any point of a probability-flow ODE trajectory to the
trajectory's end at σ_min, so one call turns noise into a sample (Song et al. 2023). Here f
is the engine's denoiser with its own coefficients (Song et al. 2023, Appendix C):

    f(x, σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x, c_noise(σ)),
    c_skip = σ_d² / ((σ - σ_min)² + σ_d²),  c_out = σ_d·(σ - σ_min) / sqrt(σ_d² + σ²),

so f(x, σ_min) = x whatever the network (the boundary condition) and, for σ ≫ σ_min, the
coefficients are EDM's: an EDM-trained network is a good starting point for the student.

Training compares f at two adjacent levels σ_lo < σ_hi of a discretisation of
[σ_min, σ_max] on one trajectory: ``f(x_hi, σ_hi)`` against the stop-gradient
``f(x_lo, σ_lo)``. Distillation (CD) gets x_lo from x_hi by one Heun step of a teacher's
ODE; training from scratch (CT) uses the same noise at both levels, x_lo = x0 + σ_lo·n,
an unbiased one-sample estimate of that step. The improved recipe (Song & Dhariwal 2023):
pseudo-Huber distance, weight 1/(σ_hi - σ_lo), the level index drawn with log-normal
weights, the number of levels doubled on a curriculum from s0 + 1 to s1 + 1, and no EMA
teacher (θ⁻ = stop-grad θ), which Geng et al. (2024, ECT) keep too.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable

import torch
from torch import Tensor

from multigen.diffusion import samplers as S
from multigen.diffusion.precond import Coefficients, Parameterization, masked_mean
from multigen.diffusion.schedules import karras_sigmas

ConsistencyFn = Callable[[Tensor, Tensor, Tensor | None, Tensor | None], Tensor]


class ConsistencyPrecond(Parameterization):
    """EDM's preconditioning shifted so that f(x, σ_min) = x (see the module docstring)."""

    name = "consistency"

    def __init__(self, sigma_data: float, sigma_min: float):
        self.sigma_data, self.sigma_min = sigma_data, sigma_min

    def coefficients(self, sigma: Tensor) -> Coefficients:
        sd = self.sigma_data
        shifted = sigma - self.sigma_min
        total = (sigma**2 + sd**2).sqrt()
        return Coefficients(
            c_skip=sd**2 / (shifted**2 + sd**2),
            c_out=shifted * sd / total,
            c_in=1 / total,
            c_noise=250.0 * sigma.log(),  # EDM's ln(σ)/4 on the engine's 0..1000 scale
        )


# ---- discretisation ---------------------------------------------------------------------
def levels(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> Tensor:
    """``n`` ascending σ from σ_min to σ_max (Karras et al. 2022, ρ spacing), float64."""
    return karras_sigmas(n, sigma_min, sigma_max, rho)[:-1].flip(0)


def curriculum_levels(step: int, total: int, s0: int = 10, s1: int = 1280) -> int:
    """Improved CT's discretisation curriculum (Song & Dhariwal 2023, eq. 7): the number of
    levels starts at s0 + 1 and doubles every K' = ⌊K / (log2(s1/s0) + 1)⌋ steps up to
    s1 + 1, for a run of K = ``total`` steps."""
    stages = math.floor(math.log2(s1 / s0)) + 1
    every = max(1, total // stages)
    return min(s0 * 2 ** (step // every), s1) + 1


def index_probabilities(sigmas: Tensor, p_mean: float, p_std: float) -> Tensor:
    """Weights of the intervals [σ_i, σ_i+1] of an ascending σ list (improved CT, eq. 8):
    the log-normal N(p_mean, p_std²) mass of ln σ between the two levels, normalised."""
    z = (sigmas.double().log() - p_mean) / (math.sqrt(2) * p_std)
    mass = torch.erf(z[1:]) - torch.erf(z[:-1])
    return mass / mass.sum()


def draw_intervals(probs: Tensor, uniform: Tensor) -> Tensor:
    """Interval index per sample from its own U(0,1) draw (inverse CDF), ``[B]`` long."""
    cdf = probs.double().cumsum(0)
    idx = torch.searchsorted(cdf, uniform.double().to(cdf.device), right=True)
    return idx.clamp(max=probs.shape[0] - 1)


# ---- the loss ---------------------------------------------------------------------------
def _expand(v: Tensor, ndim: int) -> Tensor:
    return v.reshape(v.shape + (1,) * (ndim - v.ndim))


def heun_step(
    denoise: ConsistencyFn,
    x: Tensor,
    sigma: Tensor,
    sigma_next: Tensor,
    cond: Tensor | None = None,
    mask: Tensor | None = None,
) -> Tensor:
    """One Heun step of the probability-flow ODE dx/dσ = (x - D(x, σ))/σ from per-sample
    ``sigma`` to ``sigma_next`` (both ``[B]``, > 0): the teacher's move in distillation."""
    s, s_next = _expand(sigma, x.ndim).to(x.dtype), _expand(sigma_next, x.ndim).to(x.dtype)
    d = (x - denoise(x, sigma, cond, mask).to(x.dtype)) / s
    x_euler = x + (s_next - s) * d
    d_next = (x_euler - denoise(x_euler, sigma_next, cond, mask).to(x.dtype)) / s_next
    return x + (s_next - s) * (d + d_next) / 2


def distance(a: Tensor, b: Tensor, mask: Tensor | None, kind: str, c: float) -> Tensor:
    """Per-sample distance ``[B]``: ``pseudo_huber`` sqrt(|a-b|² + c²) - c over the real
    elements, or ``l2`` the mean squared difference."""
    err = (a.float() - b.float()) ** 2
    if kind == "l2":
        return masked_mean(err, mask)
    if mask is not None:
        err = err * _expand(mask.to(err.dtype), err.ndim)
    return (err.flatten(1).sum(1) + c**2).sqrt() - c


def huber_c(real_elements: int) -> float:
    """Improved CT's c = 0.00054·sqrt(d) for d dimensions of data."""
    return 0.00054 * math.sqrt(real_elements)


def consistency_loss(
    f: ConsistencyFn,
    x_hi: Tensor,
    sigma_hi: Tensor,
    x_lo: Tensor,
    sigma_lo: Tensor,
    cond: Tensor | None = None,
    mask: Tensor | None = None,
    kind: str = "pseudo_huber",
    c: float = 0.0,
    weighting: str = "inverse_step",
) -> Tensor:
    """λ(σ_lo, σ_hi)·d(f(x_hi, σ_hi), stop-grad f(x_lo, σ_lo)), per sample ``[B]``."""
    online = f(x_hi.float(), sigma_hi.float(), cond, mask)
    with torch.no_grad():
        target = f(x_lo.float(), sigma_lo.float(), cond, mask)
    loss = distance(online, target, mask, kind, c)
    if weighting == "inverse_step":
        loss = loss / (sigma_hi - sigma_lo).to(loss)
    return loss


# ---- sampling ---------------------------------------------------------------------------
def consistency_sampler(
    denoise: S.DenoiseFn, x: Tensor, sigmas: Tensor, noise: S.NoiseFn, sigma_min: float = 0.0
) -> Tensor:
    """Multistep consistency sampling (Song et al. 2023, Algorithm 1): x̂0 = f(x, σ_0), then
    for each further level τ of ``sigmas`` (ending in 0), re-noise x̂0 to τ with
    sqrt(τ² - σ_min²)·n (x̂0 already carries σ_min) and map it back: one call per level."""
    sig = [s for s in sigmas.tolist() if s > 0]
    x0 = denoise(x, sig[0])
    for tau in sig[1:]:
        x = x0 + math.sqrt(max(tau**2 - sigma_min**2, 0.0)) * noise()
        x0 = denoise(x, tau)
    return x0


def sampler_record(sigma_min: float) -> S.Sampler:
    """The ``consistency`` sampler of a model whose boundary is at ``sigma_min``."""
    fn = functools.partial(consistency_sampler, sigma_min=sigma_min)
    return S.Sampler("consistency", fn, description="consistency model: one call per level")

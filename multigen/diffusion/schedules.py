"""Noise schedules, all expressed as VE noise levels σ (x = x0 + σ·n).

A variance-preserving (DDPM) level with cumulative ᾱ maps to σ = sqrt((1-ᾱ)/ᾱ); a flow
matching time t maps to σ = t/(1-t). Samplers only ever see descending σ lists ending in 0.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

VP_SCHEDULES = ("linear", "cosine", "polynomial_2")


def vp_alphas_bar(kind: str, timesteps: int) -> Tensor:
    """Cumulative ᾱ_i for the discrete noise levels i = 1..T (float64, decreasing)."""
    T = timesteps
    if kind == "linear":
        # Ho et al. (2020): β from 1e-4 to 0.02 at T=1000; rescaled for other T (Nichol & Dhariwal).
        scale = 1000.0 / T
        betas = torch.linspace(scale * 1e-4, scale * 0.02, T, dtype=torch.float64)
        return torch.cumprod(1.0 - betas, 0)
    if kind == "cosine":
        # Nichol & Dhariwal (2021), s = 0.008, β clipped at 0.999.
        s = 0.008
        steps = torch.arange(T + 1, dtype=torch.float64) / T
        f = torch.cos((steps + s) / (1 + s) * math.pi / 2) ** 2
        betas = (1 - f[1:] / f[:-1]).clamp(max=0.999)
        return torch.cumprod(1.0 - betas, 0)
    if kind == "polynomial_2":
        # Hoogeboom et al. (2022) EDM for molecules: ᾱ = (1 - (t/T)²)², per-step ratio clipped
        # at 0.001, then squeezed into [1e-5, 1 - 1e-5] ("precision" 1e-5).
        steps = T + 1
        x = torch.linspace(0, steps, steps, dtype=torch.float64)
        alphas2 = (1 - (x / steps) ** 2) ** 2
        alphas2 = torch.cat([torch.ones(1, dtype=torch.float64), alphas2])
        ratio = (alphas2[1:] / alphas2[:-1]).clamp(0.001, 1.0)
        alphas2 = torch.cumprod(ratio, 0)
        precision = 1e-5
        alphas2 = (1 - 2 * precision) * alphas2 + precision
        return alphas2[1:]  # levels 1..T (level 0 is the data)
    raise ValueError(f"unknown schedule {kind!r}; choose one of: {', '.join(VP_SCHEDULES)}")


def vp_sigmas(kind: str, timesteps: int) -> Tensor:
    """VE σ for each discrete VP level (ascending, float64)."""
    ab = vp_alphas_bar(kind, timesteps)
    return ((1 - ab) / ab).sqrt()


def karras_sigmas(n: int, sigma_min: float, sigma_max: float, rho: float = 7.0) -> Tensor:
    """Karras et al. (2022) eq. 5: n levels from σ_max to σ_min, then a final 0."""
    ramp = torch.linspace(0, 1, n, dtype=torch.float64)
    lo, hi = sigma_min ** (1 / rho), sigma_max ** (1 / rho)
    sigmas = (hi + ramp * (lo - hi)) ** rho
    return torch.cat([sigmas, sigmas.new_zeros(1)])


def discrete_sigmas(table: Tensor, n: int) -> Tensor:
    """``n`` of a discrete schedule's levels, evenly spaced from the top ("trailing"), then 0."""
    T = table.shape[0]
    idx = torch.linspace(T - 1, 0, n, dtype=torch.float64).round().long()
    return torch.cat([table[idx], table.new_zeros(1)])


def flow_sigmas(n: int, t_max: float) -> Tensor:
    """Uniform flow-matching times t_max..0 mapped to σ = t/(1-t)."""
    t = torch.linspace(t_max, 0, n + 1, dtype=torch.float64)
    return t / (1 - t)


def sigma_to_index(sigma: Tensor, table: Tensor) -> Tensor:
    """Continuous level index of σ in an ascending discrete table (interpolated in log σ)."""
    log_table = table.log().to(sigma.device, torch.float64)
    floor = table[:1].to(sigma.device, torch.float64)  # a tensor, not .item(): no graph break
    log_s = torch.maximum(sigma.to(torch.float64), floor).log()
    hi = torch.searchsorted(log_table, log_s).clamp(1, table.shape[0] - 1)
    lo = hi - 1
    w = ((log_s - log_table[lo]) / (log_table[hi] - log_table[lo])).clamp(0, 1)
    return lo.double() + w

"""Exact log-likelihood through the probability-flow ODE (Song et al. 2021, appendix D).

In the suite's VE form x = x0 + σ·n every diffusion family's probability-flow ODE is
dx/dσ = (x - D(x, σ))/σ. Integrated in u = log σ it reads

    dx/du = f(x, u) = x - D(x, e^u),        div f = dim - tr(∂D/∂x),

and the instantaneous change of variables gives, from the data at σ_min to σ_max,

    log p_σmin(x) = log π(x(σ_max)) + ∫ div f du,

with π the process's prior N(0, s²I), s = its starting-noise scale at σ_max (σ_max for VE-type
processes, sqrt(1 + σ_max²) for VP-type). The trace is exact (dim backward passes, for low
dimension) or Hutchinson's estimate E[vᵀ(∂D/∂x)v] with Rademacher or Gaussian probes v,
drawn once per sample and kept for the whole trajectory (as the paper does, so the ODE stays
smooth). The integrator is fixed-step RK4 in u, so a sample's result does not depend on its
batch-mates (an adaptive solver with a shared step would).

Like the paper, the density is that of the model's marginal at σ_min (its lowest trained
level), not at σ = 0; continuous data is scored as it is, quantised data (images) is
dequantised first (see :func:`dequantize`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from multigen.randomness import rand, randn

# D(x, σ) with x [B, ...] float64 (requires grad), σ [B] float64 -> x̂0 like x
DenoiseFn = Callable[[Tensor, Tensor], Tensor]

TRACES = ("hutchinson", "exact")
PROBES = ("rademacher", "gaussian")
EXACT_MAX_DIM = 1024  # the exact trace costs one backward pass per dimension


@dataclass
class ODELikelihood:
    """Per-sample results in the state's own units (network scale), nats."""

    log_prob: Tensor  # [B] log p_σmin(x)
    prior_log_prob: Tensor  # [B] log π(x(σ_max))
    delta: Tensor  # [B] ∫ div f du
    nfe: int  # network evaluations per sample (forward passes)


def gaussian_log_prob(x: Tensor, std: float) -> Tensor:
    """log N(x; 0, std² I) per sample."""
    flat = x.reshape(x.shape[0], -1)
    d = flat.shape[1]
    return -0.5 * (flat**2).sum(1) / std**2 - d * (math.log(std) + 0.5 * math.log(2 * math.pi))


def _probes(generators: Sequence[torch.Generator], shape, kind: str, k: int) -> list[Tensor]:
    out = []
    for _ in range(k):
        if kind == "rademacher":
            out.append(rand(generators, shape, torch.float64).lt(0.5).double() * 2 - 1)
        else:
            out.append(randn(generators, shape, torch.float64))
    return out


def _drift_and_divergence(
    denoise: DenoiseFn, x: Tensor, sigma: float, trace: str, probes: list[Tensor]
) -> tuple[Tensor, Tensor]:
    """f = x - D(x, σ) and div f per sample (exact or Hutchinson)."""
    B = x.shape[0]
    dim = x[0].numel()
    with torch.enable_grad():
        xr = x.detach().requires_grad_(True)
        d = denoise(xr, torch.full((B,), sigma, dtype=torch.float64, device=x.device))
        if trace == "exact":
            flat = d.reshape(B, dim)
            tr = torch.zeros(B, dtype=torch.float64, device=x.device)
            for i in range(dim):
                (g,) = torch.autograd.grad(flat[:, i].sum(), xr, retain_graph=i < dim - 1)
                tr = tr + g.reshape(B, dim)[:, i].double()
        else:
            tr = torch.zeros(B, dtype=torch.float64, device=x.device)
            for j, v in enumerate(probes):
                (g,) = torch.autograd.grad((d * v).sum(), xr, retain_graph=j < len(probes) - 1)
                tr = tr + (g.double() * v).reshape(B, -1).sum(1)
            tr = tr / len(probes)
    return (x - d.detach()).double(), dim - tr.detach()


def ode_log_likelihood(
    denoise: DenoiseFn,
    x: Tensor,
    sigma_min: float,
    sigma_max: float,
    prior_std: float,
    generators: Sequence[torch.Generator],
    steps: int = 64,
    trace: str = "hutchinson",
    probes: int = 1,
    probe: str = "rademacher",
) -> ODELikelihood:
    """log p_σmin(x) per sample by the probability-flow ODE (RK4 in log σ, ``steps`` steps).

    ``generators``: one per sample, for the Hutchinson probes."""
    if trace not in TRACES:
        raise ValueError(f"unknown trace {trace!r}; choose one of: {', '.join(TRACES)}")
    if probe not in PROBES:
        raise ValueError(f"unknown probe {probe!r}; choose one of: {', '.join(PROBES)}")
    if not 0 < sigma_min < sigma_max:
        raise ValueError(f"need 0 < sigma_min < sigma_max, got {sigma_min}, {sigma_max}")
    if steps < 1 or probes < 1:
        raise ValueError(f"steps and probes must be >= 1, got {steps}, {probes}")
    dim = x[0].numel()
    if trace == "exact" and dim > EXACT_MAX_DIM:
        raise ValueError(
            f"the exact trace needs one backward pass per dimension ({dim}); use the "
            f"Hutchinson estimator above {EXACT_MAX_DIM} dimensions"
        )
    vs = [] if trace == "exact" else _probes(generators, x.shape[1:], probe, probes)
    vs = [v.to(x.device) for v in vs]
    x = x.double()
    u0, u1 = math.log(sigma_min), math.log(sigma_max)
    h = (u1 - u0) / steps
    delta = torch.zeros(x.shape[0], dtype=torch.float64, device=x.device)

    def f(x: Tensor, u: float) -> tuple[Tensor, Tensor]:
        return _drift_and_divergence(denoise, x, math.exp(u), trace, vs)

    u = u0
    for _ in range(steps):
        k1, d1 = f(x, u)
        k2, d2 = f(x + 0.5 * h * k1, u + 0.5 * h)
        k3, d3 = f(x + 0.5 * h * k2, u + 0.5 * h)
        k4, d4 = f(x + h * k3, u + h)
        x = x + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        delta = delta + h / 6 * (d1 + 2 * d2 + 2 * d3 + d4)
        u += h
    prior = gaussian_log_prob(x, prior_std)
    return ODELikelihood(prior + delta, prior, delta, 4 * steps)


def dequantize(x: Tensor, bin_width: float, generators: Sequence[torch.Generator]) -> Tensor:
    """Uniform dequantisation: x + bin_width·u, u ~ U(-½, ½) per element (one generator per
    sample). For 8-bit images in the suite's scale x = k/127.5 - 1 the bin is 1/127.5."""
    u = rand(generators, x.shape[1:], torch.float64).to(x.device) - 0.5
    return x.double() + bin_width * u


def bits_per_dim(log_prob: Tensor, dim: int) -> Tensor:
    """-log₂ p / dim."""
    return -log_prob / (dim * math.log(2))

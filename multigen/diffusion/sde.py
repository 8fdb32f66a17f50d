"""Score SDEs (Song et al. 2021) in the suite's one convention.

Both SDEs are written on the VE state x = x0 + σ·n, so the network is a denoiser
D(x, σ) -> x̂0 like every other family and the samplers walk σ lists:

- VE SDE (NCSN++): σ(t) = σ_min·(σ_max/σ_min)^t, t ∈ [ε, 1]; dx = sqrt(dσ²/dt) dw.
- VP SDE (DDPM++ continuous): β(t) = β_min + t·(β_max - β_min), ᾱ(t) = exp(-∫β) and
  σ(t) = sqrt(1/ᾱ - 1) on the VE state x = x_vp/sqrt(ᾱ); the VP state's SDE
  dx_vp = -½β x_vp dt + sqrt(β) dw is the same process in that scale.

Training draws t ~ U(ε, 1) and uses ε-prediction (c_skip = 1, c_out = -σ), which is the
paper's denoising score matching loss with λ(σ) = σ² weighting for the VE SDE and the
"unweighted" ε loss for the VP SDE. The network's noise input is c_noise = 1000·t.

The reverse-SDE samplers here (:func:`euler_maruyama`, :func:`pc`, :func:`pc_em`) only see a
σ list, so they run on any diffusion family (EDM, DDPM, flow).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from multigen.diffusion.precond import Coefficients, Parameterization

# ---- the two SDEs as maps between t and σ ----------------------------------------------------


def ve_sigma(t: Tensor, sigma_min: float, sigma_max: float) -> Tensor:
    """σ(t) = σ_min (σ_max/σ_min)^t."""
    return sigma_min * (sigma_max / sigma_min) ** t


def ve_time(sigma: Tensor, sigma_min: float, sigma_max: float) -> Tensor:
    """The inverse of :func:`ve_sigma` (extrapolates outside [σ_min, σ_max])."""
    return (sigma / sigma_min).log() / math.log(sigma_max / sigma_min)


def vp_integral(t: Tensor, beta_min: float, beta_max: float) -> Tensor:
    """B(t) = ∫₀ᵗ β(s) ds = β_min·t + ½(β_max - β_min)·t², so ᾱ(t) = exp(-B(t))."""
    return beta_min * t + 0.5 * (beta_max - beta_min) * t**2


def vp_sigma(t: Tensor, beta_min: float, beta_max: float) -> Tensor:
    """VE noise level of the VP SDE at t: σ = sqrt(1/ᾱ - 1) = sqrt(expm1(B(t)))."""
    return torch.expm1(vp_integral(t, beta_min, beta_max)).sqrt()


def vp_time(sigma: Tensor, beta_min: float, beta_max: float) -> Tensor:
    """The inverse of :func:`vp_sigma`: the root t ≥ 0 of B(t) = log(1 + σ²)."""
    b = torch.log1p(sigma**2)
    d = beta_max - beta_min
    if d == 0:
        return b / beta_min
    # t = (-β_min + sqrt(β_min² + 2dB)) / d, written without cancellation at small B
    return 2 * b / (beta_min + (beta_min**2 + 2 * d * b).sqrt())


# ---- parameterisations ---------------------------------------------------------------------


class VESDEPrecond(Parameterization):
    """ε-prediction on the VE SDE: D = x - σ·F(c_in·x, 1000·t(σ)).

    The paper's NCSN++ feeds x unscaled; here the input is scaled to unit variance,
    c_in = 1/sqrt(σ_data² + σ²) (as EDM does), because small backbones (toy MLPs) cannot take
    inputs of std σ_max = 50. The loss and the SDE are the paper's.
    """

    name = "vesde"

    def __init__(self, sigma_min: float, sigma_max: float, sigma_data: float):
        self.sigma_min, self.sigma_max, self.sigma_data = sigma_min, sigma_max, sigma_data

    def coefficients(self, sigma: Tensor) -> Coefficients:
        t = ve_time(sigma.clamp(min=1e-20), self.sigma_min, self.sigma_max)
        return Coefficients(
            c_skip=torch.ones_like(sigma),
            c_out=-sigma,
            c_in=1 / (self.sigma_data**2 + sigma**2).sqrt(),
            c_noise=1000.0 * t,
        )


class VPSDEPrecond(Parameterization):
    """ε-prediction on the VP SDE: the network sees the VP state x/sqrt(1+σ²) and 1000·t(σ)."""

    name = "vpsde"

    def __init__(self, beta_min: float, beta_max: float):
        self.beta_min, self.beta_max = beta_min, beta_max

    def coefficients(self, sigma: Tensor) -> Coefficients:
        t = vp_time(sigma, self.beta_min, self.beta_max)
        return Coefficients(
            c_skip=torch.ones_like(sigma),
            c_out=-sigma,
            c_in=1 / (1 + sigma**2).sqrt(),
            c_noise=1000.0 * t,
        )


# ---- reverse-SDE samplers over σ lists -----------------------------------------------------
# ``denoise(x, σ) -> x̂0``; the score is (x̂0 - x)/σ². Every sampler's last step, to σ = 0,
# returns x̂0 (the paper's "noise removal" step), as every sampler of the suite does.


def _reverse_diffusion_step(x: Tensor, x0: Tensor, s: float, s_next: float, noise) -> Tensor:
    """Song et al.'s reverse-diffusion predictor on the VE form: the variance σ² - σ_next² the
    forward process added over the interval is removed with the score and drawn afresh."""
    var = s**2 - s_next**2
    return x + (var / s**2) * (x0 - x) + math.sqrt(var) * noise()


def _euler_maruyama_step(x: Tensor, x0: Tensor, s: float, s_next: float, noise) -> Tensor:
    """One Euler–Maruyama step of the reverse SDE dx = -2σ·score dσ + sqrt(2σ) dw̄ (time σ,
    the form Karras et al. 2022 write every SDE in): drift and diffusion frozen at σ."""
    g2dt = 2 * s * (s - s_next)  # g(σ)²·|Δσ|
    return x + (g2dt / s**2) * (x0 - x) + math.sqrt(g2dt) * noise()


def langevin(denoise, x: Tensor, s: float, noise, snr: float, steps: int) -> Tensor:
    """Song et al. (2021) Algorithm 4/5 corrector: ``steps`` Langevin steps at level σ,
    x += ε·score + sqrt(2ε)·z, with the paper's step ε = 2·(snr·‖z‖/‖score‖)² taken at the
    values those norms concentrate on when the noise dominates the score, ‖z‖ ≈ √dim and
    ‖score‖ ≈ √dim/σ: ε = 2·(snr·σ)².

    Why not the norms themselves: a per-sample ratio makes each sample's step depend on its
    own position, which biases Langevin dynamics (measured on a 16-dim Gaussian: +14 % variance
    after 20 steps at fixed σ) and is heavy-tailed in low dimension (2-D toy data: steps
    blow up near the modes, where ‖score‖ → 0); the paper's code averages the norms over the
    batch instead, which would make a sample depend on its batch-mates. In image dimensions
    the three agree.
    """
    eps = 2 * (snr * s) ** 2
    for _ in range(steps):
        score = (denoise(x, s) - x) / s**2
        x = x + eps * score + math.sqrt(2 * eps) * noise()
    return x


def _reverse_sde(step, denoise, x, sigmas, noise, snr: float, corrector_steps: int) -> Tensor:
    sig = sigmas.tolist()
    for s, s_next in zip(sig[:-1], sig[1:]):
        if corrector_steps:
            x = langevin(denoise, x, s, noise, snr, corrector_steps)
        x0 = denoise(x, s)
        x = x0 if s_next == 0 else step(x, x0, s, s_next, noise)
    return x


def check_pc_options(snr: float, corrector_steps: int) -> None:
    if not snr > 0:
        raise ValueError(f"snr must be > 0 (the corrector's signal-to-noise ratio), got {snr}")
    if corrector_steps < 0 or int(corrector_steps) != corrector_steps:
        raise ValueError(f"corrector_steps must be an integer >= 0, got {corrector_steps}")


def euler_maruyama(denoise, x: Tensor, sigmas: Tensor, noise) -> Tensor:
    """Euler–Maruyama on the reverse SDE (Song et al. 2021), one network call per step. On the
    VE SDE's own geometric σ list it agrees with the paper's EM predictor to first order in the
    step; the last step returns x̂0."""
    return _reverse_sde(_euler_maruyama_step, denoise, x, sigmas, noise, 1.0, 0)


def pc(
    denoise, x: Tensor, sigmas: Tensor, noise, snr: float = 0.16, corrector_steps: int = 1
) -> Tensor:
    """Predictor–corrector (Song et al. 2021, Algorithm 2/3): at each σ, ``corrector_steps``
    Langevin steps with signal-to-noise ratio ``snr`` (paper: 0.16 for the VE SDE, 0.01 for
    the VP SDE), then the reverse-diffusion predictor. 1 + corrector_steps calls per step."""
    check_pc_options(snr, corrector_steps)
    return _reverse_sde(_reverse_diffusion_step, denoise, x, sigmas, noise, snr, corrector_steps)


def pc_em(
    denoise, x: Tensor, sigmas: Tensor, noise, snr: float = 0.16, corrector_steps: int = 1
) -> Tensor:
    """Predictor–corrector with the Euler–Maruyama predictor and the Langevin corrector."""
    check_pc_options(snr, corrector_steps)
    return _reverse_sde(_euler_maruyama_step, denoise, x, sigmas, noise, snr, corrector_steps)


def pc_calls(steps: int, corrector_steps: int = 1) -> int:
    """One predictor call and ``corrector_steps`` corrector calls per σ interval."""
    return steps * (1 + corrector_steps)

"""DiffWave's fast-sampling noise schedule expressed as the engine's VE σ list.

DiffWave (Kong et al. 2021, sec. 4 / app. B) samples its BASE model in 6 steps with the
inference schedule β = [1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5]: ᾱ_s = Π(1 - β), each step's
noise level is σ_s = sqrt((1 - ᾱ_s) / ᾱ_s) in VE units (x = x0 + σ·n), and their
ancestral update is the DDPM posterior step between consecutive levels — the engine's
``ddpm`` sampler over this σ list, ending in 0. Deterministic samplers (ddim/euler/
dpmpp_2m) may use the same list.

Start noise: DiffWave draws x_T ~ N(0, I) in VP units, i.e. std sqrt(1 + σ_max²) ≈ 1.63 in
VE units (it assumes unit-variance data), where the engine's usual start is σ_max·n.
"""

from __future__ import annotations

import torch

DIFFWAVE_FAST_BETAS = (0.0001, 0.001, 0.01, 0.05, 0.2, 0.5)


def diffwave_fast_sigmas(betas: tuple[float, ...] = DIFFWAVE_FAST_BETAS) -> torch.Tensor:
    """Descending VE σ list (float64) ending in 0: 6 denoiser calls for the default β."""
    ab = torch.cumprod(1 - torch.tensor(betas, dtype=torch.float64), 0)
    sigmas = ((1 - ab) / ab).sqrt().flip(0)
    return torch.cat([sigmas, sigmas.new_zeros(1)])

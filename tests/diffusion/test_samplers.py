"""Known-answer tests: Gaussian data has an analytic denoiser, so every sampler must
reproduce the data mean and covariance."""

import math

import pytest
import torch

from multigen.diffusion import samplers as S
from multigen.diffusion import schedules

MU = torch.tensor([1.0, -2.0], dtype=torch.float64)
COV = torch.tensor([[2.0, 0.6], [0.6, 0.5]], dtype=torch.float64)
N = 4000


def analytic_denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """E[x0 | x0 + σn = x] for x0 ~ N(MU, COV): MU + COV (COV + σ²I)^-1 (x - MU)."""
    gain = COV @ torch.linalg.inv(COV + sigma**2 * torch.eye(2, dtype=torch.float64))
    return MU + (x - MU) @ gain.T


def make_noise(seed: int):
    g = torch.Generator().manual_seed(seed)
    return lambda: torch.randn(N, 2, generator=g, dtype=torch.float64)


def run(name: str, sigmas: torch.Tensor, seed: int = 0, **kw) -> torch.Tensor:
    noise = make_noise(seed)
    x = sigmas[0] * noise()
    return S.get_sampler(name).fn(analytic_denoise, x, sigmas, noise, **kw)


CASES = [
    ("ddpm", {}, 200),
    ("ddim", {"eta": 0.0}, 50),
    ("ddim", {"eta": 0.5}, 100),
    ("euler", {}, 100),
    ("heun", {}, 25),
    ("heun", {"churn": 10.0}, 40),
    ("dpmpp_2m", {}, 20),
    ("dpmpp_2m_sde", {}, 50),
]


@pytest.mark.parametrize("name,kw,steps", CASES)
def test_sampler_reproduces_gaussian(name, kw, steps):
    sigmas = schedules.karras_sigmas(steps, 0.002, 80.0)
    x = run(name, sigmas, **kw)
    # Sampling error of the mean with N=4000 is ~0.02 (sd 1.4); covariance entries ~0.05.
    assert torch.allclose(x.mean(0), MU, atol=0.08), x.mean(0)
    assert torch.allclose(torch.cov(x.T), COV, atol=0.12, rtol=0.06), torch.cov(x.T)


def test_dpmpp_2m_sde_limits():
    """η = 0 is DPM-Solver++(2M); with η = 1 the first step is DDPM's posterior step."""
    sigmas = schedules.karras_sigmas(12, 0.002, 80.0)
    torch.testing.assert_close(run("dpmpp_2m_sde", sigmas, eta=0.0), run("dpmpp_2m", sigmas))
    one_step = sigmas[[0, 1]]  # one step to a non-zero σ: no second-order term yet

    def first(name: str) -> torch.Tensor:
        x = one_step[0] * make_noise(5)()
        return S.get_sampler(name).fn(analytic_denoise, x, one_step, make_noise(6))

    torch.testing.assert_close(first("dpmpp_2m_sde"), first("ddpm"))


def test_ddim_eta_above_one_renoises_and_lowers_temperature():
    """Capped at σ_up = σ_next, a step is x̂0 + σ_next·n exactly; more noise than ancestral
    shrinks the sampled covariance at a fixed step count (a known trade, not an accident)."""
    one_step = schedules.karras_sigmas(12, 0.002, 80.0)[[3, 4]]
    x = one_step[0] * make_noise(1)()
    renoised = analytic_denoise(x, one_step[0].item()) + one_step[1] * make_noise(2)()
    torch.testing.assert_close(
        S.ddim(analytic_denoise, x, one_step, make_noise(2), eta=50.0), renoised
    )
    sigmas = schedules.karras_sigmas(50, 0.002, 80.0)
    spread = [torch.cov(run("ddim", sigmas, eta=eta).T).trace().item() for eta in (1.0, 1.5, 3.0)]
    assert spread[0] > spread[1] > spread[2] > 0.4 * COV.trace().item(), spread


def test_ddim_eta0_is_deterministic():
    sigmas = schedules.karras_sigmas(10, 0.002, 80.0)
    assert torch.equal(run("ddim", sigmas, seed=3), run("ddim", sigmas, seed=3))


def test_dpmpp_20_steps_matches_1000_step_ode():
    # Same initial noise, deterministic ODE: per-sample agreement, not just moments.
    fine = run("heun", schedules.karras_sigmas(500, 0.002, 80.0))
    fast = run("dpmpp_2m", schedules.karras_sigmas(20, 0.002, 80.0))
    euler = run("euler", schedules.karras_sigmas(20, 0.002, 80.0))

    def rms(x):
        return (x - fine).pow(2).mean().sqrt().item()

    # Data sd is ~1.4: 20 DPM++ steps land within 0.06 RMS (measured 0.042), and a second
    # order method must beat first-order Euler at equal NFE by a wide margin (measured 3.3x).
    assert rms(fast) < 0.06
    assert rms(fast) < 0.5 * rms(euler)
    # Second order: 2.5x the steps cuts the error by well over 2.5x (measured 7.7x).
    assert rms(run("dpmpp_2m", schedules.karras_sigmas(50, 0.002, 80.0))) < rms(fast) / 4


def test_ddim_equals_flow_euler():
    """Euler on x_t = (1-t)x0 + tε with v = (x_t - x̂0)/t is DDIM on σ = t/(1-t)."""
    n = 20
    t = torch.linspace(0.999, 0, n + 1, dtype=torch.float64)
    noise = make_noise(1)
    eps = noise()
    # flow Euler in t
    x = eps.clone()  # x at t=0.999 is (1-t)x0 + t ε; start from the same state as below
    x = t[0] * eps
    for a, b in zip(t[:-1], t[1:]):
        s = a / (1 - a)
        x0 = analytic_denoise(x / (1 - a), s.item())
        v = (x - (1 - a) * x0) / a - x0  # ε̂ - x̂0
        x = x + (b - a) * v
    sigmas = t / (1 - t)
    y = S.euler(analytic_denoise, sigmas[0] * eps, sigmas, noise)
    assert torch.allclose(x, y, atol=1e-9)


def test_nfe_accounting():
    heun = S.get_sampler("heun")
    assert heun.nfe(18) == 35  # EDM: 18 Heun steps = 35 NFE
    assert heun.steps_for_nfe(35) == 18 and heun.steps_for_nfe(36) == 18
    assert heun.steps_for_nfe(1) == 1  # at least one interval
    assert S.get_sampler("dpmpp_2m").nfe(20) == 20
    assert S.get_sampler("dpmpp_2m").steps_for_nfe(20) == 20


def test_sampler_options_come_from_the_signatures():
    opts = {name: spec.options for name, spec in S.SAMPLERS.items()}
    assert opts == {"ddpm": (), "ddim": ("eta",), "euler": (), "heun": ("churn",),
                    "dpmpp_2m": (), "dpmpp_2m_sde": ("eta",), "euler_maruyama": (),
                    "pc": ("snr", "corrector_steps"),
                    "pc_em": ("snr", "corrector_steps")}  # fmt: skip
    assert S.HEUN_FLOW.options == () and S.HEUN_FLOW.nfe(18) == 35


def test_unknown_sampler_lists_choices():
    with pytest.raises(ValueError, match="dpmpp_2m"):
        S.get_sampler("plms")


def test_linear_schedule_known_value():
    ab = schedules.vp_alphas_bar("linear", 1000)
    assert math.isclose(ab[-1].item(), 4.036e-5, rel_tol=1e-2)  # DDPM's ᾱ_T
    assert torch.all(ab[1:] < ab[:-1])


@pytest.mark.parametrize("kind", schedules.VP_SCHEDULES)
def test_vp_schedules_decrease_to_noise(kind):
    sig = schedules.vp_sigmas(kind, 1000)
    assert torch.all(sig[1:] > sig[:-1])
    assert sig[0] < 0.1 and sig[-1] > 20


def test_polynomial_2_matches_edm_endpoints():
    ab = schedules.vp_alphas_bar("polynomial_2", 1000)
    # EDM (Hoogeboom 2022): ᾱ squeezed into [1e-5, 1 - 1e-5].
    assert ab.min() >= 1e-5 - 1e-12 and ab.max() <= 1 - 1e-5 + 1e-12
    assert math.isclose(ab[-1].item(), 1e-5, rel_tol=0.01)


def test_karras_endpoints():
    s = schedules.karras_sigmas(18, 0.002, 80.0)
    assert s.shape[0] == 19 and s[-1] == 0
    assert math.isclose(s[0].item(), 80.0) and math.isclose(s[-2].item(), 0.002, rel_tol=1e-9)


def test_sigma_to_index_roundtrip():
    table = schedules.vp_sigmas("cosine", 1000)
    idx = schedules.sigma_to_index(table[[0, 10, 500, 999]], table)
    assert torch.allclose(idx, torch.tensor([0.0, 10.0, 500.0, 999.0], dtype=torch.float64))


def test_flow_heun_in_t_is_accurate_with_few_steps():
    """On the flow grid (σ_max ≈ 10⁴) a perturbed denoiser must not blow up Heun."""
    sigmas = schedules.flow_sigmas(5, 0.9999)

    def rough(x, s):  # analytic denoiser with a 1 % error, as a trained network has
        return analytic_denoise(x, s) * 1.01

    noise = make_noise(0)
    x_init = sigmas[0] * noise()
    flow = S.heun_flow(rough, x_init, sigmas, noise)
    fine = S.euler(analytic_denoise, x_init, schedules.flow_sigmas(1000, 0.9999), noise)
    sigma_space = S.heun(rough, x_init, sigmas, noise)
    err_t = (flow - fine).pow(2).mean().sqrt().item()
    err_sigma = (sigma_space - fine).pow(2).mean().sqrt().item()
    assert err_t < 0.2  # measured ~0.06
    assert err_sigma > 10 * err_t  # why flows do not use the σ-space corrector

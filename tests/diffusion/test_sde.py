"""Score SDEs (Song et al. 2021): the VE/VP processes match their formulas, and the
reverse-SDE samplers reproduce Gaussian data with the exact denoiser."""

import math

import pytest
import torch
from pydantic import ValidationError

from multigen.config import SampleConfig
from multigen.diffusion import samplers as S
from multigen.diffusion import sde
from multigen.diffusion.precond import Denoiser
from multigen.diffusion.processes import VESDEProcess, VPSDEProcess, build_process
from multigen.domain import DataInfo
from multigen.method_config import VESDEMethod, VPSDEMethod
from multigen.randomness import sample_generators

INFO = DataInfo(shape=(2,), sigma_data=0.5)
F64 = torch.float64


def test_ve_sigma_formula_and_inverse():
    t = torch.linspace(0, 1, 11, dtype=F64)
    s = sde.ve_sigma(t, 0.01, 50.0)
    torch.testing.assert_close(s, 0.01 * (50.0 / 0.01) ** t)
    assert s[0].item() == pytest.approx(0.01) and s[-1].item() == pytest.approx(50.0)
    torch.testing.assert_close(sde.ve_time(s, 0.01, 50.0), t)


def test_vp_sigma_formula_and_inverse():
    t = torch.linspace(1e-5, 1, 101, dtype=F64)
    alpha_bar = torch.exp(-(0.1 * t + 0.5 * (20.0 - 0.1) * t**2))  # exp(-∫β), β linear
    s = sde.vp_sigma(t, 0.1, 20.0)
    torch.testing.assert_close(s, ((1 - alpha_bar) / alpha_bar).sqrt())
    torch.testing.assert_close(sde.vp_time(s, 0.1, 20.0), t, rtol=1e-9, atol=1e-12)
    # constant β (β_min = β_max): ᾱ = exp(-βt)
    torch.testing.assert_close(sde.vp_time(sde.vp_sigma(t, 2.0, 2.0), 2.0, 2.0), t)


def _times(process, n=4000):
    sig = process.training_sigmas(sample_generators(range(n)))
    assert sig.dtype == F64 and sig.shape == (n,)
    return sig


def test_ve_process_training_sigmas_are_uniform_in_t():
    p = VESDEProcess(VESDEMethod(sigma_min=0.01, sigma_max=50.0, eps=1e-5), INFO)
    sig = _times(p)
    t = sde.ve_time(sig, 0.01, 50.0)
    assert t.min() >= 1e-5 and t.max() <= 1
    # U(ε, 1): mean ½, variance 1/12 (n = 4000: s.e. 0.0046 and 0.0013)
    assert t.mean().item() == pytest.approx(0.5, abs=0.02)
    assert t.var().item() == pytest.approx(1 / 12, abs=0.006)
    # σ itself is log-uniform between σ(ε) and σ_max
    lo, hi = p.sigma_range()
    assert lo == pytest.approx(0.01 * 5000**1e-5) and hi == pytest.approx(50.0)
    assert sig.min() >= lo and sig.max() <= hi


def test_vp_process_training_sigmas_are_uniform_in_t():
    p = VPSDEProcess(VPSDEMethod(), INFO)
    t = sde.vp_time(_times(p), 0.1, 20.0)
    assert t.min() >= 1e-5 * 0.999 and t.max() <= 1
    assert t.mean().item() == pytest.approx(0.5, abs=0.02)
    assert t.var().item() == pytest.approx(1 / 12, abs=0.006)
    lo, hi = p.sigma_range()
    assert hi == pytest.approx(math.sqrt(math.expm1(0.1 + 0.5 * 19.9)))  # σ(1) ≈ 152
    assert lo == pytest.approx(math.sqrt(math.expm1(0.1 * 1e-5 + 0.5 * 19.9e-10)))
    # the VP prior is N(0, I) in the VP state: std sqrt(1 + σ²) in the VE state
    assert p.initial_scale(hi) == pytest.approx(math.sqrt(1 + hi**2))


@pytest.mark.parametrize("method", [VESDEMethod(), VPSDEMethod()])
def test_sampling_sigmas_walk_t_uniformly_to_eps_then_zero(method):
    p = build_process(method, INFO)
    sig = p.sampling_sigmas(10)
    assert sig.shape == (11,) and sig[-1] == 0 and (sig[:-1].diff() < 0).all()
    t = sde.ve_time(sig[:-1], 0.01, 50.0) if method.name == "vesde" else None
    if t is None:
        t = sde.vp_time(sig[:-1], 0.1, 20.0)
    torch.testing.assert_close(t, torch.linspace(1, method.sampling_eps, 10, dtype=F64))


@pytest.mark.parametrize("method", [VESDEMethod(), VPSDEMethod()])
def test_eps_prediction_loss_targets_the_noise(method):
    """c_skip = 1, c_out = -σ: a network returning the true ε denoises exactly, and its
    loss (the paper's λ(σ) = σ²-weighted score matching for VE) is zero."""
    p = build_process(method, INFO)
    x0 = torch.randn(8, 2)
    noise = torch.randn(8, 2)
    sigma = torch.tensor([0.02, 0.1, 0.5, 1.0, 3.0, 10.0, 40.0, 0.05])

    class Oracle(torch.nn.Module):
        def forward(self, x_in, c_noise, cond=None, mask=None):
            return noise

    d = Denoiser(Oracle(), p.precond)
    torch.testing.assert_close(d(x0 + sigma[:, None] * noise, sigma), x0, atol=1e-4, rtol=0)
    assert d.loss(x0, noise, sigma).abs().max() < 1e-10
    c = p.precond.coefficients(sigma.double())
    t = c.c_noise / 1000  # the network's noise input is 1000·t(σ)
    back = sde.ve_sigma(t, 0.01, 50.0) if method.name == "vesde" else sde.vp_sigma(t, 0.1, 20.0)
    torch.testing.assert_close(back, sigma.double())


# ---- samplers on Gaussian data with the exact denoiser ------------------------------------

MU, STD, DIM, N = 0.7, 0.5, 16, 2000


def gaussian_denoise(x: torch.Tensor, sigma: float) -> torch.Tensor:
    return MU + STD**2 / (STD**2 + sigma**2) * (x - MU)


def draw(name: str, sigmas: torch.Tensor, start: float, seed: int = 0, **kw) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)

    def noise():
        return torch.randn(N, DIM, generator=g, dtype=F64)

    return S.get_sampler(name).fn(gaussian_denoise, start * noise(), sigmas, noise, **kw)


def ve_list(steps):
    t = torch.linspace(1, 1e-5, steps, dtype=F64)
    return torch.cat([sde.ve_sigma(t, 0.01, 50.0), torch.zeros(1, dtype=F64)])


def vp_list(steps):
    t = torch.linspace(1, 1e-3, steps, dtype=F64)
    return torch.cat([sde.vp_sigma(t, 0.1, 20.0), torch.zeros(1, dtype=F64)])


CASES = [
    ("euler_maruyama", "ve", {}),
    ("euler_maruyama", "vp", {}),
    ("pc", "ve", {"snr": 0.16}),
    ("pc", "vp", {"snr": 0.01}),
    ("pc_em", "ve", {"snr": 0.16, "corrector_steps": 2}),
    ("pc_em", "vp", {"snr": 0.01}),
]


@pytest.mark.parametrize("name,kind,kw", CASES)
def test_reverse_sde_samplers_reproduce_a_gaussian(name, kind, kw):
    sig = ve_list(200) if kind == "ve" else vp_list(200)
    start = sig[0].item() if kind == "ve" else math.sqrt(1 + sig[0].item() ** 2)
    x = draw(name, sig, start, **kw)
    # N·DIM = 32,000 values: the pooled mean's s.e. is 0.003, the variance's ~0.002; the
    # samplers' own discretisation (reverse diffusion adds the exact forward variance, the
    # Langevin steps a bias of order snr²) stays within 10 % at 200 steps.
    assert x.mean().item() == pytest.approx(MU, abs=0.02)
    assert x.var(0).mean().item() == pytest.approx(STD**2, rel=0.1)


def test_reverse_sde_samplers_run_on_edm_sigma_lists():
    """Everything is a denoiser over σ: the SDE samplers walk EDM's Karras list as well."""
    from multigen.diffusion import schedules

    sig = schedules.karras_sigmas(100, 0.002, 80.0)
    for name in ("euler_maruyama", "pc"):
        x = draw(name, sig, 80.0)
        assert x.mean().item() == pytest.approx(MU, abs=0.03)
        assert x.var(0).mean().item() == pytest.approx(STD**2, rel=0.15)


def test_langevin_corrector_keeps_and_finds_the_target_distribution():
    """At level σ the corrector's stationary law is p_σ = N(MU, STD² + σ²) (up to its O(ε)
    bias, ε = 2(snr·σ)²): started there it stays; started 3x too wide it contracts to it."""
    g = torch.Generator().manual_seed(3)

    def noise():
        return torch.randn(N, DIM, generator=g, dtype=F64)

    sigma = 0.3
    var = STD**2 + sigma**2
    y = sde.langevin(gaussian_denoise, MU + math.sqrt(var) * noise(), sigma, noise, 0.16, 20)
    assert y.mean().item() == pytest.approx(MU, abs=0.02)
    assert y.var(0).mean().item() == pytest.approx(var, rel=0.05)
    y = sde.langevin(gaussian_denoise, MU + 3 * math.sqrt(var) * noise(), sigma, noise, 0.3, 200)
    assert y.var(0).mean().item() == pytest.approx(var, rel=0.1)


def test_pc_nfe_counts_the_corrector():
    pc = S.get_sampler("pc")
    assert pc.nfe(10) == 20  # one predictor + one corrector call per interval
    assert pc.nfe(10, corrector_steps=3) == 40
    assert pc.nfe(10, corrector_steps=0) == 10
    assert pc.nfe(10, corrector_steps=None) == 20  # unset: the sampler's default
    assert pc.steps_for_nfe(200) == 100 and pc.steps_for_nfe(200, corrector_steps=3) == 50
    assert S.get_sampler("euler_maruyama").nfe(10, corrector_steps=3) == 10


def test_bad_pc_options_are_refused():
    sig = ve_list(5)
    for bad in (0.0, -0.1):
        with pytest.raises(ValueError, match="snr must be > 0"):
            draw("pc", sig, 50.0, snr=bad)
    with pytest.raises(ValueError, match="corrector_steps"):
        draw("pc", sig, 50.0, corrector_steps=-1)
    for field, value in (("snr", 0.0), ("snr", -1.0), ("corrector_steps", -2)):
        with pytest.raises(ValidationError, match=field):
            SampleConfig(**{field: value})


def test_bad_sde_configs_are_refused():
    with pytest.raises(ValidationError, match="sigma_max"):
        VESDEMethod(sigma_min=1.0, sigma_max=0.5)
    with pytest.raises(ValidationError, match="beta_max"):
        VPSDEMethod(beta_min=5.0, beta_max=1.0)
    with pytest.raises(ValidationError):
        VPSDEMethod(eps=0.0)

"""Probability-flow ODE likelihood: on Gaussian data the exact denoiser is known, and so is the
density the ODE must return, log N(x; μ, C + σ_min² I)."""

import math

import pytest
import torch

from multigen.diffusion import likelihood as L
from multigen.randomness import sample_generators

F64 = torch.float64
SIGMA_MIN, SIGMA_MAX = 1e-3, 1e5  # prior N(0, σ_max²) is off from N(μ, C + σ_max²) by ~|μ|/σ_max


def gaussian(mu: torch.Tensor, cov: torch.Tensor):
    """The exact denoiser of N(mu, cov) and its log-density at level σ."""
    eye = torch.eye(len(mu), dtype=F64)
    lam, q = torch.linalg.eigh(cov)

    def denoise(x, sigma):  # μ + C (C + σ²I)⁻¹ (x - μ), per-sample σ, in C's eigenbasis
        gain = lam / (lam + sigma[:, None] ** 2)
        return mu + (((x - mu) @ q) * gain) @ q.T

    def log_prob(x, sigma):
        dist = torch.distributions.MultivariateNormal(mu, cov + sigma**2 * eye)
        return dist.log_prob(x)

    return denoise, log_prob


def isotropic(mu: torch.Tensor, s: float):
    def denoise(x, sigma):
        a = (s**2 / (s**2 + sigma**2)).reshape(-1, *([1] * (x.ndim - 1)))
        return mu + a * (x - mu)

    return denoise


def draw(mu, cov, n, seed=0):
    g = torch.Generator().manual_seed(seed)
    chol = torch.linalg.cholesky(cov)
    return mu + torch.randn(n, len(mu), generator=g, dtype=F64) @ chol.T


MU = torch.tensor([0.5, -1.0, 0.3], dtype=F64)
COV = torch.tensor([[1.0, 0.3, 0.0], [0.3, 0.5, -0.1], [0.0, -0.1, 0.2]], dtype=F64)


def test_exact_trace_equals_the_gaussian_log_density():
    denoise, log_prob = gaussian(MU, COV)
    x = draw(MU, COV, 64)
    res = L.ode_log_likelihood(
        denoise,
        x,
        SIGMA_MIN,
        SIGMA_MAX,
        SIGMA_MAX,
        sample_generators(range(64)),
        steps=128,
        trace="exact",
    )
    truth = log_prob(x, SIGMA_MIN)
    torch.testing.assert_close(res.log_prob, truth, atol=2e-3, rtol=0)
    assert res.nfe == 512
    torch.testing.assert_close(res.log_prob, res.prior_log_prob + res.delta)


def test_rk4_converges_with_steps():
    denoise, log_prob = gaussian(MU, COV)
    x = draw(MU, COV, 16, seed=1)
    truth = log_prob(x, SIGMA_MIN)
    errs = []
    for steps in (8, 16, 32):
        res = L.ode_log_likelihood(
            denoise,
            x,
            SIGMA_MIN,
            SIGMA_MAX,
            SIGMA_MAX,
            sample_generators(range(16)),
            steps=steps,
            trace="exact",
        )
        errs.append((res.log_prob - truth).abs().max().item())
    assert errs[0] > errs[1] > errs[2], errs
    assert errs[1] / errs[2] > 6  # fourth order: ~16x per halving once resolved


@pytest.mark.parametrize("probe", ["rademacher", "gaussian"])
def test_hutchinson_is_unbiased_on_a_correlated_gaussian(probe):
    denoise, log_prob = gaussian(MU, COV)
    n = 400
    x = draw(MU, COV, n, seed=2)
    res = L.ode_log_likelihood(
        denoise,
        x,
        SIGMA_MIN,
        SIGMA_MAX,
        SIGMA_MAX,
        sample_generators(range(n)),
        steps=32,
        probe=probe,
    )
    err = res.log_prob - log_prob(x, SIGMA_MIN)
    # per-sample errors are the probes' noise; their mean is zero within its standard error
    se = err.std().item() / math.sqrt(n)
    assert err.std().item() > 1e-3  # off-diagonal J: one probe is not exact
    assert abs(err.mean().item()) < 4 * se + 5e-3, (err.mean().item(), se)
    more = L.ode_log_likelihood(
        denoise,
        x,
        SIGMA_MIN,
        SIGMA_MAX,
        SIGMA_MAX,
        sample_generators(range(n)),
        steps=32,
        probe=probe,
        probes=8,
    )
    err8 = more.log_prob - log_prob(x, SIGMA_MIN)
    assert err8.std() < err.std() / 2  # 8 probes: ~1/sqrt(8) of the spread


def test_rademacher_is_exact_for_a_diagonal_jacobian_in_image_shape():
    """Isotropic data in a [B, C, H, W] state (as images are): vᵀ(aI)v = a·dim exactly."""
    s, mu = 0.4, 0.1
    x = mu + s * torch.randn(8, 1, 4, 4, generator=torch.Generator().manual_seed(0), dtype=F64)
    res = L.ode_log_likelihood(
        isotropic(mu, s), x, SIGMA_MIN, SIGMA_MAX, SIGMA_MAX, sample_generators(range(8)), steps=128
    )
    var = s**2 + SIGMA_MIN**2
    flat = (x - mu).reshape(8, -1)
    truth = -0.5 * (flat**2).sum(1) / var - 16 * 0.5 * math.log(2 * math.pi * var)
    torch.testing.assert_close(res.log_prob, truth, atol=2e-3, rtol=0)


def test_a_sample_does_not_depend_on_its_batch():
    denoise, _ = gaussian(MU, COV)
    x = draw(MU, COV, 6, seed=3)
    a = L.ode_log_likelihood(
        denoise, x, SIGMA_MIN, SIGMA_MAX, SIGMA_MAX, sample_generators(range(6)), steps=8
    ).log_prob
    b = L.ode_log_likelihood(
        denoise, x[4:], SIGMA_MIN, SIGMA_MAX, SIGMA_MAX, sample_generators(range(4, 6)), steps=8
    ).log_prob
    torch.testing.assert_close(a[4:], b)


def test_dequantisation_and_bits_per_dim():
    x = torch.zeros(3, 1, 2, 2, dtype=F64)
    deq = L.dequantize(x, 1 / 127.5, sample_generators(range(3)))
    assert deq.abs().max() <= 0.5 / 127.5 and deq.std() > 0
    # uniform density on [0, 1)^D: 0 nats, 0 bits; on a 1/256 grid of 8-bit levels: 8 bits/dim
    lp = torch.tensor([0.0, 4 * math.log(256.0)])
    torch.testing.assert_close(L.bits_per_dim(lp, 4), torch.tensor([0.0, -8.0]))


def test_bad_arguments_are_refused():
    denoise = isotropic(0.0, 1.0)
    x = torch.zeros(2, 3, dtype=F64)
    gens = sample_generators(range(2))
    cases = [
        ({"trace": "nope"}, "unknown trace"),
        ({"probe": "nope"}, "unknown probe"),
        ({"steps": 0}, "steps and probes"),
        ({"probes": 0}, "steps and probes"),
    ]
    for kw, match in cases:
        with pytest.raises(ValueError, match=match):
            L.ode_log_likelihood(denoise, x, 0.01, 10.0, 10.0, gens, **kw)
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        L.ode_log_likelihood(denoise, x, 10.0, 1.0, 1.0, gens)
    big = torch.zeros(1, L.EXACT_MAX_DIM + 1, dtype=F64)
    with pytest.raises(ValueError, match="Hutchinson"):
        L.ode_log_likelihood(denoise, big, 0.01, 10.0, 10.0, gens[:1], trace="exact")


def test_domains_without_density_units_are_refused():
    from multigen.domain import DataInfo, DomainError
    from multigen.likelihood import density_units
    from multigen.registry import get_domain

    info = DataInfo(shape=(1, 64))
    with pytest.raises(DomainError, match="domains that do: .*images.*toy"):
        density_units(get_domain("audio"), info, "runs/x")
    toy = get_domain("toy").density_units({"scale": 2.0, "mean": [0, 0]})
    assert toy.log_scale == pytest.approx(-math.log(2.0)) and toy.bin_width is None
    img = get_domain("images").density_units({"shape": [1, 8, 8]})
    assert img.bin_width == pytest.approx(1 / 127.5)

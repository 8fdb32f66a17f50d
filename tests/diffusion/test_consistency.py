"""Consistency models: known answers on 1-D Gaussian data, where the probability-flow ODE
and so the exact consistency function are known in closed form.

For data N(0, s²) the VE ODE dx/dσ = (x - D(x, σ))/σ with D(x, σ) = s²/(s² + σ²)·x has the
solution x(σ) = x(σ')·sqrt(s² + σ²)/sqrt(s² + σ'²), so the consistency function with its
boundary at σ_min is f(x, σ) = x·sqrt(s² + σ_min²)/sqrt(s² + σ²).
"""

import math

import pytest
import torch
from torch import nn

from multigen.diffusion import consistency as C
from multigen.diffusion.precond import Denoiser, EDMPrecond
from multigen.diffusion.processes import ConsistencyProcess
from multigen.domain import DataInfo, DomainError
from multigen.method_config import ConsistencyMethod

S = 0.7  # data std
SIGMA_MIN, SIGMA_MAX = 0.002, 80.0


def teacher(x, sigma, cond=None, mask=None):
    s = sigma.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
    return S**2 / (S**2 + s**2) * x


def exact_f(x, sigma, cond=None, mask=None):
    s = sigma.to(x.dtype).reshape(-1, *([1] * (x.ndim - 1)))
    return x * math.sqrt(S**2 + SIGMA_MIN**2) / (S**2 + s**2).sqrt()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(3, 1)

    def forward(self, x, c_noise, cond=None, mask=None):
        return self.lin(torch.cat([x, x**2, c_noise[:, None].expand_as(x) / 1000], 1))


def test_boundary_condition():
    p = C.ConsistencyPrecond(0.5, SIGMA_MIN)
    c = p.coefficients(torch.tensor([SIGMA_MIN, 1.0, 80.0]))
    assert c.c_skip[0] == 1 and c.c_out[0] == 0
    edm = EDMPrecond(0.5).coefficients(torch.tensor([80.0]))  # far from the boundary: EDM's
    torch.testing.assert_close(c.c_skip[2:], edm.c_skip, rtol=1e-4, atol=1e-8)
    torch.testing.assert_close(c.c_out[2:], edm.c_out, rtol=1e-4, atol=0)
    f = Denoiser(Net(), p)  # any network: f(x, σ_min) = x exactly
    x = torch.randn(16, 1)
    assert torch.equal(f(x, torch.full((16,), SIGMA_MIN)), x)
    assert not torch.allclose(f(x, torch.full((16,), 1.0)), x)


def test_teacher_heun_step_follows_the_ode():
    x = torch.randn(64, 1, dtype=torch.float64) * 3
    hi, lo = (
        torch.full((64,), 2.0, dtype=torch.float64),
        torch.full((64,), 1.5, dtype=torch.float64),
    )
    exact = x * math.sqrt(S**2 + 1.5**2) / math.sqrt(S**2 + 2.0**2)
    torch.testing.assert_close(C.heun_step(teacher, x, hi, lo), exact, rtol=2e-3, atol=1e-6)


@pytest.mark.parametrize("n_levels,tol", [(18, 1e-4), (200, 1e-10)])
@pytest.mark.parametrize("kind", ["l2", "pseudo_huber"])
def test_distillation_loss_vanishes_at_the_exact_consistency_function(n_levels, tol, kind):
    g = torch.Generator().manual_seed(0)
    sig = C.levels(n_levels, SIGMA_MIN, SIGMA_MAX)
    i = torch.randint(0, n_levels - 1, (4000,), generator=g)
    lo, hi = sig[i], sig[i + 1]
    x0 = S * torch.randn(4000, 1, generator=g, dtype=torch.float64)
    x_hi = x0 + hi[:, None] * torch.randn(4000, 1, generator=g, dtype=torch.float64)
    x_lo = C.heun_step(teacher, x_hi, hi, lo)

    def loss(f):
        c = C.huber_c(1)
        return C.consistency_loss(f, x_hi, hi, x_lo, lo, kind=kind, c=c, weighting="uniform")

    exact = loss(lambda x, s, c, m: exact_f(x.double(), s.double())).mean()
    # the teacher's own x̂0 is not a consistency function: clearly not zero
    wrong = loss(lambda x, s, c, m: teacher(x.double(), s.double())).mean()
    bound = tol * S**2 if kind == "l2" else math.sqrt(tol) * S  # pseudo-Huber ~ |f - f'|
    assert exact < bound, exact
    assert wrong > (100 if kind == "l2" else 10) * exact, (wrong, exact)


def test_consistency_sampler_draws_the_gaussian():
    g = torch.Generator().manual_seed(1)

    def noise():
        return torch.randn(8000, 1, generator=g, dtype=torch.float64)

    def denoise(x, s):
        return exact_f(x, torch.full((x.shape[0],), s, dtype=torch.float64))

    record = C.sampler_record(SIGMA_MIN)
    for sigmas in ([SIGMA_MAX, 0.0], [SIGMA_MAX, 0.8, 0.0]):
        x = SIGMA_MAX * noise()
        out = record.fn(denoise, x, torch.tensor(sigmas, dtype=torch.float64), noise)
        assert abs(out.std().item() - S) < 0.03 and abs(out.mean().item()) < 0.03
    assert record.nfe(2) == 2 and record.options == ()


def test_curriculum_and_level_weights():
    K = 8000  # 8 stages of K/8 steps: 11, 21, 41 ... 1281 levels
    counts = [C.curriculum_levels(k, K) for k in range(0, K, 100)]
    assert counts[0] == 11 and counts[-1] == 1281 and counts == sorted(counts)
    assert C.curriculum_levels(K // 8, K) == 21
    sig = C.levels(11, SIGMA_MIN, SIGMA_MAX)
    assert sig[0] == pytest.approx(SIGMA_MIN) and sig[-1] == pytest.approx(SIGMA_MAX)
    p = C.index_probabilities(sig, -1.1, 2.0)
    assert p.shape == (10,) and (p >= 0).all() and p.sum().item() == pytest.approx(1.0)
    # the interval holding exp(p_mean) = 0.33 is the most likely
    best = int(p.argmax())
    assert sig[best] <= math.exp(-1.1) <= sig[best + 1] or p[best] > 0.2
    draws = C.draw_intervals(p, torch.rand(200_000, generator=torch.Generator().manual_seed(0)))
    freq = torch.bincount(draws, minlength=10).double() / 200_000
    torch.testing.assert_close(freq, p, atol=4e-3, rtol=0)


def process(**kw):
    return ConsistencyProcess(ConsistencyMethod(**kw), DataInfo.of({"shape": [2]}))


def test_process_sampling_levels_and_bad_input():
    p = process(sample_sigmas=[1.0, 0.3])
    assert p.sampling_sigmas(1).tolist() == [80.0, 0.0]
    assert p.sampling_sigmas(3).tolist() == [80.0, 1.0, 0.3, 0.0]
    with pytest.raises(DomainError, match="1 to 3 steps"):
        p.sampling_sigmas(4)
    with pytest.raises(DomainError, match="samples with sampler 'consistency'"):
        p.sampler("heun")
    with pytest.raises(DomainError, match="must descend strictly inside"):
        process(sample_sigmas=[0.3, 1.0])
    with pytest.raises(DomainError, match="must descend strictly inside"):
        process(sample_sigmas=[100.0])
    gens = [torch.Generator().manual_seed(i) for i in range(64)]
    lo, hi = process(mode="train").training_pairs(gens, 0, 100)
    assert (lo < hi).all() and (lo >= SIGMA_MIN - 1e-12).all() and (hi <= SIGMA_MAX + 1e-9).all()

"""Categorical flow matching: known answers for the path, the rates and the sampler."""

import pytest
import torch

from multigen.diffusion import discrete as D
from multigen.randomness import sample_generators

PRIOR = (0.5, 0.3, 0.15, 0.05)
DATA = torch.tensor([0.1, 0.2, 0.3, 0.4], dtype=torch.float64)
PART = D.CategoricalPart("types", PRIOR)


def test_interpolant_marginals_match_closed_form():
    t = torch.tensor([0.0, 0.3, 0.7, 1.0])
    n = 20000
    x0 = torch.full((4, n), 2)
    mask = torch.ones(4, n)
    xt = D.interpolate(PART, x0, t, mask, sample_generators(range(4)))
    got = torch.stack([torch.bincount(r, minlength=4) for r in xt]).double() / n
    want = D.marginal(PART, x0[:, :1], t)[:, 0]
    assert torch.allclose(got, want, atol=0.012), (got, want)
    assert torch.equal(xt[0], x0[0])  # t = 0 is the data


def test_rates_sum_to_zero_and_are_non_negative_off_the_diagonal():
    probs = torch.softmax(torch.randn(3, 7, 4, dtype=torch.float64), -1)
    x = torch.randint(4, (3, 7))
    u = D.velocity(x, probs, torch.tensor([0.9, 0.5, 0.1]))
    assert torch.allclose(u.sum(-1), torch.zeros(3, 7, dtype=torch.float64), atol=1e-12)
    off = u.masked_fill(torch.nn.functional.one_hot(x, 4).bool(), 0)
    assert (off >= 0).all()


def test_euler_step_with_perfect_denoiser_moves_marginal_exactly():
    """p_t P = p_{t-h} for the exact posterior, any step size; the last step gives q."""
    prior = PART.prior_tensor()
    for t, t_next in [(1.0, 0.9), (0.6, 0.3), (0.25, 0.0)]:
        p_t = (1 - t) * DATA + t * prior
        post = D.posterior(prior, DATA, t)  # [k, j]
        x = torch.arange(4)
        P = D.step_probs(x, post, torch.tensor([t]), torch.tensor([t_next]))  # [k, j']
        p_next = p_t @ P
        want = (1 - t_next) * DATA + t_next * prior
        assert torch.allclose(p_next, want, atol=1e-12), (t, p_next, want)


def test_sampler_with_perfect_denoiser_reaches_data_marginals():
    prior = PART.prior_tensor()
    n = 20000
    mask = torch.ones(2, n)
    gens = sample_generators([3, 4])
    x = D.sample_prior(PART, mask, gens)
    ts = torch.linspace(1, 0, 21, dtype=torch.float64)
    for t, t_next in zip(ts[:-1], ts[1:]):
        probs = D.posterior(prior, DATA, float(t))[x]
        x = D.step(PART, x, probs, t.expand(2), t_next.expand(2), mask, gens)
    got = torch.bincount(x.reshape(-1), minlength=4).double() / x.numel()
    assert torch.allclose(got, DATA, atol=0.01), got


def test_pair_parts_are_symmetric_with_zero_diagonal_and_padding():
    part = D.CategoricalPart("bonds", (0.25, 0.25, 0.25, 0.25), pairwise=True)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]]).float()
    x = D.sample_prior(part, mask, sample_generators([0, 1]))
    assert torch.equal(x, x.transpose(1, 2))
    assert (x.diagonal(dim1=1, dim2=2) == 0).all()
    assert (x[0, 3:] == 0).all() and (x[0, :, 3:] == 0).all()
    x0 = torch.zeros_like(x)
    xt = D.interpolate(part, x0, torch.tensor([0.5, 0.5]), mask, sample_generators([0, 1]))
    assert torch.equal(xt, xt.transpose(1, 2))


def test_draws_do_not_depend_on_the_batch():
    mask = torch.ones(3, 6)
    both = D.sample_prior(PART, mask, sample_generators([7, 8, 9]))
    one = D.sample_prior(PART, mask[:1], sample_generators([8]))
    assert torch.equal(both[1:2], one)


def test_cross_entropy_counts_only_real_variables():
    part = D.CategoricalPart("bonds", (0.5, 0.5), pairwise=True)
    logits = torch.zeros(1, 3, 3, 2)
    logits[0, 2, :, 0] = 100.0  # rows of the padded atom: would add a huge loss if counted
    logits[0, :, 2, 0] = 100.0
    x0 = torch.ones(1, 3, 3, dtype=torch.long)
    ce = D.cross_entropy(part, logits, x0, torch.tensor([[1.0, 1.0, 0.0]]))
    assert torch.allclose(ce, torch.tensor([0.6931472]), atol=1e-6)


def test_marginal_prior_keeps_every_class_reachable():
    p = D.marginal_prior(torch.tensor([10, 0, 30]))
    assert abs(sum(p) - 1) < 1e-12 and min(p) > 0
    assert p[2] > p[0] > p[1]


def test_argmax_takes_the_mode_and_mirrors_pairs():
    part = D.CategoricalPart("bonds", (0.5, 0.5), pairwise=True)
    probs = torch.zeros(1, 3, 3, 2)
    probs[..., 1] = 0.9
    probs[..., 0] = 0.1
    x = D.argmax(part, probs, torch.tensor([[1.0, 1.0, 0.0]]))
    assert x.tolist() == [[[0, 1, 0], [1, 0, 0], [0, 0, 0]]]


MASKED = D.CategoricalPart("types", PRIOR, masked=True)


def masked_posterior(t: float) -> torch.Tensor:
    """Exact p(x0 | x_t) ``[K + 1, K]`` of the masking path for factorised data: a class is
    its own x0, the mask state says only what the data does."""
    return torch.cat([torch.eye(4, dtype=torch.float64), DATA[None, :]])


def test_masked_interpolant_keeps_or_masks():
    t = torch.tensor([0.0, 0.3, 0.7, 1.0])
    n = 20000
    x0 = torch.full((4, n), 2)
    xt = D.interpolate(MASKED, x0, t, torch.ones(4, n), sample_generators(range(4)))
    got = torch.stack([torch.bincount(r, minlength=5) for r in xt]).double() / n
    want = D.marginal(MASKED, x0[:, :1], t)[:, 0]
    assert want.shape == (4, 5) and torch.allclose(want[:, 4], t.double())
    assert torch.allclose(got, want, atol=0.012), (got, want)
    assert set(xt[1].unique().tolist()) == {2, 4}  # never a wrong class, only the mask


@pytest.mark.parametrize("eta", [0.0, 0.5, 3.0])
def test_masked_euler_step_with_perfect_denoiser_moves_marginal_exactly(eta):
    """Over K + 1 states, p_t P = p_{t-h} with the exact posterior, with or without the
    detailed-balance rates (steps small enough for probabilities <= 1); the last step
    leaves nothing masked."""
    for t, t_next in [(1.0, 0.9), (0.6, 0.5), (0.25, 0.0)]:
        p_t = torch.cat([(1 - t) * DATA, torch.tensor([t], dtype=torch.float64)])
        x = torch.arange(5)
        P = D.masked_step_probs(
            x, masked_posterior(t), torch.tensor([t]), torch.tensor([t_next]), eta
        )
        assert torch.allclose(P.sum(-1), torch.ones(5, dtype=torch.float64)) and (P >= 0).all()
        want = torch.cat([(1 - t_next) * DATA, torch.tensor([t_next], dtype=torch.float64)])
        assert torch.allclose(p_t @ P, want, atol=1e-12), (t, eta, p_t @ P, want)


def test_masked_step_probabilities_by_hand():
    """t = 0.5 -> 0.4, η = 1: a masked variable unmasks with 0.1·(1 + 0.5)/0.5 = 0.3 (to
    p̂), an unmasked one is remasked with 0.1."""
    probs = torch.tensor([[0.5, 0.5, 0.0, 0.0]], dtype=torch.float64).expand(2, 4)
    x = torch.tensor([4, 1])
    P = D.masked_step_probs(x, probs, torch.tensor([0.5]), torch.tensor([0.4]), 1.0)
    want = torch.tensor(
        [[0.15, 0.15, 0.0, 0.0, 0.7], [0.0, 0.9, 0.0, 0.0, 0.1]], dtype=torch.float64
    )
    assert torch.allclose(P, want, atol=1e-12), P


@pytest.mark.parametrize("eta", [0.5, 3.0])
def test_mixture_step_with_detailed_balance_moves_marginal_exactly(eta):
    prior = PART.prior_tensor()
    for t, t_next in [(1.0, 0.95), (0.6, 0.5), (0.25, 0.2)]:
        p_t = (1 - t) * DATA + t * prior
        post = D.posterior(prior, DATA, t)
        P = D.step_probs(
            torch.arange(4), post, torch.tensor([t]), torch.tensor([t_next]), eta, prior
        )
        assert (P >= 0).all() and torch.allclose(P.sum(-1), torch.ones(4, dtype=torch.float64))
        want = (1 - t_next) * DATA + t_next * prior
        assert torch.allclose(p_t @ P, want, atol=1e-12), (t, eta, p_t @ P, want)


def test_masked_sampler_with_perfect_denoiser_reaches_data_and_unmasks_all():
    n = 20000
    mask = torch.ones(2, n)
    gens = sample_generators([3, 4])
    x = D.sample_prior(MASKED, mask, gens)
    assert (x == 4).all()
    ts = torch.linspace(1, 0, 21, dtype=torch.float64)
    for t, t_next in zip(ts[:-1], ts[1:]):
        probs = masked_posterior(float(t))[x]
        x = D.step(MASKED, x, probs, t.expand(2), t_next.expand(2), mask, gens, eta=1.0)
    assert (x < 4).all()
    got = torch.bincount(x.reshape(-1), minlength=4).double() / x.numel()
    assert torch.allclose(got, DATA, atol=0.01), got


def test_masked_argmax_fills_only_the_masked_variables():
    probs = torch.tensor([[[0.1, 0.9, 0.0, 0.0]] * 3])
    x = torch.tensor([[4, 2, 4]])
    got = D.argmax(MASKED, probs, torch.ones(1, 3), x)
    assert got.tolist() == [[1, 2, 1]]

"""Known-answer tests for the toy metrics."""

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from multigen.domain import DomainError
from multigen_domains.toy.data import Mixture, generate
from multigen_domains.toy.metrics import evaluate_points, mixture_log_density, mode_metrics


def ring() -> Mixture:
    return generate("eight_gaussians", "test", n=10).mixture


def test_samples_exactly_at_the_modes_are_all_high_quality():
    mix = ring()
    pts = np.repeat(mix.means, 50, axis=0)
    out = mode_metrics(pts, mix)
    assert out["hq_fraction"] == 1.0
    assert out["modes_covered"] == 8 and out["modes_total"] == 8
    assert out["mode_kl"] == pytest.approx(0.0, abs=1e-12)


def test_mode_collapse_to_one_mode():
    mix = ring()
    pts = np.repeat(mix.means[:1], 400, axis=0)
    out = mode_metrics(pts, mix)
    assert out["modes_covered"] == 1 and out["hq_fraction"] == 1.0
    assert out["mode_kl"] == pytest.approx(math.log(8))  # KL(point mass || uniform over 8)


def test_high_quality_radius_is_three_sigma():
    mix = ring()
    offsets = np.array([[2.99 * mix.std, 0.0], [3.01 * mix.std, 0.0]])
    out = mode_metrics(mix.means[0] + offsets, mix)
    assert out["hq_fraction"] == 0.5
    assert mode_metrics(mix.means[0] + offsets, mix, sigmas=4.0)["hq_fraction"] == 1.0


def test_coverage_needs_one_percent_of_the_samples():
    mix = ring()
    # 1000 samples: 991 on mode 0, 9 on mode 1 (< 1 % -> not covered)
    pts = np.concatenate([np.repeat(mix.means[:1], 991, 0), np.repeat(mix.means[1:2], 9, 0)])
    assert mode_metrics(pts, mix)["modes_covered"] == 1
    pts = np.concatenate([np.repeat(mix.means[:1], 990, 0), np.repeat(mix.means[1:2], 10, 0)])
    assert mode_metrics(pts, mix)["modes_covered"] == 2
    assert mode_metrics(pts[:50], mix, mode_min_fraction=0.0)["modes_covered"] == 1


def test_single_gaussian_log_likelihood_matches_scipy():
    mix = Mixture(np.array([[0.3, -1.2]]), 0.7, np.array([1.0]))
    x = np.random.default_rng(0).normal(size=(64, 2))
    expected = multivariate_normal(mean=[0.3, -1.2], cov=0.49 * np.eye(2)).logpdf(x)
    np.testing.assert_allclose(mixture_log_density(x, mix), expected, rtol=1e-12)


def test_mixture_log_likelihood_matches_scipy_and_stays_finite_far_away():
    mix = Mixture(np.array([[0.0, 0.0], [3.0, 1.0]]), 0.5, np.array([0.25, 0.75]))
    x = np.array([[0.1, 0.2], [2.0, 2.0], [1.5, 0.5]])
    comps = [multivariate_normal(m, 0.25 * np.eye(2)).pdf(x) for m in mix.means]
    expected = np.log(0.25 * comps[0] + 0.75 * comps[1])
    np.testing.assert_allclose(mixture_log_density(x, mix), expected, rtol=1e-12)
    far = mixture_log_density(np.array([[100.0, 100.0]]), mix)  # pdf underflows; log does not
    assert np.isfinite(far).all() and far[0] < -10_000


def test_data_itself_scores_at_the_analytic_values():
    """Data drawn from the mixture: hq fraction = P(chi_2 <= 3) = 1 - exp(-9/2) and the mean
    log-likelihood = minus the entropy = log K - 1 - log(2 pi sigma^2) (well-separated modes)."""
    data = generate("eight_gaussians", "train", n=20_000)
    out = mode_metrics(data.points, data.mixture)
    assert out["hq_fraction"] == pytest.approx(1 - math.exp(-4.5), abs=0.003)
    ll = mixture_log_density(data.points, data.mixture).mean()
    entropy = 1 + math.log(2 * math.pi * 0.02**2) + math.log(8)
    assert ll == pytest.approx(-entropy, abs=0.03)


def test_evaluate_points_full_dict_and_self_distance_zero():
    data = generate("grid25", "test", n=1500)
    out = evaluate_points(data.points, data.points, data.mixture)
    assert out["energy_distance"] == pytest.approx(0.0, abs=1e-9)
    assert out["swd"] == pytest.approx(0.0, abs=1e-9)
    assert out["loglik"] == pytest.approx(out["loglik_reference"])
    assert out["modes_covered"] == 25 and out["nonfinite_fraction"] == 0.0
    shifted = evaluate_points(data.points + [1.0, 0.0], data.points, data.mixture)
    assert shifted["hq_fraction"] == 0.0 and shifted["modes_covered"] == 0
    assert shifted["energy_distance"] > 0.1 and shifted["loglik"] < out["loglik"] - 50


def test_nonfinite_samples_are_counted_not_crashing():
    data = generate("eight_gaussians", "test", n=400)
    pts = data.points.copy()
    pts[:100] = np.nan
    out = evaluate_points(pts, data.points, data.mixture)
    assert out["nonfinite_fraction"] == 0.25
    assert out["hq_fraction"] <= 0.75 and np.isfinite(out["energy_distance"])
    none = evaluate_points(np.full((5, 2), np.inf), data.points, data.mixture)
    assert none["nonfinite_fraction"] == 1.0 and math.isnan(none["energy_distance"])


def test_no_mixture_metrics_without_a_mixture(toy):
    ref = toy.reference("two_moons", n=500)
    out = toy.evaluate(ref.points[:200], ref)
    assert set(out) == {"n_samples", "nonfinite_fraction", "energy_distance", "swd"}
    with pytest.raises(DomainError, match="unknown toy evaluation option.*'sigmas'.*valid"):
        toy.evaluate(ref.points, ref, sigma=3)


def test_no_high_quality_sample_gives_the_worst_finite_mode_kl():
    """Regression (reliability campaign): mode_kl was +inf here, which reached metrics.json."""
    mix = ring()
    out = mode_metrics(np.full((20, 2), 1e3), mix)
    assert out["hq_fraction"] == 0.0 and out["modes_covered"] == 0
    assert out["mode_kl"] == pytest.approx(math.log(8))  # as bad as total collapse

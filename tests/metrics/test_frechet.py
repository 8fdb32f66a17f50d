import numpy as np
import pytest
import scipy.linalg
import torch

from multigen.metrics.frechet import (
    feature_statistics,
    frechet_distance,
    frechet_distance_features,
)


def test_one_dimensional_closed_form():
    # |m1 - m2|² + (s1 - s2)²  with s the standard deviations: 4 + 1.
    d = frechet_distance([1.0], [[4.0]], [3.0], [[9.0]])
    assert d == pytest.approx(5.0, abs=1e-12)


def test_diagonal_gaussians_closed_form():
    m1, m2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.25])
    expected = ((m1 - m2) ** 2).sum() + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    got = frechet_distance(m1, np.diag(v1), m2, np.diag(v2))
    assert got == pytest.approx(expected, abs=1e-10)


def test_matches_sqrtm_formula_for_non_commuting_covariances():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((5, 5)), rng.standard_normal((5, 5))
    c1, c2 = a @ a.T + 0.1 * np.eye(5), b @ b.T + 0.1 * np.eye(5)
    m1, m2 = rng.standard_normal(5), rng.standard_normal(5)
    covmean = scipy.linalg.sqrtm(c1 @ c2).real
    expected = ((m1 - m2) ** 2).sum() + np.trace(c1 + c2 - 2 * covmean)
    assert frechet_distance(m1, c1, m2, c2) == pytest.approx(expected, rel=1e-8)
    # Symmetric in its two Gaussians.
    assert frechet_distance(m2, c2, m1, c1) == pytest.approx(expected, rel=1e-8)


def test_singular_covariances():
    # Orthogonal rank-1 covariances: sqrt(C1 C2) = 0, so d = tr C1 + tr C2 = 2.
    d = frechet_distance([0.0, 0.0], np.diag([1.0, 0.0]), [0.0, 0.0], np.diag([0.0, 1.0]))
    assert d == pytest.approx(2.0, abs=1e-12)


def test_identical_sets_give_zero_and_torch_input():
    f = torch.randn(300, 16, generator=torch.Generator().manual_seed(0))
    assert abs(frechet_distance_features(f, f.clone())) < 1e-9
    # Fewer samples than dimensions: singular covariance, still ~0 and finite.
    g = f[:10]
    assert abs(frechet_distance_features(g, g)) < 1e-8


def test_feature_statistics_and_sample_convergence():
    rng = np.random.default_rng(0)
    f1 = rng.standard_normal((20000, 2))
    f2 = rng.standard_normal((20000, 2)) * np.array([2.0, 1.0]) + np.array([1.0, 0.0])
    mu, cov = feature_statistics(f1)
    assert np.allclose(cov, np.cov(f1, rowvar=False))
    assert mu.shape == (2,) and cov.shape == (2, 2)
    # Truth: 1 (mean) + (2 - 1)² (std) = 2.
    assert frechet_distance_features(f1, f2) == pytest.approx(2.0, abs=0.06)


def test_bad_shapes_raise():
    with pytest.raises(ValueError, match="cov1"):
        frechet_distance([0.0, 0.0], np.eye(3), [0.0, 0.0], np.eye(2))
    with pytest.raises(ValueError, match="at least 2"):
        feature_statistics(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        feature_statistics(np.array([[np.nan, 1.0], [0.0, 1.0]]))

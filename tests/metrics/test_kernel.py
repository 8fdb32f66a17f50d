import math

import numpy as np
import pytest

from multigen.metrics.kernel import kid, mmd2_unbiased


def test_polynomial_hand_computed():
    # d = 1, k(a, b) = (ab + 1)³.  Kxx off-diag: k(0,1) = 1 -> 1; Kyy: k(2,3) = 343;
    # Kxy: 1, 1, 27, 64 -> mean 23.25.  MMD² = 1 + 343 - 46.5.
    x, y = np.array([[0.0], [1.0]]), np.array([[2.0], [3.0]])
    assert mmd2_unbiased(x, y) == pytest.approx(297.5, abs=1e-9)


def test_rbf_hand_computed():
    x, y = np.array([[0.0], [1.0]]), np.array([[0.0], [2.0]])
    e = math.exp
    expected = e(-0.5) + e(-2.0) - 2 * (1 + e(-2.0) + 2 * e(-0.5)) / 4
    assert mmd2_unbiased(x, y, kernel="rbf", bandwidth=1.0) == pytest.approx(expected)


def test_matches_brute_force_loops():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((7, 3)), rng.standard_normal((5, 3)) + 0.5

    def k(a, b):
        return (a @ b / 3 + 1) ** 3

    sxx = sum(k(x[i], x[j]) for i in range(7) for j in range(7) if i != j) / 42
    syy = sum(k(y[i], y[j]) for i in range(5) for j in range(5) if i != j) / 20
    sxy = sum(k(a, b) for a in x for b in y) / 35
    assert mmd2_unbiased(x, y) == pytest.approx(sxx + syy - 2 * sxy, rel=1e-10)


def test_unbiased_in_expectation_for_equal_distributions():
    rng = np.random.default_rng(0)
    vals = [
        mmd2_unbiased(rng.standard_normal((20, 4)), rng.standard_normal((20, 4)))
        for _ in range(300)
    ]
    se = np.std(vals) / math.sqrt(len(vals))
    assert abs(np.mean(vals)) < 4 * se
    # A mean shift is clearly detected.
    shifted = mmd2_unbiased(rng.standard_normal((200, 4)), rng.standard_normal((200, 4)) + 1.0)
    assert shifted > 20 * se


def test_kid_same_vs_different_and_determinism():
    rng = np.random.default_rng(1)
    a, b = rng.standard_normal((400, 8)), rng.standard_normal((300, 8))
    c = rng.standard_normal((300, 8)) * 1.5
    m_same, s_same = kid(a, b, subsets=20, subset_size=1000, seed=0)  # clipped to 300
    m_diff, _ = kid(a, c, subsets=20, seed=0)
    assert abs(m_same) < 3 * s_same + 1e-3
    assert m_diff > 10 * abs(m_same) and m_diff > 0.1
    assert kid(a, b, subsets=5, subset_size=50, seed=3) == kid(
        a, b, subsets=5, subset_size=50, seed=3
    )


def test_errors():
    with pytest.raises(ValueError, match="kernel"):
        mmd2_unbiased(np.zeros((3, 2)), np.zeros((3, 2)), kernel="laplace")
    with pytest.raises(ValueError, match="dims differ"):
        kid(np.zeros((3, 2)), np.zeros((3, 3)))

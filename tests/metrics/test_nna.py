import numpy as np
import pytest

from multigen.metrics.nna import mmd_coverage, one_nna


def dists(a, b):
    return np.linalg.norm(a[:, None] - b[None], axis=-1)


def nna_of(x, y):
    return one_nna(dists(x, x), dists(y, y), dists(x, y))


def test_separable_sets_score_one():
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((30, 2)), rng.standard_normal((40, 2)) + 100.0
    assert nna_of(x, y) == 1.0


def test_two_halves_of_one_distribution_near_half():
    # Leave-one-out expectation for equal sizes n: (n - 1) / (2n - 1) ≈ 0.497.
    scores = []
    for seed in range(10):
        z = np.random.default_rng(seed).standard_normal((200, 3))
        scores.append(nna_of(z[:100], z[100:]))
    assert np.mean(scores) == pytest.approx(0.5, abs=0.04)


def test_memorised_copies_score_zero():
    x = np.random.default_rng(2).standard_normal((25, 3))
    assert nna_of(x, x.copy()) == 0.0


def test_tie_counts_half_and_symmetry():
    # X = {0, 2}, Y = {-2, 10}.  x=0: own 2, other 2 -> tie, 0.5.  x=2: own 2 < 4 -> 1.
    # y=-2: own 12 > 2 -> 0.  y=10: own 12 > 8 -> 0.  Total 1.5 / 4.
    x, y = np.array([[0.0], [2.0]]), np.array([[-2.0], [10.0]])
    dxx, dyy, dxy = dists(x, x), dists(y, y), dists(x, y)
    assert one_nna(dxx, dyy, dxy) == pytest.approx(0.375)
    assert one_nna(dyy, dxx, dxy.T) == pytest.approx(0.375)


def test_mmd_coverage_argument_order_pinned():
    # Rows = generated {0, 0.1}, columns = reference {0, 5, 10}.
    # MMD = mean_ref min_gen = (0 + 4.9 + 9.9) / 3; both generated pick reference 0: COV 1/3.
    gen, ref = np.array([[0.0], [0.1]]), np.array([[0.0], [5.0], [10.0]])
    res = mmd_coverage(dists(gen, ref))
    assert res["mmd"] == pytest.approx(14.8 / 3)
    assert res["cov"] == pytest.approx(1 / 3)
    swapped = mmd_coverage(dists(ref, gen))  # the wrong order gives different numbers
    assert swapped["mmd"] == pytest.approx(0.05) and swapped["cov"] == 1.0


def test_coverage_of_copies_is_full():
    x = np.random.default_rng(3).standard_normal((20, 3))
    assert mmd_coverage(dists(x, x)) == {"mmd": 0.0, "cov": 1.0}


def test_shape_errors():
    with pytest.raises(ValueError, match="d_xy"):
        one_nna(np.zeros((2, 2)), np.zeros((3, 3)), np.zeros((3, 2)))
    with pytest.raises(ValueError, match="square"):
        one_nna(np.zeros((2, 3)), np.zeros((3, 3)), np.zeros((2, 3)))

import math

import numpy as np
import pytest
import scipy.stats
import torch

from multigen.metrics.distributions import (
    energy_distance,
    sliced_wasserstein,
    total_variation,
    wasserstein_1d,
)


def test_energy_distance_hand_and_scipy():
    # Single points 0 and 1: 2|0-1| - 0 - 0 = 2 (squared form).
    assert energy_distance([0.0], [1.0]) == pytest.approx(2.0)
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(50), rng.standard_normal(37) * 2 + 0.3
    # scipy returns the square root of the same V-statistic.
    ref = scipy.stats.energy_distance(a, b)
    assert energy_distance(a, b, squared=False) == pytest.approx(ref, rel=1e-9)
    assert energy_distance(a, b) == pytest.approx(ref**2, rel=1e-9)


def test_energy_distance_multidim_properties():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((40, 3)), rng.standard_normal((30, 3)) + 1.0
    q, _ = np.linalg.qr(rng.standard_normal((3, 3)))
    assert energy_distance(x, x.copy()) == pytest.approx(0.0, abs=1e-12)
    assert energy_distance(x @ q, y @ q) == pytest.approx(energy_distance(x, y), rel=1e-9)
    assert energy_distance(torch.tensor(x), torch.tensor(y)) == pytest.approx(
        energy_distance(y, x), rel=1e-12
    )


def test_wasserstein_1d_matches_scipy_and_hand():
    rng = np.random.default_rng(2)
    a, b = rng.standard_normal(31), rng.exponential(size=17)
    assert wasserstein_1d(a, b) == pytest.approx(scipy.stats.wasserstein_distance(a, b))
    # a = {0, 1}, b = {0, 1, 2, 3}: quantile gaps 0, 1, 1, 2 on quarters.
    assert wasserstein_1d([0, 1], [0, 1, 2, 3]) == pytest.approx(1.0)
    assert wasserstein_1d([0, 1], [0, 1, 2, 3], p=2) == pytest.approx(math.sqrt(1.5))


def test_sliced_wasserstein():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal(40), rng.standard_normal(25) + 2.0
    # In 1-D every direction is ±1, so SW_p = W_p.
    for p in (1, 2):
        assert sliced_wasserstein(a, b, p=p) == pytest.approx(wasserstein_1d(a, b, p=p))
    # Pure translation by v in D dims: SW_2² = E (θ·v)² = |v|² / D.
    x = rng.standard_normal((100, 4))
    v = np.array([3.0, 0.0, 0.0, 4.0])
    sw = sliced_wasserstein(x, x + v, n_projections=4000, p=2)
    assert sw**2 == pytest.approx(25.0 / 4, rel=0.05)
    assert sliced_wasserstein(x, x + v, seed=5) == sliced_wasserstein(x, x + v, seed=5)
    assert sliced_wasserstein(x, x.copy()) == pytest.approx(0.0, abs=1e-12)


def test_total_variation():
    # p = (.5, .5, 0), q = (.75, 0, .25) over bins a, b, c.
    assert total_variation({"a": 1, "b": 1}, {"a": 3, "c": 1}) == pytest.approx(0.5)
    assert total_variation(np.array([2, 2]), np.array([1, 1])) == 0.0
    assert total_variation([1, 0], [0, 5]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="mix"):
        total_variation({"a": 1}, [1])
    with pytest.raises(ValueError, match="negative"):
        total_variation([1, -1, 2], [1, 1, 1])
    with pytest.raises(ValueError, match="shapes"):
        total_variation([1, 1], [1, 1, 1])

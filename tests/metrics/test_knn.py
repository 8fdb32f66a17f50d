import numpy as np
import pytest
import torch

from multigen.metrics.knn import precision_recall


def brute_force(real, fake, k):
    def radii(s):
        d = np.linalg.norm(s[:, None] - s[None], axis=-1)
        return np.sort(d, axis=1)[:, k]  # index 0 is the point itself

    def inside(q, c, r):
        return np.mean([any(np.linalg.norm(p - c[i]) <= r[i] for i in range(len(c))) for p in q])

    return inside(fake, real, radii(real)), inside(real, fake, radii(fake))


def test_hand_computed():
    # k=1 radii: real 0,1,2 -> 1; real 10 -> 8.  Fake 0.5 (in ball of 0), 5 (in ball of
    # 10), 30 (outside): precision 2/3.  Fake radii 4.5, 4.5, 25: every real point is in
    # some fake ball (10 is within 25 of 30): recall 1.
    real = np.array([[0.0], [1.0], [2.0], [10.0]])
    fake = np.array([[0.5], [5.0], [30.0]])
    pr = precision_recall(real, fake, k=1)
    assert pr["precision"] == pytest.approx(2 / 3)
    assert pr["recall"] == pytest.approx(1.0)


def test_matches_brute_force_and_chunking():
    rng = np.random.default_rng(0)
    real, fake = rng.standard_normal((60, 3)), rng.standard_normal((45, 3)) * 1.3 + 0.4
    p, r = brute_force(real, fake, 3)
    got = precision_recall(real, fake, k=3)
    assert got["precision"] == pytest.approx(p) and got["recall"] == pytest.approx(r)
    assert precision_recall(torch.tensor(real), torch.tensor(fake), k=3, chunk=7) == got


def test_identical_and_disjoint_sets():
    x = np.random.default_rng(1).standard_normal((50, 4))
    assert precision_recall(x, x.copy()) == {"precision": 1.0, "recall": 1.0}
    far = precision_recall(x, x + 100.0)
    assert far == {"precision": 0.0, "recall": 0.0}


def test_bad_k():
    with pytest.raises(ValueError, match="k must be"):
        precision_recall(np.zeros((3, 2)), np.ones((3, 2)), k=3)

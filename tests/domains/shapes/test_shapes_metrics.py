import numpy as np
import pytest
import torch

from multigen_domains.shapes import classifier, metrics


def _point(*xyz):
    return np.array([[xyz]], float)  # one cloud of one point


def test_mmd_cov_argument_order_is_pinned():
    # One-point clouds: CD = 2 |a - b|^2. Rows are generated, columns reference.
    gen = np.concatenate([_point(0, 0, 0), _point(10, 0, 0)])
    ref = np.concatenate([_point(0, 0, 0), _point(1, 0, 0), _point(2, 0, 0)])
    scores, _ = metrics.cd_metrics(gen, ref)
    # MMD = mean over references of the nearest generated CD = (0 + 2 + 8) / 3.
    assert scores["mmd_cd"] == pytest.approx(10 / 3)
    # COV: g0 -> r0, g1 -> r2, so 2 of the 3 references are covered.
    assert scores["cov_cd"] == pytest.approx(2 / 3)


def test_nna_separable_and_same_distribution():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(20, 32, 3))
    b = rng.normal(size=(20, 32, 3)) + 5.0
    assert metrics.cd_metrics(a, b)[0]["nna_cd"] == 1.0
    assert metrics.emd_metrics(a, b, workers=1)["nna_emd"] == 1.0
    # Two halves of one distribution: 1-NNA near 50 % (binomial spread with 80 samples).
    same = rng.normal(size=(80, 32, 3)) * rng.uniform(0.5, 2.0, size=(80, 1, 1))
    nna = metrics.cd_metrics(same[:40], same[40:])[0]["nna_cd"]
    assert 0.35 < nna < 0.65


def test_jsd_known_values():
    a = np.full((3, 10, 3), [-0.3, 0.0, 0.0])
    b = np.full((3, 10, 3), [0.3, 0.0, 0.0])
    assert metrics.jsd(a, a) == pytest.approx(0.0, abs=1e-12)
    assert metrics.jsd(a, b) == pytest.approx(1.0)  # disjoint cells: log2(2)
    half = np.concatenate([a[:, :5], b[:, :5]], axis=1)  # half the mass shared
    # P = (1, 0), Q = (1/2, 1/2): H(M) - (H(P) + H(Q))/2 = H(3/4, 1/4) - 1/2.
    expected = -(0.75 * np.log2(0.75) + 0.25 * np.log2(0.25)) - 0.5
    assert metrics.jsd(a, half) == pytest.approx(expected)


def test_grid_matches_pointflow():
    grid = metrics._grid(28)
    assert np.abs(grid).max() <= 0.5 and np.linalg.norm(grid, axis=1).max() <= 0.5
    assert len(grid) < 28**3


def test_fpd_is_reproducible_and_separates(cache):
    from multigen_domains.shapes import data

    ds = data.embedded(None, "test", n_test=6, n_points=512, normalization="none")
    chairs, mugs = ds.points[ds.labels == 0], ds.points[ds.labels == 4]
    model = classifier.reference_classifier(steps=30, per_class=8)
    assert classifier.fpd(chairs, chairs, model) == pytest.approx(0.0, abs=1e-4)
    same = classifier.fpd(chairs[:3], chairs[3:], model)
    far = classifier.fpd(chairs, mugs, model)
    assert far > same
    again = classifier.reference_classifier(steps=30, per_class=8)  # from the cache
    assert classifier.fpd(chairs, mugs, again) == pytest.approx(far)


def test_fpd_network_ships_with_the_package(cache):
    """FPD at the default settings scores with the shipped network: nothing trained or cached."""
    from safetensors.torch import load_file

    model = classifier.reference_classifier()
    assert not list(cache.rglob("shapes-pointnet-*"))
    (shipped,) = classifier.SHIPPED.glob("shapes-pointnet-*.safetensors")
    for k, v in load_file(shipped).items():
        assert torch.equal(model.state_dict()[k], v), k

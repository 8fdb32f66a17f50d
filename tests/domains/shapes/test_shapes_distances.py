import numpy as np
import pytest
import torch

from multigen_domains.shapes import distances


def test_chamfer_by_hand():
    a = np.array([[0, 0, 0], [1, 0, 0]], float)
    b = np.array([[0, 0, 0]], float)
    assert distances.chamfer(a, b) == pytest.approx(0.5)  # (0 + 1)/2 + 0
    a = np.array([[0, 0, 0], [2, 0, 0]], float)
    b = np.array([[0, 1, 0], [2, 0, 0]], float)
    assert distances.chamfer(a, b) == pytest.approx(1.0)  # (1 + 0)/2 + (1 + 0)/2
    cd = distances.pairwise_chamfer(a[None], np.stack([a, b]))
    np.testing.assert_allclose(cd, [[0.0, 1.0]], atol=1e-6)


def test_pairwise_chamfer_kernel_matches_dense_float64():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(3, 50, 3)), rng.normal(size=(4, 70, 3)) + 0.3  # N != M
    want = [[distances.chamfer(a, b) for b in y] for a in x]
    np.testing.assert_allclose(distances.pairwise_chamfer(x, y), want, rtol=1e-5)
    sym, bound = distances.pairwise_chamfer(x, x, with_bound=True)
    np.testing.assert_allclose(sym, [[distances.chamfer(a, b) for b in x] for a in x], atol=1e-6)
    assert np.allclose(sym, sym.T) and (np.diag(bound) == 0).all()
    far = distances.pairwise_chamfer(x + 1e4, y + 1e4)  # float32 kernel, far from the origin
    np.testing.assert_allclose(far, want, rtol=1e-5)


def test_emd_by_hand():
    a = np.array([[0, 0, 0], [2, 0, 0]], float)
    b = np.array([[1, 0, 0], [3, 0, 0]], float)
    assert distances.emd_exact(a, b) == pytest.approx(1.0)  # 0->1, 2->3, not 0->3, 2->1
    a = np.array([[0, 0, 0], [1, 0, 0]], float)
    b = np.array([[0, 1, 0], [1, 1, 0]], float)
    assert distances.emd_exact(a, b) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="equal size"):
        distances.emd_exact(a, b[:1])


def test_auction_interval_contains_the_hungarian_emd():
    rng = np.random.default_rng(6)
    grid = np.stack(np.meshgrid(*[np.arange(4.0)] * 3), -1).reshape(-1, 3)  # many ties
    cases = [
        (rng.normal(size=(100, 3)), rng.normal(size=(100, 3)) * [2, 1, 0.5] + 1),
        (grid, grid + [0.5, 0, 0]),
        (grid, grid[rng.permutation(len(grid))]),  # same cloud: EMD 0
        (np.zeros((1, 3)), np.ones((1, 3))),  # one point: sqrt(3)
    ]
    for a, b in cases:
        exact = distances.emd_exact(a, b, warm_start=False)
        lo, hi = distances.emd_auction(a, b, rel_eps=1e-6)
        assert lo - 1e-12 <= exact <= hi + 1e-12
        assert hi - lo <= 1e-6 * max(exact, 1.0) + 1e-12
    assert distances.emd_auction(np.zeros((1, 3)), np.ones((1, 3)))[1] == pytest.approx(3**0.5)
    with pytest.raises(ValueError, match="equal size"):
        distances.emd_auction(grid, grid[:5])


def test_lower_bound_holds_and_neighbour_search_is_exact():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(1, 48, 3))
    scale = np.array([1, 2, 4, 8])[:, None, None]  # four well-separated shape "classes"
    x = base * scale[np.arange(8) % 4] + 0.2 * rng.normal(size=(8, 48, 3))
    y = base * scale[np.arange(7) % 4] + 0.2 * rng.normal(size=(7, 48, 3))
    joint = np.concatenate([x, y])
    full = distances.pairwise_emd_exact(joint, joint)
    _, bound = distances.pairwise_chamfer(joint, joint, with_bound=True)
    off = ~np.eye(len(joint), dtype=bool)
    assert (bound[off] <= full[off] + 1e-9).all()
    d_xx, d_yy, d_xy, stats = distances.emd_neighbour_matrices(x, y, workers=1)
    n = len(x)
    for row in range(len(joint)):  # joint-row minima equal the exact ones
        got = (
            np.concatenate([d_xx, d_xy], 1)[row]
            if row < n
            else np.concatenate([d_xy.T, d_yy], 1)[row - n]
        )
        got, want = got.copy(), full[row].copy()
        got[row], want[row] = np.inf, np.inf
        assert got.min() == pytest.approx(want.min(), rel=1e-6)
    np.testing.assert_allclose(d_xy.min(0), full[:n, n:].min(0), rtol=1e-6)
    np.testing.assert_allclose(d_xy.min(1), full[:n, n:].min(1), rtol=1e-6)
    assert stats["exact_pairs"] < stats["all_pairs"]


def test_sinkhorn_approaches_exact():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(2, 64, 3)), rng.normal(size=(2, 64, 3)) + 0.5
    exact = [distances.emd_exact(a[i], b[i]) for i in range(2)]
    approx = distances.emd_sinkhorn(torch.tensor(a), torch.tensor(b), eps=1e-3).numpy()
    np.testing.assert_allclose(approx, exact, rtol=0.01)


def test_fast_mode_solves_candidates_only():
    rng = np.random.default_rng(2)
    base = rng.normal(size=(1, 32, 3))
    scale = np.array([1, 2, 4])[:, None, None]
    x = base * scale[np.arange(9) % 3] + 0.1 * rng.normal(size=(9, 32, 3))
    y = base * scale[np.arange(9) % 3] + 0.1 * rng.normal(size=(9, 32, 3))
    exact = distances.emd_neighbour_matrices(x, y, workers=1)
    fast = distances.emd_neighbour_matrices(x, y, mode="fast", top_k=1, workers=1)
    assert fast[3]["exact_pairs"] < exact[3]["exact_pairs"]
    assert 0 <= fast[3]["certified"] <= 1
    # With three candidates per proxy the true neighbours are among the solved pairs.
    fast = distances.emd_neighbour_matrices(x, y, mode="fast", top_k=3, workers=1)
    np.testing.assert_allclose(fast[2].min(0), exact[2].min(0))
    np.testing.assert_allclose(fast[2].min(1), exact[2].min(1))
    assert (fast[2] == distances.UNSOLVED).any()


def test_warm_started_emd_equals_cold_and_sliced_bound_holds():
    rng = np.random.default_rng(3)
    a = rng.normal(size=(300, 3)) * [1.0, 0.3, 0.3]  # two different "shapes": a rod
    b = rng.normal(size=(300, 3)) * [0.3, 1.0, 1.0] + 0.4  # and a shifted disc
    cold = distances.emd_exact(a, b, warm_start=False)
    assert distances.emd_exact(a, b) == pytest.approx(cold, rel=1e-12)
    clouds = np.stack([a, b, rng.normal(size=(300, 3))])
    bound = distances.sliced_bound(clouds, n_directions=16)
    assert bound[0, 1] <= cold
    assert bound[0, 1] > 0 and np.allclose(bound, bound.T) and (np.diag(bound) == 0).all()


def test_cache_carries_solved_pairs_from_fast_to_exact():
    rng = np.random.default_rng(4)
    x, y = rng.normal(size=(6, 24, 3)), rng.normal(size=(6, 24, 3)) * 1.3
    cache: dict = {}
    fast = distances.emd_neighbour_matrices(x, y, mode="fast", workers=1, cache=cache)
    assert len(cache) == fast[3]["exact_pairs"] > 0
    exact = distances.emd_neighbour_matrices(x, y, workers=1, cache=cache)
    fresh = distances.emd_neighbour_matrices(x, y, workers=1)
    assert exact[3]["complete"] and exact[3]["nna_undecided"] == 0
    assert exact[3]["exact_pairs"] == fresh[3]["exact_pairs"] - fast[3]["exact_pairs"]
    np.testing.assert_allclose(exact[2].min(1), fresh[2].min(1))

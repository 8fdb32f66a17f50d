"""Toy datasets: shapes, seeds, splits, parameters, user files, ``data prepare``."""

import json

import numpy as np
import pytest
import torch

from multigen.domain import DomainError
from multigen_domains.toy.data import generate, load_file

BUILTIN = ["eight_gaussians", "grid25", "two_moons", "swiss_roll", "checkerboard"]


@pytest.mark.parametrize("name", BUILTIN)
def test_builtin_shapes_and_normalisation(toy, name):
    ds = toy.load_dataset(name, n=2000)
    assert len(ds) == 2000
    x = torch.stack([ds[i] for i in range(len(ds))])
    assert x.shape == (2000, 2) and x.dtype == torch.float32
    # isotropic normaliser (train split): zero mean, unit pooled std, aspect ratio kept
    assert x.mean(0).abs().max() < 1e-5
    assert abs(x.pow(2).mean().item() - 1.0) < 1e-4
    ratio = x.std(0) / torch.from_numpy(ds.points.std(0)).float()
    assert torch.allclose(ratio[0], ratio[1])


def test_default_sizes_and_split_seeds(toy):
    train, test = toy.load_dataset("grid25"), toy.load_dataset("grid25", split="test")
    assert (len(train), len(test)) == (20_000, 5_000)
    again = toy.load_dataset("grid25")
    np.testing.assert_array_equal(train.points, again.points)  # fixed seed
    assert not np.allclose(train.points[:5000], test.points)  # different draw per split
    other = toy.load_dataset("grid25", seed=1)
    assert not np.allclose(train.points, other.points)


def test_mixture_geometry_matches_the_literature(toy):
    ring = toy.load_dataset("eight_gaussians", split="test")
    np.testing.assert_allclose(np.linalg.norm(ring.mixture.means, axis=1), 2.0)
    assert ring.mixture.std == 0.02 and len(ring.mixture.means) == 8
    assert abs(np.linalg.norm(ring.points, axis=1).mean() - 2.0) < 0.01
    grid = toy.load_dataset("grid25", split="test")
    ticks = np.unique(grid.mixture.means[:, 0])
    np.testing.assert_allclose(ticks, [-4, -2, 0, 2, 4])
    assert grid.mixture.std == 0.05 and len(grid.mixture.means) == 25
    # every sample lies near its generating mode
    d = np.linalg.norm(grid.points[:, None] - grid.mixture.means[None], axis=-1).min(1)
    assert d.max() < 10 * 0.05


def test_params_are_applied_and_checked(toy):
    wide = toy.load_dataset("eight_gaussians", n=500, std=0.1, radius=3.0)
    assert wide.mixture.std == 0.1
    assert abs(np.linalg.norm(wide.points, axis=1).mean() - 3.0) < 0.05
    with pytest.raises(DomainError, match="unknown data.params.*valid: .*radius"):
        toy.load_dataset("eight_gaussians", sigma=0.1)
    with pytest.raises(DomainError, match="n must be"):
        toy.load_dataset("two_moons", n=0)
    with pytest.raises(DomainError, match="unknown split"):
        toy.load_dataset("two_moons", split="valid")
    with pytest.raises(DomainError, match="choose one of"):
        toy.load_dataset("nine_gaussians")


def test_labels_make_a_conditional_dataset(toy):
    ds = toy.load_dataset("grid25", n=300, labels=True)
    x, y = ds[0]
    assert x.shape == (2,) and isinstance(y, int)
    assert toy.describe(ds)["num_classes"] == 25
    batch = toy.collate([ds[i] for i in range(4)])
    assert batch.cond.dtype == torch.long and batch.cond.shape == (4,)
    with pytest.raises(DomainError, match="no labels"):
        toy.load_dataset("swiss_roll", labels=True)


def test_checkerboard_and_moons_support(toy):
    board = toy.load_dataset("checkerboard", n=4000).points
    cell = np.floor(board + 2).astype(int)  # cells of the 4x4 board on [-2, 2]^2
    assert ((cell[:, 0] + cell[:, 1]) % 2 == 0).all()
    assert np.abs(board).max() <= 2.0
    moons = toy.load_dataset("two_moons", n=4000, noise=0.0).points
    upper = np.abs(np.linalg.norm(moons, axis=1) - 1) < 1e-9
    lower = np.abs(np.linalg.norm(moons - [1.0, 0.5], axis=1) - 1) < 1e-9
    assert (upper | lower).all() and upper.mean() > 0.4 and lower.mean() > 0.4


def test_file_dataset_npy_csv_and_folder(toy, tmp_path):
    pts = np.random.default_rng(0).normal(size=(100, 2))
    np.save(tmp_path / "p.npy", pts)
    np.savetxt(tmp_path / "p.csv", pts, delimiter=",", header="x,y", comments="")
    a = toy.load_dataset("file", path=tmp_path / "p.npy")
    b = toy.load_dataset("file", path=tmp_path / "p.csv")
    np.testing.assert_allclose(a.points, pts)
    np.testing.assert_allclose(b.points, pts, rtol=1e-5)
    with pytest.raises(DomainError, match="needs a path"):
        toy.load_dataset("file")


@pytest.mark.parametrize(
    "content, message",
    [
        (np.zeros((10, 3)), r"expected shape \[N, 2\], got \[10, 3\]"),
        (np.zeros(10), r"expected shape \[N, 2\]"),
        (np.array([[0.0, 1.0], [np.nan, 2.0]]), "1 row\\(s\\) contain NaN"),
        (np.zeros((0, 2)), "no points"),
    ],
)
def test_bad_files_name_the_file(tmp_path, content, message):
    f = tmp_path / "bad.npy"
    np.save(f, content)
    with pytest.raises(DomainError, match=message) as err:
        load_file(f)
    assert str(f) in str(err.value)


def test_bad_csv_and_pickles_are_rejected(tmp_path):
    f = tmp_path / "bad.csv"
    f.write_text("x,y\n1,2\n3,abc\n")
    with pytest.raises(DomainError, match="line 3 is not numeric"):
        load_file(f)
    g = tmp_path / "obj.npy"
    np.save(g, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with pytest.raises(DomainError, match="obj.npy"):
        load_file(g)
    with pytest.raises(DomainError, match="unsupported file type"):
        (tmp_path / "p.txt").write_text("1 2\n")
        load_file(tmp_path / "p.txt")
    with pytest.raises(DomainError, match="not found"):
        load_file(tmp_path / "missing.npy")


def test_prepare_round_trips_through_the_file_dataset(toy, tmp_path):
    out = toy.datasets["eight_gaussians"].prepare(tmp_path / "ring", n=300)
    assert {p.name for p in out.iterdir()} >= {"train.npy", "test.npy", "mixture.json"}
    ref = generate("eight_gaussians", "test", n=300)
    back = toy.load_dataset("file", path=out, split="test")
    np.testing.assert_allclose(back.points, ref.points, rtol=1e-6, atol=1e-6)
    assert back.mixture is not None and back.mixture.std == 0.02
    assert json.loads((out / "mixture.json").read_text())["std"] == 0.02
    with pytest.raises(DomainError, match="no val.npy"):
        toy.load_dataset("file", path=out, split="val")

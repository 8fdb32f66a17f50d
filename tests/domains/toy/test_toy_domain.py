"""The toy domain adapter: describe/decode, files, references, registry."""

import json

import numpy as np
import pytest
import torch

from multigen.domain import Batch, DomainError
from multigen_domains.toy import ToyReference


def test_describe_is_json_and_decode_inverts_the_normaliser(toy):
    ds = toy.load_dataset("grid25", n=1000)
    info = toy.describe(ds)
    info = json.loads(json.dumps(info))  # what the checkpoint's meta.json keeps
    assert info["shape"] == [2] and info["num_classes"] == 0 and info["cond_dim"] == 0
    assert info["sigma_data"] == pytest.approx(1.0, abs=1e-6)
    assert len(info["mixture"]["means"]) == 25 and info["mixture"]["std"] == 0.05
    batch = toy.collate([ds[i] for i in range(len(ds))])
    points = toy.decode(batch, info)
    assert points.shape == (1000, 2) and points.dtype == torch.float32
    np.testing.assert_allclose(points.numpy(), ds.points, atol=1e-5)
    # other splits use the training split's normaliser: decoding them with the run's info
    # must give back their own points (the trainer scores against a decoded test split)
    for params in ({}, {"n": 1000}):
        test = toy.load_dataset("grid25", split="test", **params)
        train_info = toy.describe(toy.load_dataset("grid25", **params))
        back = toy.decode(toy.collate([test[i] for i in range(len(test))]), train_info)
        np.testing.assert_allclose(back.numpy(), test.points, atol=1e-5)
    sub = torch.utils.data.Subset(ds, range(10))
    assert toy.describe(sub)["scale"] == info["scale"]


def test_template_and_noise_are_per_sample(toy):
    info = toy.describe(toy.load_dataset("two_moons", n=100))
    tpl = toy.template(info, 3, torch.Generator())
    assert tpl.x.shape == (3, 2) and tpl.mask is None and tpl.cond is None
    gens = [torch.Generator().manual_seed(s) for s in (5, 6, 7)]
    n3 = toy.noise(tpl, gens)
    n1 = toy.noise(Batch(torch.zeros(1, 2)), [torch.Generator().manual_seed(7)])
    assert torch.equal(n3[2:], n1)


def test_export_and_load_samples(toy, tmp_path):
    ds = toy.load_dataset("eight_gaussians", n=300)
    info = toy.describe(ds)
    pts = toy.decode(toy.collate([ds[i] for i in range(300)]), info)
    files = toy.export(pts, tmp_path / "s")
    assert sorted(f.name for f in files) == ["samples.csv", "samples.npy", "samples.png"]
    assert (tmp_path / "s" / "samples.png").stat().st_size > 1000
    for source in (tmp_path / "s", tmp_path / "s" / "samples.npy", tmp_path / "s" / "samples.csv"):
        back = toy.load_samples(source)
        np.testing.assert_allclose(back.numpy(), pts.numpy(), rtol=1e-5, atol=1e-5)
    with pytest.raises(DomainError, match="no samples.npy"):
        toy.load_samples(tmp_path)


def test_load_samples_nonfinite_strict_vs_lenient(toy, tmp_path):
    f = tmp_path / "gen.npy"
    np.save(f, np.array([[0.0, 1.0], [np.nan, 0.0]]))
    assert toy.load_samples(f).shape == (2, 2)
    with pytest.raises(DomainError, match="gen.npy"):
        toy.load_samples(f, strict=True)


def test_reference_specs(toy, tmp_path):
    ref = toy.reference("eight_gaussians")
    assert isinstance(ref, ToyReference) and ref.points.shape == (5000, 2)
    assert ref.mixture is not None and ref.name == "eight_gaussians:test"
    train = toy.reference("eight_gaussians:train", n=100)
    assert train.points.shape == (100, 2) and not np.allclose(train.points, ref.points[:100])
    out = toy.datasets["grid25"].prepare(tmp_path / "g", n=200)
    from_dir = toy.reference(str(out))
    assert from_dir.points.shape == (200, 2) and len(from_dir.mixture.means) == 25
    from_file = toy.reference(str(out / "test.csv"))
    assert from_file.mixture is not None
    with pytest.raises(DomainError, match="not a file and not a dataset"):
        toy.reference("ring8")
    with pytest.raises(DomainError, match="unknown split"):
        toy.reference("grid25:dev")


def test_evaluate_accepts_a_reference_string(toy):
    ref = toy.reference("grid25", n=500)
    out = toy.evaluate(torch.from_numpy(ref.points).float(), "grid25")
    assert out["modes_covered"] == 25 and out["hq_fraction"] > 0.95


def test_registered_through_entry_points():
    from importlib.metadata import entry_points

    eps = {ep.name: ep for ep in entry_points(group="multigen.domains")}
    assert "toy" in eps
    dom = eps["toy"].load()()
    assert dom.name == "toy" and dom.default_dataset in dom.datasets
    assert {"mlp", "mlp_generator", "mlp_discriminator"} <= set(dom.networks)


def test_decoded_reference_carries_the_runs_own_mixture(toy):
    """The trainer's default reference is the decoded test split: the exact mixture (with
    the run's data params) must come along so the mixture metrics are not lost."""
    train = toy.load_dataset("eight_gaussians", n=400, std=0.05)
    info = toy.describe(train)
    test = toy.load_dataset("eight_gaussians", split="test", n=400, std=0.05)
    ref = toy.decode(toy.collate([test[i] for i in range(len(test))]), info)
    out = toy.evaluate(torch.from_numpy(test.points), ref)
    assert out["modes_total"] == 8
    assert out["hq_fraction"] == pytest.approx(1 - np.exp(-4.5), abs=0.03)  # std 0.05 used
    plain = toy.evaluate(torch.from_numpy(test.points), torch.from_numpy(test.points))
    assert "modes_total" not in plain

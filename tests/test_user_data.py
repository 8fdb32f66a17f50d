"""Engine side of issue 20: a user's own data means the same thing in every command."""

from __future__ import annotations

import pytest

from multigen.config import load_config

SDF = ["data.name=sdf", "data.path=/data/mine.sdf"]


@pytest.mark.parametrize(
    "config",
    [
        "configs/molecules/embedded_edm.yaml",
        "configs/molecules/qm9_edm_cpu.yaml",
        "configs/images/digits_edm.yaml",
    ],
)
def test_default_reference_follows_a_changed_data_set(config):
    # finding 7: --set data.name/data.path kept scoring against the config's own data set
    shipped = load_config(config).eval.reference
    assert shipped is not None
    name = "folder" if "images" in config else "sdf"
    moved = load_config(config, [f"data.name={name}", "data.path=/data/mine"])
    assert moved.eval.reference is None  # None: the test split of the new data
    chosen = load_config(config, [f"data.name={name}", "data.path=/x", "eval.reference=qm9:test"])
    assert chosen.eval.reference == "qm9:test"  # said explicitly: kept
    assert load_config(config, ["train.steps=3"]).eval.reference == shipped


def test_reference_unrelated_to_the_data_is_kept(tmp_path):
    raw = {
        "domain": "molecules",
        "data": {"name": "embedded"},
        "model": {"name": "egnn"},
        "method": {"name": "flow"},
        "eval": {"reference": "moses"},
    }
    assert load_config(raw, SDF).eval.reference == "moses"
    raw["data"] = {"name": "folder", "path": "data/cifar10"}
    raw["eval"] = {"reference": "data/cifar10/train"}
    assert load_config(raw, ["data.path=/mine"]).eval.reference is None


@pytest.mark.parametrize("domain", ["shapes", "molecules", "toy", "images", "audio"])
def test_every_domain_states_minimum_n_and_warns_below_it(domain):
    # finding 8: shapes scored 3 samples against 128 without a word
    from multigen.metrics.checks import MIN_SAMPLES, minimum_n
    from multigen.registry import get_domain

    dom = get_domain(domain)
    assert all(int(n) >= 1 for n in dom.min_samples.values())
    scores = {"n_samples": 3.0, "n_reference": 128.0, "some_metric": 0.5}
    notes = dom.sample_size_notes(scores)
    assert len(notes) == 1 and "3 samples" in notes[0] and "some_metric" in notes[0]
    assert minimum_n("some_metric", dom.min_samples) == MIN_SAMPLES


def test_shapes_evaluate_warns_for_three_samples_against_128():
    import numpy as np

    from multigen import api
    from multigen.metrics.checks import SmallSampleWarning

    rng = np.random.default_rng(0)
    gen, ref = rng.normal(size=(3, 64, 3)), rng.normal(size=(128, 64, 3))
    with pytest.warns(SmallSampleWarning, match=r"3 samples.*mmd_cd.*need 100"):
        scores = api.evaluate("shapes", gen, ref, metrics=["cd"])
    assert scores["n_samples"] == 3 and scores["n_reference"] == 128


def test_molecule_metrics_state_their_own_minimum():
    from multigen.registry import get_domain

    dom = get_domain("molecules")
    notes = dom.sample_size_notes({"n_samples": 40.0, "validity": 1.0, "fcd": 2.0})
    assert len(notes) == 1 and "fcd need 513" in notes[0] and "validity" not in notes[0]


@pytest.mark.parametrize(
    ("domain", "dataset", "path", "key", "hint"),
    [
        ("shapes", "mesh_folder", "/tmp", "n_point", "did you mean 'n_points'"),
        ("shapes", "embedded", None, "clases", "did you mean 'classes'"),
        ("molecules", "embedded", None, "bogus_key", "'bogus_key'"),  # **params forwarded
        ("toy", "eight_gaussians", None, "radious", "did you mean 'radius'"),
    ],
)
def test_a_misspelt_data_param_is_named_in_one_line(domain, dataset, path, key, hint):
    # a misspelt data.params key reached the factory and ended in a TypeError traceback
    from multigen.domain import DomainError
    from multigen.registry import get_domain

    with pytest.raises(DomainError, match=f"unknown data.params key.*{dataset}.*{hint}"):
        get_domain(domain).load_dataset(dataset, path, "train", **{key: 1})


def test_a_misspelt_data_param_exits_2_from_the_cli(tmp_path, capsys):
    from multigen.cli import main

    config = tmp_path / "c.yaml"
    config.write_text(
        "domain: shapes\n"
        f"data: {{name: mesh_folder, path: {tmp_path}, params: {{n_point: 64}}, batch_size: 4}}\n"
        "model: {name: pointnet, params: {width: 16, depth: 1}}\n"
        "method: {name: edm}\ntrain: {steps: 2}\n"
    )
    assert main(["train", str(config), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert "n_point" in err and "n_points" in err and len(err.splitlines()) == 1

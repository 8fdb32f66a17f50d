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

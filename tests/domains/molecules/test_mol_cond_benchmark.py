"""The conditional QM9 benchmark's generator rows: one generator per property merged into one
row per training step, the shuffled-target sanity rows, and a property name that QM9 does
not have refused with the allowed names."""

from __future__ import annotations

import json

import numpy as np
import pytest

from multigen.cli import main
from multigen.domain import DomainError
from multigen_domains.molecules import conditional
from multigen_domains.molecules.conditional import shuffled_mae, train_seconds
from multigen_domains.molecules.data import MoleculeDataset
from multigen_domains.molecules.mol import Molecule

from .test_mol_qm9_configs import train_on_small_pack


def _mol(n: int, target: float) -> Molecule:
    return Molecule(["C"] * n, np.zeros((n, 3)), props={"x": target, "target_x": target})


def test_shuffled_targets_by_hand(monkeypatch):
    # a "perfect" model (prediction = requested value): its own targets score 0; shuffled
    # within the atom count they still score 0 here (one value per count), shuffled across
    # counts they do not
    mols = [_mol(3, 1.0)] * 4 + [_mol(5, 10.0)] * 4
    ds = MoleculeDataset(mols, ["C"], ("x",), source="hand")
    monkeypatch.setattr(
        conditional,
        "predict_batched",
        lambda model, ms, *a, **k: np.array([[m.props["x"]] for m in ms]),
    )
    assert conditional.generated_mae(None, ds, mols, ("x",)) == {"x": 0.0}
    got = shuffled_mae(None, ds, mols, ("x",), seed=0)
    assert got["targets shuffled within atom count"] == {"x": 0.0}
    assert got["targets shuffled"]["x"] > 0  # seed 0 moves some of each count to the other
    assert shuffled_mae(None, ds, [Molecule(["N"], np.zeros((1, 3)))], ("x",)) == {}


def test_train_seconds_from_the_log(tmp_path):
    log = [{"step": 10, "time": 100.0, "samples_per_s": 1.0}, {"step": 30, "time": 140.0}]
    log += [{"step": 30, "time": 140.0, "samples_per_s": 1.0}, {"step": 30, "time": 150.0}]
    (tmp_path / "log.jsonl").write_text("\n".join(json.dumps(r) for r in log))
    assert train_seconds(tmp_path, 30) == pytest.approx(60.0)  # 40 s for 20 steps -> 30 steps
    assert train_seconds(tmp_path, 20) is None  # one logged step at or below 20
    assert train_seconds(tmp_path / "none", 30) is None


def test_generator_rows_merge_per_step_with_sanity_rows(tmp_path, monkeypatch):
    run = train_on_small_pack(
        tmp_path,
        monkeypatch,
        "qm9_cond_edm_cpu",
        2,
        "model.params={hidden: 16, layers: 2}",
        "data.params.properties=[gap]",
        "train.checkpoint_every=1",
        "train.keep_last=5",
        "train.log_every=1",
    )
    out = tmp_path / "bench"
    opts = ["steps=2", "hidden=8", "layers=1", "n_reference=5", "n=4", "label=cond"]
    opts += [f"runs=[{run}]", "checkpoints=[1, 2]", "sanity=true"]
    args = ["benchmark", "qm9_conditional", "--out", str(out)]
    assert main(args + [x for o in opts for x in ("--option", o)]) == 0
    record = json.loads((out / "results.json").read_text())
    rows = {r["row"]: r for r in record["table"]}
    for step in (1, 2):
        row = rows[f"cond, {step} steps (4 samples, 2 NFE), ours"]
        assert isinstance(row["gap"], float) and row["alpha"] == "-"
        for kind in ("targets shuffled within atom count", "targets shuffled"):
            assert isinstance(
                rows[f"cond, {step} steps (4 samples, 2 NFE), {kind}, ours"]["gap"], float
            )
    assert [g["step"] for g in record["generators"]] == [1, 2]
    assert record["predictor_trained"] and "training it" in record["notes"]
    assert record["generators"][0]["properties"] == ["gap"]
    # a step the run has no checkpoint for is named with the steps it has
    opts[-2] = "checkpoints=[7]"
    assert main(args + [x for o in opts for x in ("--option", o)]) == 2


def test_unknown_property_is_refused_with_the_allowed_names(tmp_path, monkeypatch):
    with pytest.raises(DomainError, match=r"unknown properties \['alpah'\]; choose from .*'alpha'"):
        train_on_small_pack(
            tmp_path, monkeypatch, "qm9_cond_edm_cpu", 1, "data.params.properties=[alpah]"
        )
    assert not list(tmp_path.glob("run/checkpoints/step_*"))

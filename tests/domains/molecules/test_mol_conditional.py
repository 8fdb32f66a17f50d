"""EDM's conditional protocol pieces: the QM9 training halves, the atom-count baseline by
hand, the three reference rows and the MAE of generated molecules, on a tiny fixture."""

from __future__ import annotations

import math

import numpy as np
import pytest

from multigen.domain import DomainError
from multigen_domains.molecules import qm9_pack
from multigen_domains.molecules.conditional import (
    EDM_PROPERTIES,
    count_baseline,
    generated_mae,
    reference_rows,
)
from multigen_domains.molecules.data import qm9_dataset
from multigen_domains.molecules.mol import Molecule
from multigen_domains.molecules.qm9 import qm9_molecules, qm9_split_indices

from .test_mol_qm9pack import write_pack


def test_training_halves_partition_the_train_split():
    a, b = qm9_split_indices(130_831, "train_a"), qm9_split_indices(130_831, "train_b")
    assert len(a) == len(b) == 50_000 and not set(a.tolist()) & set(b.tolist())
    assert set(a.tolist()) | set(b.tolist()) == set(qm9_split_indices(130_831, "train").tolist())


def test_count_baseline_by_hand():
    def mol(n, x):
        return Molecule(["C"] * n, np.zeros((n, 3)), props={"x": x})

    train = [mol(3, 1.0), mol(3, 3.0), mol(5, 10.0)]
    pred = count_baseline(train, [mol(3, 0), mol(5, 0), mol(6, 0), mol(4, 0)], ("x",))
    # own count's mean; 6 -> nearest 5; 4 is as near 3 as 5 -> the smaller count
    assert pred[:, 0].tolist() == [2.0, 10.0, 10.0, 2.0]


def test_reference_rows_and_generated_mae(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIGEN_CACHE", str(tmp_path / "cache"))
    folder = write_pack(tmp_path / "pack", n=40)
    monkeypatch.setattr(qm9_pack, "pack_dir", lambda: folder)
    a = qm9_molecules(None, "train_a", progress=False)
    b = qm9_molecules(None, "train_b", progress=False)
    assert not {m.name for m in a} & {m.name for m in b}
    assert len(qm9_dataset(None, "train", half="b", progress=False)) == len(b)
    with pytest.raises(DomainError, match="half must be 'a' or 'b'"):
        qm9_dataset(None, "train", half="c")
    rows, model, ds = reference_rows(a, b, steps=3, hidden=8, layers=1)
    assert set(rows) == {"QM9 (lower bound), ours", "#Atoms, ours", "Naive (upper bound), ours"}
    assert all(set(r) == set(EDM_PROPERTIES) for r in rows.values())
    assert all(math.isfinite(v) and v >= 0 for r in rows.values() for v in r.values())
    # a "generated" molecule asking for its own values scores the lower-bound error
    asked = [Molecule(m.symbols, m.positions, props={f"target_{p}": m.props[p] for p in m.props})
             for m in b]  # fmt: skip
    got = generated_mae(model, ds, asked, EDM_PROPERTIES)
    assert got == pytest.approx(rows["QM9 (lower bound), ours"], rel=1e-5)
    assert generated_mae(model, ds, [Molecule(["C"], np.zeros((1, 3)))], EDM_PROPERTIES) == {}


def test_qm9_conditional_is_a_benchmark_command(tmp_path, monkeypatch):
    # `multigen benchmark qm9_conditional` runs the protocol end to end (tiny fixture, tiny
    # predictor) and writes results.{json,md} with the three reference rows and EDM's rows
    import json

    from multigen.cli import main

    monkeypatch.setenv("MULTIGEN_CACHE", str(tmp_path / "cache"))
    folder = write_pack(tmp_path / "pack", n=40)
    monkeypatch.setattr(qm9_pack, "pack_dir", lambda: folder)
    out, pub = tmp_path / "out", tmp_path / "pub"
    args = ["benchmark", "qm9_conditional", "--out", str(out), "--publish", str(pub)]
    opts = ["steps=3", "hidden=8", "layers=1", "n_reference=5"]
    assert main(args + [x for o in opts for x in ("--option", o)]) == 0
    record = json.loads((out / "results.json").read_text())
    rows = {r["row"]: r for r in record["table"]}
    assert "QM9 (lower bound), ours" in rows and "EDM, EDM paper" in rows
    assert record["n_reference"] == 5 and record["options"]["steps"] == 3
    assert "| row | alpha |" in (pub / "bench_qm9_conditional.md").read_text()
    assert main(["benchmark", "qm9_conditional", "--option", "stepz=3"]) == 2

"""QM9 from qm9pack-format CSVs: parsing, units, EDM's split, the cache (hit, truncated,
stale, atomic), bad input, and `multigen data prepare qm9` / `evaluate --samples qm9:test`.
Small hand-made CSV fixtures; the whole wheel is checked in a slow test."""

from __future__ import annotations

import csv
import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import pytest
from rdkit import Chem
from rdkit.Chem import AllChem

from multigen.domain import DomainError
from multigen_domains.molecules import get_domain, qm9_pack
from multigen_domains.molecules.constants import HARTREE_EV, HARTREE_MEV
from multigen_domains.molecules.data import qm9_dataset
from multigen_domains.molecules.qm9 import qm9_molecules, qm9_split_indices
from multigen_domains.molecules.qm9_cache import cache_path, load_table
from multigen_domains.molecules.qm9_pack import PACK_COLUMNS, PACK_PARTS, POLAR_FILE, read_pack

SMILES = ["C", "N", "O", "C#C", "C#N", "C=O", "CO", "CC", "CCO", "CC=O", "NC=O", "OC=O"]


def _row(k: int, smi: str) -> dict[str, str]:
    m = Chem.AddHs(Chem.MolFromSmiles(smi))
    AllChem.EmbedMolecule(m, randomSeed=k)
    pos = m.GetConformer().GetPositions()
    els = [a.GetSymbol() for a in m.GetAtoms()]
    row = {
        "XYZ_file": f'"dsgdb9nsd_{k:06d}.xyz"',
        "Index": str(k),
        "SMILES": smi,
        "InChi": "InChI=1S/x",
        "N_atoms": str(len(els)),
        "Stoichiometry": "[0]",
        "Elements": "[" + ",".join(f"'{e}'" for e in els) + "]",
        # "0." and "*^" notation occur in the wheel; write both
        "XYZ_Ang": "["
        + ",".join("[" + ",".join(f"{v:.6f}" for v in p) + "]" for p in pos).replace(
            "0.000000", "0."
        )
        + "]",
    }
    for j, col in enumerate(PACK_COLUMNS):
        row[col] = f"{0.1 * k + 0.01 * j:.4f}"
    row["HOMO_LUMO_gap_au"] = f"{k * 1e-2}*^0"
    return row


def write_pack(folder: Path, n: int = 12) -> Path:
    """A qm9pack-style data folder; rows are split over the three parts out of order."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = [_row(k + 1, SMILES[k % len(SMILES)]) for k in range(n)]
    parts = [rows[8:], rows[:4], rows[4:8]]  # gdb order only after sorting by Index
    for name, chunk in zip(PACK_PARTS, parts):
        with (folder / name).open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(chunk)
    with (folder / POLAR_FILE).open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["XYZ_file", "A_xx", "A_xy", "A_yy", "A_xz", "A_yz", "A_zz"])
        for r in rows:
            a = float(r["Polarizability_bohr3"])
            w.writerow([f"dsgdb9nsd_{int(r['Index']):06d}.xyz", a, 0, a, 0, 0, a])
    return folder


@pytest.fixture
def pack(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("MULTIGEN_CACHE", str(tmp_path / "cache"))
    folder = write_pack(tmp_path / "qm9pack_data")
    monkeypatch.setattr(qm9_pack, "pack_dir", lambda: folder)  # "the installed wheel"
    return folder


def test_read_pack_sorts_by_index_and_converts_units(pack):
    t = read_pack(pack, progress=False)
    assert t.index.tolist() == list(range(1, 13))
    m = t.molecule(4)  # Index 5: HCN
    assert m.name == "gdb_5" and sorted(m.symbols) == ["C", "H", "N"]
    assert m.props["gap"] == pytest.approx(0.05 * HARTREE_MEV)  # 0.05 Ha = 1360.6 meV
    assert m.props["u0"] == pytest.approx((0.5 + 0.01 * 10) * HARTREE_EV)
    assert m.props["mu"] == pytest.approx(0.5 + 0.03) and m.props["cv"] == pytest.approx(0.64)
    c2h2 = t.molecule(3)
    assert np.abs(np.linalg.norm(c2h2.positions[0] - c2h2.positions[1]) - 1.2) < 0.1


def test_qm9_dataset_uses_edm_split_with_h(pack):
    sizes = {s: len(qm9_molecules(pack, s, progress=False)) for s in ("train", "valid", "test")}
    assert sizes == {s: len(qm9_split_indices(12, s)) for s in sizes} and sum(sizes.values()) == 12
    test = qm9_molecules(None, "test", progress=False)  # path None: the installed wheel
    expected = {f"gdb_{k + 1}" for k in qm9_split_indices(12, "test")}
    assert {m.name for m in test} == expected
    ds = qm9_dataset(None, "train", properties=["gap", "alpha"], progress=False)
    assert ds.atom_types == ["H", "C", "N", "O", "F"] and ds[0][1].shape == (2,)
    assert any("H" in m.symbols for m in ds.mols)
    ref = get_domain().reference("qm9:test")
    assert {m.name for m in ref} == expected


def test_cache_hit_truncated_and_stale(pack, monkeypatch, capsys):
    load_table(pack, progress=False)
    path = cache_path(pack)
    assert path.exists() and not list(path.parent.glob(".*.tmp"))

    def boom(*a, **k):
        raise AssertionError("parsed again")

    from multigen_domains.molecules import qm9_cache

    monkeypatch.setattr(qm9_cache, "_MEMO", {})
    monkeypatch.setattr(qm9_cache, "read_pack", boom)
    assert len(load_table(pack, progress=False)) == 12  # read back from the cache file
    monkeypatch.setattr(qm9_cache, "read_pack", read_pack)

    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # truncated
    monkeypatch.setattr(qm9_cache, "_MEMO", {})
    assert len(load_table(pack, progress=False)) == 12
    assert "truncated" in capsys.readouterr().err
    assert path.stat().st_size == len(data)

    row = _row(13, "CCC")  # a molecule added to the source files: the cache is stale
    with (pack / PACK_PARTS[1]).open("a", newline="") as fh:
        csv.writer(fh).writerow(row.values())
    with (pack / POLAR_FILE).open("a", newline="") as fh:
        a = row["Polarizability_bohr3"]
        csv.writer(fh).writerow(["dsgdb9nsd_000013.xyz", a, 0, a, 0, 0, a])
    assert len(load_table(pack, progress=False)) == 13
    assert "stale" in capsys.readouterr().err


def _edit_part(path: Path, row: int, **changes: str) -> None:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[row].update(changes)
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_bad_rows_name_the_file_and_line(pack):
    part = pack / PACK_PARTS[0]
    good = part.read_text()
    _edit_part(part, 1, XYZ_Ang="[[9.0,9.0,9.0]]")  # line 3: one position for several atoms
    with pytest.raises(DomainError, match=rf"{PACK_PARTS[0]} line 3: N_atoms=\d+ but"):
        read_pack(pack, progress=False)
    part.write_text(good)
    _edit_part(part, 0, Elements="['C','Xx']")
    with pytest.raises(DomainError, match="line 2: unreadable QM9 row .*unknown element 'Xx'"):
        read_pack(pack, progress=False)
    part.write_text("Index,SMILES\n1,C\n")
    with pytest.raises(DomainError, match="columns missing: XYZ_file"):
        read_pack(pack, progress=False)
    header = good.splitlines()[0]
    (pack / PACK_PARTS[1]).write_text(header + "\n")  # the fuzz campaign's case: rows removed
    part.write_text(good)
    with pytest.raises(DomainError, match=rf"{PACK_PARTS[1]}: holds no rows"):
        read_pack(pack, progress=False)


def test_polarizability_cross_check(pack):
    polar = pack / POLAR_FILE
    lines = polar.read_text().splitlines()
    lines[3] = lines[3].replace(",0,0,", ",0,0,99", 1)
    polar.write_text("\n".join(lines) + "\n")
    with pytest.raises(DomainError, match="line 4: trace/3"):
        read_pack(pack, progress=False)
    polar.write_text("\n".join(lines[:3]) + "\n")
    with pytest.raises(DomainError, match="2 rows but the main files .* have 12"):
        read_pack(pack, progress=False)


def test_missing_wheel_and_wrong_folder(tmp_path, monkeypatch):
    monkeypatch.undo()
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(DomainError, match=r"pip install 'multigen\[qm9\]'"):
        qm9_pack.pack_dir()
    with pytest.raises(DomainError, match="not a QM9 folder"):
        qm9_molecules(tmp_path, "train")


def test_cli_prepare_and_data_row(pack, tmp_path, capsys):
    from multigen.cli import main

    assert main(["data", "prepare", "qm9"]) == 0
    assert cache_path(pack).exists()
    assert main(["data", "prepare", "qm9", "--out", str(tmp_path / "sdf")]) == 0
    assert {p.name for p in (tmp_path / "sdf").iterdir()} == {
        "qm9_train.sdf",
        "qm9_valid.sdf",
        "qm9_test.sdf",
    }
    out = tmp_path / "row.json"
    args = ["evaluate", "--domain", "molecules", "--samples", "qm9:test"]
    args += ["--reference", "qm9:train", "--option", "fcd=false", "--option", "strain=false"]
    assert main([*args, "--out", str(out)]) == 0
    row = json.loads(out.read_text())
    assert row["n_samples"] == len(qm9_split_indices(12, "test"))
    assert 0 <= row["atom_stability"] <= 1 and "uniqueness_heavy" in row
    assert main(["evaluate", "--domain", "molecules", "--samples", "nope:test",
                 "--reference", "qm9:train"]) == 2  # fmt: skip
    assert "not a dataset name" in capsys.readouterr().err


@pytest.mark.slow
def test_installed_wheel_is_edms_qm9(tmp_path, monkeypatch):
    if importlib.util.find_spec("qm9pack") is None:
        pytest.skip("qm9pack not installed (pip install 'multigen[qm9]')")
    monkeypatch.setenv("MULTIGEN_CACHE", str(tmp_path))
    folder = qm9_pack.pack_dir()
    t = load_table(folder, progress=False)
    assert len(t) == 130_831 and t.index[0] == 1 and t.index[-1] == 133_885
    assert [len(qm9_split_indices(len(t), s)) for s in ("train", "valid", "test")] == [
        100_000,
        17_748,
        13_083,
    ]
    methane = t.molecule(0)
    assert methane.symbols == ["C", "H", "H", "H", "H"]
    assert methane.props["gap"] == pytest.approx(0.5048 * HARTREE_MEV)
    assert methane.props["alpha"] == pytest.approx(13.21)
    assert os.path.getsize(cache_path(folder)) > 50e6

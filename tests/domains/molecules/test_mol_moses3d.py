"""The drug-like 3D set: seeded MOSES subsets embedded with ETKDG + MMFF, failures counted with
their reasons, cached by (n, seed, RDKit version), nothing half-written; the dataset's
vocabulary comes from the data; `multigen data prepare moses3d --n --seed`."""

from __future__ import annotations

import json

import pytest

from multigen.domain import DomainError
from multigen_domains.molecules import get_domain, moses3d
from multigen_domains.molecules.data import moses3d_dataset
from multigen_domains.molecules.moses_suite import data as moses_data

TRAIN = ["CCO", "c1ccccc1Cl", "CC(=O)Nc1ccccc1", "C1CC", "CSc1ccc(Br)cc1", "OC(=O)CCN", "CCCF"]
TRAIN += ["CN1CCNCC1", "c1ccncc1", "CC(C)O"]
TESTS = ["CCN", "c1ccoc1", "CCS"]


@pytest.fixture
def fake_moses(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIGEN_CACHE", str(tmp_path / "cache"))
    splits = {"train": TRAIN, "test": TESTS, "test_scaffolds": TESTS[::-1]}
    monkeypatch.setattr(moses_data, "read_split", lambda s: tuple(splits[s]))
    return splits


def test_prepare_embeds_counts_failures_and_caches(fake_moses, monkeypatch, capsys):
    folder = moses3d.prepare_moses3d(n=10, seed=3, processes=1, progress=False)
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["train"] == {
        "requested": 10,
        "embedded": 9,
        "skipped": 1,
        "skipped_examples": ["SMILES 'C1CC' (C1CC): unparsable SMILES"],
    }
    assert meta["test"]["requested"] == 1 and meta["test"]["embedded"] == 1
    assert meta["elements"] == ["H", "C", "N", "O", "F", "S", "Cl", "Br"]
    assert "skipped 1 record" in capsys.readouterr().err
    assert folder.name.startswith("moses3d_n10_seed3_rdkit")
    assert not list(folder.parent.glob(".moses3d*"))  # no temporary folder left

    def boom(*a, **k):
        raise AssertionError("embedded again")

    monkeypatch.setattr(moses3d, "conformers", boom)
    assert moses3d.prepare_moses3d(n=10, seed=3) == folder  # the cache
    (folder / "meta.json").unlink()  # an incomplete folder is rebuilt, not used
    with pytest.raises(AssertionError, match="embedded again"):
        moses3d.prepare_moses3d(n=10, seed=3)
    assert not list(folder.parent.glob(".moses3d*"))


def test_seeded_subsets_and_dataset(fake_moses, tmp_path):
    a = moses3d.prepare_moses3d(tmp_path / "a", n=4, seed=0, processes=1, progress=False)
    b = moses3d.prepare_moses3d(tmp_path / "b", n=4, seed=1, processes=1, progress=False)
    names = lambda f: (f / "train.sdf").read_text().count("$$$$")  # noqa: E731
    assert names(a) <= 4 and names(b) <= 4
    assert (a / "train.sdf").read_text() != (b / "train.sdf").read_text()
    again = moses3d.prepare_moses3d(tmp_path / "c", n=4, seed=0)
    assert (again / "train.sdf").read_text() == (a / "train.sdf").read_text()
    ds = moses3d_dataset(None, "train", n=4, seed=0)
    meta = json.loads((a / "meta.json").read_text())
    assert ds.atom_types == meta["elements"] and len(ds) == meta["train"]["embedded"]
    assert any("H" in m.symbols for m in ds.mols)
    assert len(moses3d_dataset(a, "test_scaffolds")) == 1
    with pytest.raises(DomainError, match="split 'valid' unknown"):
        moses3d_dataset(a, "valid")
    with pytest.raises(DomainError, match="not a complete moses3d folder"):
        moses3d_dataset(tmp_path, "train")
    with pytest.raises(DomainError, match="asks for 1000 train molecules"):
        moses3d.prepare_moses3d(n=1000, seed=0)


@pytest.mark.slow  # imports every domain (the CLI lists them)
def test_cli_prepare_moses3d(fake_moses, tmp_path, capsys):
    from multigen.cli import main

    assert main(["data", "prepare", "moses3d", "--n", "3", "--seed", "2"]) == 0
    assert "moses3d_n3_seed2" in capsys.readouterr().out
    assert get_domain().datasets["moses3d"].prepare is moses3d.prepare_moses3d

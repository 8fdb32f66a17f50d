"""Loaders (SDF, XYZ, SMILES, QM9 raw), bad input, splits, state encoding, noise, template."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from rdkit import Chem
from rdkit.Chem import AllChem

from multigen.domain import DomainError
from multigen_domains.molecules import get_domain
from multigen_domains.molecules.constants import QM9_PROPERTIES
from multigen_domains.molecules.data import (
    embedded_dataset,
    sdf_dataset,
    smiles_dataset,
    xyz_dataset,
)
from multigen_domains.molecules.io import SkipLog, read_sdf, read_xyz, write_sdf, write_xyz
from multigen_domains.molecules.qm9 import load_qm9, qm9_split_indices
from multigen_domains.molecules.state import count_mask, decode, encode, project, sample_counts

SMILES = ["CCO", "CC(=O)O", "c1ccccc1", "CN", "OC=O", "C#N", "CCF", "NCC(=O)O", "C1CC1", "CC=O"]


def embed(smi: str, seed: int = 0) -> Chem.Mol:
    m = Chem.AddHs(Chem.MolFromSmiles(smi))
    AllChem.EmbedMolecule(m, randomSeed=seed)
    return m


@pytest.fixture(scope="module")
def sdf_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sdf") / "mols.sdf"
    w = Chem.SDWriter(str(path))
    for k, s in enumerate(SMILES):
        m = embed(s, k)
        m.SetProp("_Name", s)
        w.write(m)
    w.close()
    return path


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("MULTIGEN_CACHE", str(tmp_path / "cache"))


def test_sdf_loader_and_split(sdf_file):
    ds = sdf_dataset(sdf_file, "all")
    assert len(ds) == 10 and ds.atom_types == ["H", "C", "N", "O", "F"]
    parts = [len(sdf_dataset(sdf_file, s)) for s in ("train", "valid", "test")]
    assert parts == [8, 1, 1]
    x, cond = ds[0]
    assert cond is None and x.shape[1] == 3 + 5 + 1
    assert torch.allclose(x[:, :3].mean(0), torch.zeros(3), atol=1e-5)


def test_sdf_bad_records_are_counted_and_strict_raises(sdf_file, tmp_path):
    bad = tmp_path / "bad.sdf"
    bad.write_text(
        sdf_file.read_text()
        + "garbage\n\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\nnot a record\n$$$$\n"
    )
    log = SkipLog()
    mols = read_sdf(bad, log)
    assert len(mols) == 10 and log.count >= 1 and "bad.sdf record" in log.examples[0]
    with pytest.raises(DomainError, match="bad.sdf record"):
        read_sdf(bad, SkipLog(strict=True))
    empty = tmp_path / "empty.sdf"
    empty.write_text("")
    with pytest.raises(DomainError, match="no molecules"):
        sdf_dataset(empty, "all")
    with pytest.raises(DomainError, match="not found"):
        sdf_dataset(tmp_path / "missing.sdf", "all")


def test_unknown_elements_are_skipped(sdf_file):
    ds = sdf_dataset(sdf_file, "all", atom_types=["H", "C", "O"])
    assert len(ds) == 6  # drops the N and F molecules
    assert ds.log.count == 4 and "not in atom_types" in ds.log.examples[0]


def test_xyz_roundtrip(sdf_file, tmp_path):
    mols = read_sdf(sdf_file)
    write_xyz(mols, tmp_path / "a.xyz")
    back = read_xyz(tmp_path / "a.xyz")
    assert [m.symbols for m in back] == [m.symbols for m in mols]
    assert np.allclose(back[3].positions, mols[3].positions, atol=1e-5)
    assert len(xyz_dataset(tmp_path, "all")) == 10
    (tmp_path / "b.xyz").write_text("3\nbroken\nC 0 0 0\n")
    log = SkipLog()
    read_xyz(tmp_path / "b.xyz", log)
    assert log.count == 1 and "expected 3 atom lines" in log.examples[0]


def test_smiles_csv_conformers_are_cached(tmp_path):
    csv = tmp_path / "m.csv"
    csv.write_text("name,smiles\na,CCO\nb,not_a_smiles\nc,C1=CC=CC=C1\n")
    ds = smiles_dataset(csv, "all", processes=1)
    assert len(ds) == 2 and ds.log.count == 1 and "unparsable" in ds.log.examples[0]
    cached = list((tmp_path / "cache" / "molecules").glob("conf_*.sdf"))
    assert len(cached) == 1
    again = smiles_dataset(csv, "all", processes=1)
    assert np.allclose(again.mols[0].positions, ds.mols[0].positions)
    with pytest.raises(DomainError, match="no SMILES column"):
        bad = tmp_path / "x.csv"
        bad.write_text("a,b\n1,2\n")
        smiles_dataset(bad, "all")


def write_qm9(folder: Path, n: int = 12) -> None:
    """A tiny QM9 in its raw format: gdb9.sdf, gdb9.sdf.csv (mol_id + 19 targets), and
    uncharacterized.txt (a text header, then 'index gdb_id ...' rows, then a footer)."""
    folder.mkdir(parents=True, exist_ok=True)
    w = Chem.SDWriter(str(folder / "gdb9.sdf"))
    for k in range(n):
        m = embed(SMILES[k % len(SMILES)], k)
        m.SetProp("_Name", f"gdb_{k + 1}")
        w.write(m)
    w.close()
    header = "mol_id," + ",".join(QM9_PROPERTIES)
    rows = [f"gdb_{k + 1}," + ",".join(str(k + j / 100) for j in range(19)) for k in range(n)]
    (folder / "gdb9.sdf.csv").write_text("\n".join([header, *rows]) + "\n")
    body = ["   3   gdb_3   1.0  2.0", "   7   gdb_7   1.0  2.0"]
    (folder / "uncharacterized.txt").write_text(
        "\n".join(
            ["Uncharacterized molecules", "", *[f"header {i}" for i in range(7)], *body, "", "end"]
        )
    )


def test_qm9_raw_format(tmp_path):
    write_qm9(tmp_path / "qm9")
    mols = load_qm9(tmp_path / "qm9", "all")
    assert len(mols) == 10  # 12 minus 2 uncharacterized
    assert "gdb_3" not in {m.name for m in mols} and "gdb_7" not in {m.name for m in mols}
    m = next(m for m in mols if m.name == "gdb_5")
    assert len(m.props) == 19 and m.props["A"] == 4.0 and m.props["mu"] == pytest.approx(4.03)
    sizes = [len(load_qm9(tmp_path / "qm9", s)) for s in ("train", "valid", "test")]
    assert sum(sizes) == 10 and sizes[2] == 1
    ds = get_domain().load_dataset("qm9", tmp_path / "qm9", "train", properties=["mu", "homo"])
    x, cond = ds[0]
    assert cond.shape == (2,)
    with pytest.raises(DomainError, match="uncharacterized.txt"):
        (tmp_path / "qm9" / "uncharacterized.txt").unlink()
        load_qm9(tmp_path / "qm9")


def test_qm9_standard_split_sizes():
    sizes = [len(qm9_split_indices(130_831, s)) for s in ("train", "valid", "test")]
    assert sizes == [100_000, 17_748, 13_083]
    tr, va, te = (set(qm9_split_indices(130_831, s).tolist()) for s in ("train", "valid", "test"))
    assert not (tr & va) and not (tr & te) and not (va & te)


def test_encode_decode_roundtrip():
    pos = np.random.RandomState(0).randn(5, 3)
    x = encode(pos, np.array([0, 1, 2, 3, 1]), np.array([0, 1, -1, 0, 0]), 5)
    p, t, q = decode(x, 5)
    assert torch.allclose(p, torch.tensor(pos - pos.mean(0), dtype=torch.float32), atol=1e-6)
    assert t.tolist() == [0, 1, 2, 3, 1] and q.tolist() == [0, 1, -1, 0, 0]
    assert x[0, 3:8].max() == 0.25  # one-hot / 4


def test_noise_lives_in_zero_com_subspace_and_is_batch_invariant(sdf_file):
    d = get_domain()
    ds = sdf_dataset(sdf_file, "all")
    b = d.collate([ds[i] for i in range(4)])
    gens = [torch.Generator().manual_seed(i) for i in range(4)]
    n = d.noise(b, gens)
    m = b.mask.bool()
    com = (n[..., :3] * m[..., None]).sum(1)
    assert com.abs().max() < 1e-5 and n[~m].abs().max() == 0
    n1 = d.noise(b.select(slice(1, 2)), [torch.Generator().manual_seed(1)])
    assert torch.equal(n1[0], n[1])
    assert torch.allclose(project(n, m), n, atol=1e-6)


def test_template_draws_counts_from_the_data_histogram():
    info = {"shape": [9, 9], "n_nodes_hist": {"3": 0.25, "7": 0.75}}
    t = get_domain().template(info, 4000, torch.Generator().manual_seed(0))
    counts = t.mask.sum(1)
    assert set(counts.tolist()) == {3.0, 7.0}
    assert (counts == 7).float().mean() == pytest.approx(0.75, abs=0.03)
    assert t.x.shape == (4000, 9, 9)
    c = sample_counts({"2": 1.0}, 3, torch.Generator())
    assert count_mask(c, 4).tolist() == [[True, True, False, False]] * 3


def test_embedded_set_builds_from_rdkit_nci(monkeypatch):
    monkeypatch.delenv("MULTIGEN_CACHE")  # the user cache: built once (~10 s), then reused
    ds = embedded_dataset(split="all")
    assert 380 < len(ds) < 440
    assert ds.atom_types == ["H", "C", "N", "O", "F"]
    assert max(sum(s != "H" for s in m.symbols) for m in ds.mols) <= 9


def test_export_and_load_samples_roundtrip(sdf_file, tmp_path):
    d = get_domain()
    mols = read_sdf(sdf_file)
    files = d.export(mols, tmp_path / "out")
    assert {f.name for f in files} == {
        "samples.sdf",
        "samples.xyz",
        "samples_smiles.csv",
        "samples_grid.png",
    }
    back = d.load_samples(tmp_path / "out" / "samples.sdf")
    assert len(back) == 10 and back[2].bonds is not None
    assert len(d.load_samples(tmp_path / "out" / "samples.xyz")) == 10
    csv = (tmp_path / "out" / "samples_smiles.csv").read_text().splitlines()
    assert csv[0] == "name,smiles,valid" and "CCO" in csv[1]
    with pytest.raises(DomainError):
        d.load_samples(tmp_path / "out" / "samples_grid.png")
    write_sdf(back, tmp_path / "again.sdf")


def test_cli_evaluate_names_skipped_records(sdf_file, tmp_path, capsys):
    import json

    from multigen.cli import main

    bad = tmp_path / "bad.sdf"
    bad.write_text(
        sdf_file.read_text()
        + "garbage\n\n\n  0  0  0  0  0  0  0  0  0  0999 V2000\nM  END\n$$$$\nnot a record\n$$$$\n"
    )
    out = tmp_path / "m.json"
    args = [
        "evaluate",
        "--domain",
        "molecules",
        "--samples",
        str(bad),
        "--reference",
        str(sdf_file),
    ]
    assert (
        main([*args, "--out", str(out), "--option", "fcd=false", "--option", "strain=false"]) == 0
    )
    printed = capsys.readouterr().out
    assert "skipped" in printed and "bad.sdf record" in printed
    report = json.loads(out.read_text())
    assert report["skipped"][0]["set"] == "samples" and "bad.sdf" in report["skipped"][0]["file"]
    assert main([*args, "--strict"]) == 2

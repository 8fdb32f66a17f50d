"""A user's own molecule files read and scored the same way by every command (issue 20)."""

from __future__ import annotations

import pytest

from multigen.domain import DomainError
from multigen_domains.molecules import get_domain


def test_unknown_evaluation_option_is_refused_with_the_valid_ones(methane, water):
    with pytest.raises(DomainError, match=r"'bond' \(did you mean 'bonds'\?\).*valid: .*fcd"):
        get_domain().evaluate([methane, water], [methane, water], bond="rdkit")


def _sdf_with_problems(path, methane, water, ethene):
    """12 readable molecules (one of them over-bonded: RDKit cannot sanitise it) and one
    record RDKit cannot parse at all."""
    import numpy as np

    from multigen_domains.molecules.io import write_sdf
    from multigen_domains.molecules.mol import Molecule

    five = Molecule(
        ["C", "H", "H", "H", "H", "H"],
        np.vstack([methane.positions, [[0.0, 0.0, -1.09]]]),
        bonds=np.array([[0, k, 1] for k in range(1, 6)]),
        name="pentavalent",
    )
    mols = [five] + [m for _ in range(4) for m in (methane, water, ethene)][:11]
    write_sdf(mols, path)
    with path.open("a") as fh:
        fh.write("broken\n  nonsense\n\n  2  1  0  0  0  0  0  0  0  0999 V2000\n$$$$\n")
    return path


def test_training_and_evaluate_read_an_sdf_the_same_way(tmp_path, methane, water, ethene):
    # issue 20, finding 4: training read with sanitisation and dropped "pentavalent" silently,
    # evaluate read without it and kept every record.
    from multigen_domains.molecules import data

    sdf = _sdf_with_problems(tmp_path / "mine.sdf", methane, water, ethene)
    train_all = data.sdf_dataset(sdf, "all")
    scored = get_domain().load_samples(sdf)
    assert len(train_all) == len(scored) == 12
    assert "pentavalent" in {m.name for m in train_all.mols}
    dropped = get_domain().skipped_files(train_all)
    assert dropped == get_domain().skipped_files(scored)
    assert len(dropped) == 1 and "could not parse" in dropped[0][1]


def test_a_run_reports_what_its_data_dropped(tmp_path, methane, water, ethene, capsys):
    import json

    from multigen.config import load_config
    from multigen.train.trainer import Trainer

    sdf = _sdf_with_problems(tmp_path / "mine.sdf", methane, water, ethene)
    cfg = load_config(
        {
            "domain": "molecules",
            "data": {"name": "sdf", "path": str(sdf), "batch_size": 4},
            "model": {"name": "egnn", "params": {"hidden": 8, "layers": 1}},
            "method": {"name": "flow"},
            "train": {"steps": 1, "tensorboard": False, "progress": False},
        }
    )
    run = tmp_path / "run"
    Trainer(cfg, get_domain(), run).fit()
    out = capsys.readouterr().out
    assert "skipped 1 file(s)/record(s) (1 x RDKit could not parse it)" in out
    listed = json.loads((run / "skipped_files.json").read_text())
    assert listed == [
        {"set": "train", "file": "mine.sdf record 13", "reason": "RDKit could not parse it"}
    ]
    logged = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert any(r.get("data/skipped") == 1 for r in logged)
    assert "80/10/10 train/valid/test split of its 12 items" in out  # the split, said


def test_nitro_group_is_valid_the_edm_way_and_charged_validity_has_its_own_key():
    # issue 20, finding 5: bonds from the distance table (N=O twice) with the file's N+/O-
    # kept made nitromethane unsanitisable; EDM builds neutral atoms and RDKit accepts it.
    from rdkit import Chem
    from rdkit.Chem import AllChem

    from multigen_domains.molecules.evaluate import evaluate_molecules
    from multigen_domains.molecules.mol import Molecule

    rd = Chem.AddHs(Chem.MolFromSmiles("C[N+](=O)[O-]"))
    AllChem.EmbedMolecule(rd, randomSeed=1)
    AllChem.MMFFOptimizeMolecule(rd)
    nitro = Molecule.from_rdkit(rd, name="nitromethane")
    assert sorted(nitro.charges.tolist()) == [-1, 0, 0, 0, 0, 0, 1]
    out = evaluate_molecules([nitro], None, fcd=False, strain=False)
    assert out["validity"] == 1.0  # EDM's protocol: neutral atoms, bond orders from distances
    assert out["validity_charged"] == 0.0  # the written charges contradict those bond orders
    kept = evaluate_molecules([nitro], None, bonds="file", fcd=False, strain=False)
    assert kept["validity"] == kept["validity_charged"] == 1.0  # the file's bonds and charges


def test_a_run_on_its_own_sdf_scores_against_that_files_test_split(
    tmp_path, methane, water, ethene
):
    # issue 20, finding 7: `--set data.name=sdf --set data.path=…` kept embedded:test
    from multigen.config import load_config
    from multigen.train.reference import reference_samples

    sdf = _sdf_with_problems(tmp_path / "mine.sdf", methane, water, ethene)
    cfg = load_config("configs/molecules/embedded_edm.yaml", ["data.name=sdf", f"data.path={sdf}"])
    assert cfg.eval.reference is None
    dom = get_domain()
    train = dom.load_dataset("sdf", sdf, "train")
    ref = reference_samples(dom, cfg, dom.describe(train), 64)
    assert len(ref) == len(dom.load_dataset("sdf", sdf, "test")) == 2

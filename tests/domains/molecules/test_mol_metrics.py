"""Known-answer tests for bond inference and the EDM stability / RDKit metrics."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
import torch

from multigen_domains.molecules.bonds import bond_order_matrix, infer_bonds
from multigen_domains.molecules.evaluate import ReferenceStats, evaluate_molecules
from multigen_domains.molecules.metrics.chem import n_fragments, to_smiles, validity_metrics
from multigen_domains.molecules.metrics.geometry import bond_angles, mmff_strain, total_variation
from multigen_domains.molecules.metrics.stability import stability, stable_atoms
from multigen_domains.molecules.mol import Molecule


def test_bond_order_cutoffs_follow_edm_table():
    # C-C: single below 154+10 pm, double below 134+5, triple below 120+3.
    for d, order in [(1.70, 0), (1.60, 1), (1.40, 1), (1.38, 2), (1.24, 2), (1.22, 3)]:
        m = bond_order_matrix(["C", "C"], np.array([[0, 0, 0], [d, 0, 0]]))
        assert m[0, 1] == order, (d, m[0, 1])
    # H-H has no double bond entry: any short distance is a single bond.
    assert bond_order_matrix(["H", "H"], np.array([[0, 0, 0], [0.5, 0, 0]]))[0, 1] == 1


def test_small_molecules_are_stable(methane, water, ethene):
    for m in (methane, water, ethene):
        assert stable_atoms(m).all(), m.name
    s = stability([methane, water, ethene])
    assert s == {"atom_stability": 1.0, "mol_stability": 1.0}
    assert {to_smiles(infer_bonds(m)) for m in (methane, water, ethene)} == {"C", "O", "C=C"}


def test_five_bonded_carbon_is_unstable(methane):
    # A fifth H opposite the first one: 1.26 Å from the other H's (> 74 + 10 pm, no H-H
    # bond), so C has valence 5 and every H valence 1.
    far = -1.09 * np.ones(3) / np.sqrt(3)
    extra = Molecule(methane.symbols + ["H"], np.vstack([methane.positions, far]))
    assert stable_atoms(extra).tolist() == [False] + [True] * 5
    assert stability([extra]) == {"atom_stability": 5 / 6, "mol_stability": 0.0}
    assert to_smiles(infer_bonds(extra)) is None  # RDKit rejects pentavalent carbon


def test_benzene_stability_depends_on_kekule_geometry(benzene):
    kekule = benzene(1.47, 1.34)  # alternating single/double: every atom stable
    assert stable_atoms(kekule).all()
    uniform = benzene(1.40, 1.40)  # 1.40 Å > 1.39 Å: all single -> each C has valence 3
    s = stable_atoms(uniform)
    assert s[:6].sum() == 0 and s[6:].all()
    assert stability([kekule, uniform]) == {"atom_stability": 18 / 24, "mol_stability": 0.5}


def test_charge_aware_stability(methane):
    # Ammonium: N with 4 bonds is unstable under EDM's rule, stable when its +1 is known.
    pos = methane.positions * (1.01 / 1.09)
    nh4 = Molecule(["N", "H", "H", "H", "H"], pos, charges=[1, 0, 0, 0, 0])
    assert stability([nh4]) == {"atom_stability": 0.8, "mol_stability": 0.0}
    assert stability([nh4], charge_aware=True) == {
        "atom_stability_charged": 1.0,
        "mol_stability_charged": 1.0,
    }
    assert to_smiles(infer_bonds(nh4)) == "[NH4+]"


def test_validity_uniqueness_novelty_by_hand(methane, water, ethene):
    mols = [infer_bonds(m) for m in (methane, methane, water, ethene)]
    smiles = [to_smiles(m) for m in mols] + [None]
    out = validity_metrics(smiles, mols + [mols[0]], reference={"C"})
    assert out["validity"] == pytest.approx(4 / 5)
    assert out["uniqueness"] == pytest.approx(3 / 4)
    assert out["validity_uniqueness"] == pytest.approx(3 / 5)
    assert out["novelty"] == pytest.approx(2 / 3)  # O and C=C are new, C is not
    assert out["connected"] == 1.0


def test_fragments_and_connectivity(methane, water):
    both = Molecule(
        methane.symbols + water.symbols, np.vstack([methane.positions, water.positions + 5.0])
    )
    assert n_fragments(infer_bonds(both)) == 2
    assert to_smiles(infer_bonds(both)) == "C"  # largest fragment


def test_total_variation_and_angles(water):
    assert total_variation(Counter(a=1, b=1), Counter(a=2)) == pytest.approx(0.5)
    ang = bond_angles([infer_bonds(water)])
    assert ang["H-O-H"] == [pytest.approx(104.5)]


def test_strain_is_zero_after_relaxation(methane):
    relaxed = methane
    s0 = mmff_strain(infer_bonds(relaxed))
    assert s0 is not None and s0 >= 0
    squashed = Molecule(relaxed.symbols, relaxed.positions * np.array([1.0, 1.0, 0.7]))
    assert mmff_strain(infer_bonds(squashed)) > s0 + 1.0


def test_reference_against_itself_has_zero_distances(methane, water, ethene):
    mols = [methane, water, ethene]
    out = evaluate_molecules(mols, ReferenceStats(mols), fcd=False, strain=False)
    assert out["atom_stability"] == 1.0 and out["validity"] == 1.0
    assert out["novelty"] == 0.0
    assert out["bond_length_w1"] == 0.0 and out["atom_type_tv"] == 0.0
    assert out["qed_w1"] == 0.0


def test_property_predictor_mae_is_cached_and_scores_targets(
    tmp_path, monkeypatch, methane, water, ethene
):
    from multigen_domains.molecules.data import MoleculeDataset
    from multigen_domains.molecules.properties import property_mae, train_predictor

    monkeypatch.setenv("MULTIGEN_CACHE", str(tmp_path))
    mols = []
    for k, m in enumerate([methane, water, ethene] * 4):
        mm = Molecule(m.symbols, m.positions + 0.01 * k, props={"mu": float(m.num_atoms)})
        mols.append(mm)
    ds = MoleculeDataset(mols, ["H", "C", "O"], ("mu",))
    model = train_predictor(ds, steps=8, batch_size=12, hidden=16, layers=2)
    assert len(list((tmp_path / "molecules" / "predictors").glob("*.safetensors"))) == 1
    again = train_predictor(ds, steps=8, batch_size=12, hidden=16, layers=2)
    x = [p.detach() for p in again.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(x, [p.detach() for p in model.parameters()]))
    sample = Molecule(water.symbols, water.positions, props={"target_mu": 3.0})
    out = property_mae(model, [sample], ["H", "C", "O"], ds.prop_stats, ["mu"])
    assert set(out) == {"predictor_mae_mu"} and out["predictor_mae_mu"] >= 0

"""EDM's validity / uniqueness / novelty (explicit-H SMILES of the largest fragment) against
hand-built molecules whose answers are known, next to the heavy-atom variants."""

from __future__ import annotations

import numpy as np
import pytest

from multigen_domains.molecules.bonds import infer_bonds
from multigen_domains.molecules.evaluate import ReferenceStats, evaluate_molecules
from multigen_domains.molecules.metrics.chem import edm_smiles, to_smiles, validity_metrics
from multigen_domains.molecules.mol import Molecule

METHANE_H = "[H]C([H])([H])[H]"


@pytest.fixture
def methyl(methane) -> Molecule:
    """Methane without one H: RDKit fills the open valence with an implicit H (valid)."""
    return Molecule(methane.symbols[:4], methane.positions[:4], name="CH3")


@pytest.fixture
def carbon() -> Molecule:
    return Molecule(["C"], np.zeros((1, 3)), name="C")


def test_edm_smiles_keeps_explicit_hydrogens(methane, methyl, carbon):
    got = [edm_smiles(infer_bonds(m)) for m in (methane, methyl, carbon)]
    assert got == [METHANE_H, "[H]C([H])[H]", "C"]
    # the heavy-atom SMILES cannot tell them apart
    assert {to_smiles(infer_bonds(m)) for m in (methane, methyl, carbon)} == {"C"}


def test_edm_smiles_largest_fragment_and_whole_molecule(methane, water):
    both = infer_bonds(
        Molecule(
            methane.symbols + water.symbols, np.vstack([methane.positions, water.positions + 5])
        )
    )
    assert edm_smiles(both) == METHANE_H  # samples: largest fragment
    assert set(edm_smiles(both, largest=False).split(".")) == {METHANE_H, "[H]O[H]"}


def test_edm_smiles_is_none_for_unsanitisable_molecules(methane):
    far = -1.09 * np.ones(3) / np.sqrt(3)  # a fifth H: pentavalent carbon
    extra = Molecule(methane.symbols + ["H"], np.vstack([methane.positions, far]))
    assert edm_smiles(infer_bonds(extra)) is None


def test_uniqueness_edm_counts_hydrogen_variants_apart(methane, methyl, carbon, water):
    mols = [infer_bonds(m) for m in (methane, methane, methyl, carbon, water)]
    edm = [edm_smiles(m) for m in mols] + [None]  # + one invalid molecule
    heavy = [to_smiles(m) for m in mols] + [None]
    ref_edm = {edm_smiles(infer_bonds(methane), largest=False)}
    out = validity_metrics(edm, mols + [mols[0]], ref_edm, heavy=heavy, reference_heavy={"C"})
    assert out["validity"] == pytest.approx(5 / 6)
    # EDM: {CH4, CH3, C, H2O} distinct of 5 valid; heavy atoms: {C, O} of 5
    assert out["uniqueness"] == pytest.approx(4 / 5)
    assert out["validity_uniqueness"] == pytest.approx(4 / 6)
    assert out["uniqueness_heavy"] == pytest.approx(2 / 5)
    assert out["validity_uniqueness_heavy"] == pytest.approx(2 / 6)
    # novelty: CH3, C, H2O are new under EDM (3 of 4); only O is new heavy-atom-wise (1 of 2)
    assert out["novelty"] == pytest.approx(3 / 4)
    assert out["novelty_heavy"] == pytest.approx(1 / 2)


def test_evaluate_reports_edm_and_heavy_keys(methane, methyl, ethene):
    ref = ReferenceStats([methane, ethene])
    out = evaluate_molecules([methane, methyl, ethene], ref, fcd=False, strain=False)
    assert out["validity"] == 1.0
    assert out["uniqueness"] == 1.0 and out["uniqueness_heavy"] == pytest.approx(2 / 3)
    assert out["novelty"] == pytest.approx(1 / 3)  # only CH3 is new with its hydrogens
    assert out["novelty_heavy"] == 0.0
    # EDM's stability: CH3's carbon has valence 3 (1 of 7 atoms unstable, 1 of 3 molecules)
    assert out["atom_stability"] == pytest.approx(14 / 15)
    assert out["mol_stability"] == pytest.approx(2 / 3)


def test_undefined_metrics_are_left_out_not_nan(methane):
    import math

    far = -1.09 * np.ones(3) / np.sqrt(3)  # pentavalent carbon: nothing valid to average
    bad = Molecule(methane.symbols + ["H"], np.vstack([methane.positions, far]))
    out = evaluate_molecules([bad], ReferenceStats([methane]), fcd=False, strain=False)
    assert out["validity"] == 0.0 and "qed_mean" not in out and "qed_w1" not in out
    assert all(math.isfinite(v) for v in out.values())

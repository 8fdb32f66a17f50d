"""MOSES's metrics on hand-made cases with known answers, the restricted reader of MOSES's
statistics files, and the domain's dispatch of SMILES samples to the suite."""

from __future__ import annotations

import importlib.util
import math
from collections import Counter

import numpy as np
import pytest
from rdkit import Chem

from multigen.domain import DomainError
from multigen_domains.molecules import get_domain
from multigen_domains.molecules.moses_suite import (
    MosesReference,
    moses_metrics,
    reference_from_smiles,
)
from multigen_domains.molecules.moses_suite import metrics as M
from multigen_domains.molecules.moses_suite.safe_pickle import load_object_npz

A = np.array([[1, 1, 0, 0]], dtype=np.uint8)
B = np.array([[1, 0, 1, 0]], dtype=np.uint8)
Z = np.zeros((1, 4), dtype=np.uint8)


def test_validity_uniqueness_novelty_by_hand():
    gen = ["CCO", "C1CC", "", "c1ccccc1", "OCC"]  # unclosed ring and empty are invalid
    assert M.fraction_valid(gen) == pytest.approx(3 / 5)
    valid = [c for c in map(M.canonical, gen) if c]
    assert valid == ["CCO", "c1ccccc1", "CCO"]  # OCC canonicalises to CCO
    assert M.unique_at(valid, 2) == 1.0 and M.unique_at(valid, 3) == pytest.approx(2 / 3)
    assert M.unique_at(valid, 1000) == pytest.approx(2 / 3)  # fewer than k: all of them
    assert M.novelty(valid, frozenset({"CCO"})) == pytest.approx(1 / 2)


def test_tanimoto_snn_and_internal_diversity_by_hand():
    # T(A, B) = |A∧B| / |A∨B| = 1/3; two empty fingerprints count as identical (1)
    assert M.aggregate_tanimoto(B, A, "max")[0] == pytest.approx(1 / 3)
    assert M.aggregate_tanimoto(Z, Z, "max")[0] == 1.0
    assert M.aggregate_tanimoto(Z, A, "max")[0] == 0.0
    assert M.snn(B, A) == pytest.approx(1 / 3)
    assert M.snn(np.vstack([A, B]), np.vstack([A, B])) == 1.0
    ab = np.vstack([A, B])
    # IntDiv1 = 1 - mean over all ordered pairs, self-pairs included: 1 - (1 + 1/3)/2
    assert M.internal_diversity(ab, p=1) == pytest.approx(1 / 3)
    # IntDiv2 = 1 - mean_i sqrt(mean_j T_ij^2) = 1 - sqrt((1 + 1/9)/2)
    assert M.internal_diversity(ab, p=2) == pytest.approx(1 - math.sqrt(5 / 9))
    # batching does not change the answer
    rng = np.random.RandomState(0)
    x = (rng.rand(37, 64) < 0.2).astype(np.uint8)
    full = M.aggregate_tanimoto(x, x[:11], "mean", p=2)
    assert np.allclose(full, M.aggregate_tanimoto(x, x[:11], "mean", p=2, batch=5))


def test_cosine_similarity_of_counts():
    assert M.cosine_similarity(Counter(a=1, b=1), Counter(a=1)) == pytest.approx(1 / math.sqrt(2))
    assert M.cosine_similarity(Counter(a=2), Counter(a=5)) == pytest.approx(1.0)
    assert math.isnan(M.cosine_similarity(Counter(), Counter(a=1)))


def test_brics_fragments_and_scaffolds_by_hand():
    acetanilide = Chem.MolFromSmiles("CC(=O)Nc1ccccc1")
    # BRICS breaks the amide C(=O)-N (L1-L5) and N-aromatic C (L5-L16) bonds
    assert M.fragments([acetanilide]) == Counter(
        {"[1*]C(C)=O": 1, "[5*]N[5*]": 1, "[16*]c1ccccc1": 1}
    )
    assert M.fragments([Chem.MolFromSmiles("c1ccccc1")]) == Counter({"c1ccccc1": 1})
    ethyl_diphenylmethane = Chem.MolFromSmiles("CCc1ccc(Cc2ccccc2)cc1")
    toluene = Chem.MolFromSmiles("Cc1ccccc1")
    assert M.scaffold(ethyl_diphenylmethane) == "c1ccc(Cc2ccccc2)cc1"
    assert M.scaffold(toluene) is None  # one ring < MOSES's two
    assert M.scaffold(toluene, min_rings=1) == "c1ccccc1"
    assert M.scaffolds([ethyl_diphenylmethane, toluene, ethyl_diphenylmethane]) == Counter(
        {"c1ccc(Cc2ccccc2)cc1": 2}
    )


def test_filters_by_hand():
    mcf1 = [Chem.MolFromSmarts("[#6]=&!@[#6]-[#6]#[#7]")]  # MOSES's MCF1 (acrylonitrile)
    ok = lambda s: M.passes_filters(Chem.MolFromSmiles(s), mcf1)  # noqa: E731
    assert ok("CCO") and ok("C1CCCCCC1")
    assert not ok("C=CC#N")  # structural alert
    assert not ok("C[NH3+]")  # charged
    assert not ok("CB(C)C")  # boron is not allowed
    assert not ok("C1CCCCCCC1")  # an 8-membered ring


def test_fingerprints_match_rdkit_bit_vectors():
    mol = Chem.MolFromSmiles("CC(=O)Nc1ccccc1")
    fp = M.morgan_fingerprints([mol])
    assert fp.shape == (1, 1024) and fp.dtype == np.uint8 and 5 < fp.sum() < 30
    assert M.snn(fp, fp) == 1.0


def test_suite_of_a_set_against_itself():
    smiles = ["CC(=O)Nc1ccccc1", "CCc1ccc(Cc2ccccc2)cc1", "CCO", "c1ccc2ccccc2c1", "CCN(CC)CC"]
    ref = MosesReference({"test": reference_from_smiles("test", smiles)}, frozenset(smiles[:2]))
    out = moses_metrics(smiles + ["not a smiles"], ref, k=(3, 10))
    assert out["valid"] == pytest.approx(5 / 6)
    assert out["unique@3"] == 1.0 and out["unique@10"] == 1.0 and out["unique@10_n"] == 5
    assert out["SNN/Test"] == pytest.approx(1.0)
    assert out["Frag/Test"] == pytest.approx(1.0) and out["Scaf/Test"] == pytest.approx(1.0)
    assert abs(out["FCD/Test"]) < 1e-3
    assert out["Novelty"] == pytest.approx(3 / 5)
    assert out["logP"] == pytest.approx(0.0) and out["QED"] == pytest.approx(0.0)
    assert 0 < out["IntDiv"] < 1 and out["IntDiv2"] < out["IntDiv"]


def test_domain_scores_smiles_files_with_the_suite(tmp_path):
    smi = tmp_path / "gen.smi"
    smi.write_text("CCO\nc1ccccc1\nC1CC\n")
    dom = get_domain()
    samples = dom.load_samples(smi)
    assert list(samples) == ["CCO", "c1ccccc1", "C1CC"]
    ref = MosesReference({"test": reference_from_smiles("test", ["CCO", "CCN"])}, None)
    out = dom.evaluate(samples, ref, fcd=False, k=[2])
    assert out["valid"] == pytest.approx(2 / 3) and out["unique@2"] == 1.0
    assert "Novelty" not in out
    with pytest.raises(DomainError, match="--reference moses"):
        dom.evaluate(samples, [])
    with pytest.raises(DomainError, match="use moses, moses:test"):
        dom.reference("moses:valid")


def test_statistics_reader_refuses_code(tmp_path):
    good = tmp_path / "good.npz"
    obj = {"Frag": {"frag": Counter(a=2)}, "SNN": {"fps": np.eye(3, dtype=np.uint8)}}
    np.savez(good, stats=np.array(obj, dtype=object))
    back = load_object_npz(good, "stats")
    assert back["Frag"]["frag"] == Counter(a=2) and np.array_equal(back["SNN"]["fps"], np.eye(3))

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "bad.npz"
    np.savez(bad, stats=np.array({"x": Evil()}, dtype=object))
    with pytest.raises(DomainError, match="builtins.print is not allowed"):
        load_object_npz(bad, "stats")
    with pytest.raises(DomainError, match="cannot read 'stats'"):
        load_object_npz(tmp_path / "missing.npz", "stats")


@pytest.mark.slow
def test_wheel_statistics_match_our_definitions():
    if importlib.util.find_spec("moses") is None:
        pytest.skip("molsets not installed (pip install --no-deps molsets)")
    from multigen_domains.molecules.moses_suite.data import read_split, reference_stats

    test = read_split("test")
    stats = reference_stats("test")
    mols = [M.mol_from_smiles(s) for s in test[:300]]
    assert np.array_equal(M.morgan_fingerprints(mols), stats["SNN"]["fps"][:300])
    assert all(k in stats["Frag"]["frag"] for k in M.fragments(mols))
    assert all(k in stats["Scaf"]["scaf"] for k in M.scaffolds(mols))
    assert np.mean([M.passes_filters(m) for m in mols]) == 1.0  # MOSES is pre-filtered


def test_undefined_moses_metrics_are_left_out():
    ref = MosesReference({"test": reference_from_smiles("test", ["c1ccc(Cc2ccccc2)cc1"])}, None)
    out = moses_metrics(["CCO", "CCN"], ref, k=[2], fcd=False)  # no ring, so no scaffold
    assert "Scaf/Test" not in out and out["unique@2"] == 1.0
    assert moses_metrics(["C1CC"], ref, fcd=False) == {"n_samples": 1.0, "valid": 0.0}
    assert all(math.isfinite(v) for v in out.values())

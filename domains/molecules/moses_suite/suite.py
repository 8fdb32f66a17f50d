"""The MOSES metric suite on a list of generated SMILES (see ``metrics`` for definitions).

Keys as MOSES names them: valid, unique@1000, unique@10000, FCD/Test, SNN/Test, Frag/Test,
Scaf/Test, the same against the scaffold test set (``/TestSF``), IntDiv, IntDiv2, Filters,
logP/SA/QED/weight (Wasserstein-1 to the test set's values) and Novelty (against train).
A metric that is undefined for the samples (no valid molecule; no two-ring scaffold for
Scaf) is left out rather than reported as NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

import numpy as np
from rdkit.Chem import QED, Crippen, Descriptors
from scipy.stats import wasserstein_distance

from . import metrics as M
from .data import read_split, reference_stats


@dataclass
class MosesReference:
    """What the suite compares against: statistics per reference set (``test``,
    ``test_scaffolds``) and the training SMILES for novelty."""

    stats: dict[str, dict]
    train: frozenset[str] | None


def moses_reference(sets: Sequence[str] = ("test", "test_scaffolds"), novelty: bool = True):
    """MOSES's own references from the molsets wheel (statistics precomputed by MOSES)."""
    return MosesReference(
        {name: reference_stats(name) for name in sets},
        _train_set() if novelty else None,
    )


@cache
def _train_set() -> frozenset[str]:
    return frozenset(read_split("train"))


def reference_from_smiles(name: str, smiles: Sequence[str]) -> dict:
    """Statistics of any SMILES set, in the layout of MOSES's ``*_stats.npz``."""
    mols = [m for m in (M.mol_from_smiles(s) for s in smiles) if m is not None]
    return {
        "FCD": _fcd_stats([c for c in map(M.canonical, smiles) if c]),
        "SNN": {"fps": M.morgan_fingerprints(mols)},
        "Frag": {"frag": M.fragments(mols)},
        "Scaf": {"scaf": M.scaffolds(mols)},
        **{k: {"values": np.array([f(m) for m in mols])} for k, f in _PROPS.items()},
    }


def _sa(mol):
    from ..metrics.chem import _sascorer

    return _sascorer().calculateScore(mol)


_PROPS = {"logP": Crippen.MolLogP, "SA": _sa, "QED": QED.qed, "weight": Descriptors.MolWt}
_SUFFIX = {"test": "Test", "test_scaffolds": "TestSF"}


def moses_metrics(
    smiles: Sequence[str],
    reference: MosesReference,
    k: Sequence[int] = (1000, 10000),
    fcd: bool = True,
    properties: bool = True,
) -> dict[str, float]:
    """All MOSES metrics of ``smiles`` (invalid entries count against validity only)."""
    smiles = list(smiles)
    out: dict[str, float] = {"n_samples": float(len(smiles)), "valid": M.fraction_valid(smiles)}
    valid = [c for c in (M.canonical(s) for s in smiles) if c is not None]
    if not valid:  # nothing else is defined (metrics are never NaN: undefined = absent)
        return out
    for kk in k:
        out[f"unique@{kk}"] = M.unique_at(valid, kk)
        if len(valid) < kk:
            out[f"unique@{kk}_n"] = float(len(valid))  # fewer than k: MOSES warns too
    mols = [M.mol_from_smiles(s) for s in valid]
    fps = M.morgan_fingerprints(mols)
    frag, scaf = M.fragments(mols), M.scaffolds(mols)
    pgen = _fcd_stats(valid) if fcd else None
    for name, stats in reference.stats.items():
        tag = _SUFFIX.get(name, name)
        if pgen is not None:
            out[f"FCD/{tag}"] = float(_fcd_model().metric(stats["FCD"], pgen))
        out[f"SNN/{tag}"] = M.snn(stats["SNN"]["fps"], fps)
        if frag and stats["Frag"]["frag"]:
            out[f"Frag/{tag}"] = M.cosine_similarity(stats["Frag"]["frag"], frag)
        if scaf and stats["Scaf"]["scaf"]:  # no 2-ring scaffold among the samples: left out
            out[f"Scaf/{tag}"] = M.cosine_similarity(stats["Scaf"]["scaf"], scaf)
    out["IntDiv"] = M.internal_diversity(fps, p=1)
    out["IntDiv2"] = M.internal_diversity(fps, p=2)
    out["Filters"] = float(np.mean([M.passes_filters(m) for m in mols]))
    first = next(iter(reference.stats.values()))
    if properties:
        for key, fn in _PROPS.items():
            if key in first:
                vals = np.array([fn(m) for m in mols])
                out[key] = float(wasserstein_distance(first[key]["values"], vals))
    if reference.train is not None:
        out["Novelty"] = M.novelty(valid, reference.train)
    return out


@cache
def _fcd_model():
    from fcd_torch import FCD

    return FCD(device="cpu", n_jobs=1)


def _fcd_stats(valid: list[str]) -> dict:
    """ChemNet activations' mean and covariance of the (canonical) SMILES, via fcd_torch."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return _fcd_model().precalc(valid)

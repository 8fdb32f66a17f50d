"""MOSES's metrics (Polykovskiy et al. 2020), written from the paper's definitions and the
reference code's conventions, on RDKit molecules and Morgan fingerprints.

Conventions kept so numbers compare with MOSES's tables: a SMILES is valid when RDKit parses
and sanitises it; generated SMILES are canonicalised before anything else; Morgan
fingerprints radius 2, 1024 bits; Tanimoto of two empty fingerprints is 1; IntDiv averages
over all ordered pairs *including* each molecule with itself; scaffolds are Bemis–Murcko
frameworks with at least two rings; fragments are BRICS fragments (with their attachment
labels); Frag/Scaf are cosine similarities of count vectors.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from functools import cache

import numpy as np
import torch
from rdkit import Chem, DataStructs, RDLogger
from rdkit.Chem import AllChem
from rdkit.Chem import rdFingerprintGenerator as fpgen
from rdkit.Chem.Scaffolds import MurckoScaffold

FILTER_ATOMS = frozenset({"C", "N", "S", "O", "F", "Cl", "Br", "H"})


def mol_from_smiles(smiles: str) -> Chem.Mol | None:
    if not smiles:
        return None
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return None
    try:
        Chem.SanitizeMol(mol)
    except Exception:  # noqa: BLE001 - RDKit raises several sanitisation errors
        return None
    return mol


def canonical(smiles: str) -> str | None:
    mol = mol_from_smiles(smiles)
    return None if mol is None else Chem.MolToSmiles(mol)


def fraction_valid(smiles: Sequence[str]) -> float:
    return sum(mol_from_smiles(s) is not None for s in smiles) / max(len(smiles), 1)


def unique_at(valid_canonical: Sequence[str], k: int | None) -> float:
    """Distinct / count among the first ``k`` valid canonical SMILES (all when fewer)."""
    head = list(valid_canonical[:k] if k else valid_canonical)
    return len(set(head)) / len(head) if head else float("nan")


def novelty(valid_canonical: Iterable[str], train: set[str] | frozenset[str]) -> float:
    """Distinct generated SMILES absent from the training SMILES / distinct generated."""
    distinct = set(valid_canonical)
    return len(distinct - train) / len(distinct) if distinct else float("nan")


def morgan_fingerprints(mols: Sequence[Chem.Mol], radius: int = 2, bits: int = 1024) -> np.ndarray:
    gen = fpgen.GetMorganGenerator(radius=radius, fpSize=bits)
    out = np.zeros((len(mols), bits), dtype=np.uint8)
    for k, m in enumerate(mols):
        DataStructs.ConvertToNumpyArray(gen.GetFingerprint(m), out[k])
    return out


def aggregate_tanimoto(
    ref: np.ndarray, gen: np.ndarray, agg: str = "max", p: int = 1, batch: int = 4096
) -> np.ndarray:
    """Per generated fingerprint: the max (``agg='max'``) or the power mean
    ``(mean_j T_ij^p)^(1/p)`` (``agg='mean'``) of its Tanimoto similarities to ``ref``."""
    if agg not in ("max", "mean"):
        raise ValueError(f"agg must be 'max' or 'mean', got {agg!r}")
    acc = torch.zeros(len(gen), dtype=torch.float64)
    for i in range(0, len(gen), batch):
        g = torch.from_numpy(gen[i : i + batch]).float()
        g_bits = g.sum(1)
        best = torch.zeros(len(g), dtype=torch.float64)
        for j in range(0, len(ref), batch):
            r = torch.from_numpy(ref[j : j + batch]).float()
            both = g @ r.T
            union = g_bits[:, None] + r.sum(1)[None, :] - both
            t = torch.where(union > 0, both / union.clamp_min(1), torch.ones_like(both))
            if agg == "max":
                best = torch.maximum(best, t.max(1).values.double())
            else:
                best += (t.double() ** p).sum(1)
        acc[i : i + batch] = best
    if agg == "mean":
        acc = (acc / len(ref)) ** (1.0 / p)
    return acc.numpy()


def internal_diversity(fps: np.ndarray, p: int = 1) -> float:
    """IntDiv_p = 1 - mean_i (mean_j T(i, j)^p)^(1/p) over the generated set itself."""
    return float(1.0 - aggregate_tanimoto(fps, fps, agg="mean", p=p).mean())


def snn(ref_fps: np.ndarray, gen_fps: np.ndarray) -> float:
    """Mean over generated molecules of the Tanimoto similarity to the nearest reference."""
    return float(aggregate_tanimoto(ref_fps, gen_fps, agg="max").mean())


def fragments(mols: Iterable[Chem.Mol]) -> Counter:
    """BRICS fragments (canonical SMILES with labelled attachment points), counted."""
    out: Counter = Counter()
    for m in mols:
        out.update(Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(m)).split("."))
    return out


def scaffold(mol: Chem.Mol, min_rings: int = 2) -> str | None:
    try:
        core = MurckoScaffold.GetScaffoldForMol(mol)
    except (ValueError, RuntimeError):
        return None
    smi = Chem.MolToSmiles(core)
    if not smi or core.GetRingInfo().NumRings() < min_rings:
        return None
    return smi


def scaffolds(mols: Iterable[Chem.Mol], min_rings: int = 2) -> Counter:
    return Counter(s for s in (scaffold(m, min_rings) for m in mols) if s is not None)


def cosine_similarity(ref: Counter, gen: Counter) -> float:
    """Cosine of the two count vectors over the union of keys (NaN if either is empty)."""
    if not ref or not gen:
        return float("nan")
    keys = set(ref) | set(gen)
    r = np.array([ref.get(k, 0) for k in keys], dtype=np.float64)
    g = np.array([gen.get(k, 0) for k in keys], dtype=np.float64)
    return float(r @ g / (np.linalg.norm(r) * np.linalg.norm(g)))


@cache
def _filters() -> tuple[Chem.Mol, ...]:
    from .data import filter_smarts

    pats = [Chem.MolFromSmarts(s) for s in filter_smarts()]
    return tuple(p for p in pats if p is not None)


def passes_filters(mol: Chem.Mol, patterns: Sequence[Chem.Mol] | None = None) -> bool:
    """MOSES's filters: no ring of 8+ atoms, no formal charge, only C N S O F Cl Br H, no
    MCF/PAINS match (matched with explicit hydrogens), and a SMILES that reads back."""
    if any(len(r) >= 8 for r in mol.GetRingInfo().AtomRings()):
        return False
    if any(a.GetFormalCharge() != 0 for a in mol.GetAtoms()):
        return False
    if any(a.GetSymbol() not in FILTER_ATOMS for a in mol.GetAtoms()):
        return False
    with_h = Chem.AddHs(mol)
    if any(with_h.HasSubstructMatch(p) for p in (_filters() if patterns is None else patterns)):
        return False
    smi = Chem.MolToSmiles(mol, isomericSmiles=False)
    return bool(smi) and Chem.MolFromSmiles(smi) is not None

"""RDKit-based metrics: validity, uniqueness, novelty, connectivity, drug-likeness."""

from __future__ import annotations

import sys
from functools import cache

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import QED, Crippen, Descriptors

from ..mol import Molecule


def largest_fragment(mol: Chem.Mol) -> Chem.Mol:
    frags = Chem.GetMolFrags(mol, asMols=True, sanitizeFrags=False)
    return max(frags, default=mol, key=lambda m: m.GetNumAtoms())


def _sanitized(mol: Molecule, implicit_h: bool, largest: bool) -> Chem.Mol | None:
    """The RDKit molecule (its largest fragment with ``largest``) if sanitisation succeeds."""
    RDLogger.DisableLog("rdApp.*")
    try:
        rd = mol.to_rdkit(sanitize=True, implicit_h=implicit_h)
        if largest:
            rd = largest_fragment(rd)
            Chem.SanitizeMol(rd)
    except Exception:  # noqa: BLE001 - sanitisation raises several RDKit error types
        return None
    return rd


def to_smiles(mol: Molecule, implicit_h: bool = True) -> str | None:
    """Heavy-atom canonical SMILES of the largest fragment if RDKit sanitises the molecule,
    else None (hydrogens removed: two molecules differing only in H count the same).

    ``implicit_h=True`` is EDM's validity: RDKit may add implicit H to open valences, so
    only over-bonded or otherwise unsanitisable molecules are invalid.
    """
    rd = _sanitized(mol, implicit_h, largest=True)
    if rd is None:
        return None
    try:
        smi = Chem.MolToSmiles(Chem.RemoveHs(rd))
    except Exception:  # noqa: BLE001
        return None
    return smi or None


def edm_smiles(mol: Molecule, largest: bool = True) -> str | None:
    """EDM's SMILES (``qm9/rdkit_functions.py``): sanitise the whole molecule (implicit H
    allowed), take its largest fragment, and write canonical SMILES *with* its explicit
    hydrogen atoms, so molecules that differ only in their H atoms are distinct. EDM
    writes the training set's SMILES (the novelty reference) from whole molecules:
    ``largest=False``. None when RDKit cannot sanitise the molecule."""
    rd = _sanitized(mol, implicit_h=True, largest=largest)
    if rd is None:
        return None
    return Chem.MolToSmiles(rd) or None


def n_fragments(mol: Molecule) -> int:
    if mol.num_atoms == 0:
        return 0
    if mol.bonds is None or len(mol.bonds) == 0:
        return mol.num_atoms
    parent = list(range(mol.num_atoms))

    def find(a: int) -> int:
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for i, j, _ in mol.bonds:
        parent[find(int(i))] = find(int(j))
    return len({find(a) for a in range(mol.num_atoms)})


def validity_metrics(
    smiles: list[str | None],
    mols: list[Molecule],
    reference: set[str] | None = None,
    heavy: list[str | None] | None = None,
    reference_heavy: set[str] | None = None,
) -> dict[str, float]:
    """EDM's metrics on EDM's SMILES (:func:`edm_smiles`, one per molecule, None = invalid):
    validity = valid / all; uniqueness = distinct / valid; validity_uniqueness = distinct /
    all; novelty = distinct not in ``reference`` / distinct. ``connected`` = single-fragment
    / all. With ``heavy`` (:func:`to_smiles`, hydrogens removed) the same under ``*_heavy``
    keys, which count molecules differing only in their H atoms as one."""
    n = max(len(smiles), 1)
    valid = [s for s in smiles if s]
    unique = set(valid)
    out = {
        "validity": len(valid) / n,
        "uniqueness": len(unique) / len(valid) if valid else 0.0,
        "validity_uniqueness": len(unique) / n,
        "connected": sum(n_fragments(m) == 1 for m in mols) / n,
    }
    if reference is not None:
        out["novelty"] = len(unique - reference) / len(unique) if unique else 0.0
    if heavy is not None:
        valid_h = [s for s in heavy if s]
        unique_h = set(valid_h)
        out["uniqueness_heavy"] = len(unique_h) / len(valid_h) if valid_h else 0.0
        out["validity_uniqueness_heavy"] = len(unique_h) / n
        if reference_heavy is not None:
            out["novelty_heavy"] = (
                len(unique_h - reference_heavy) / len(unique_h) if unique_h else 0.0
            )
    return out


@cache
def _sascorer():
    import rdkit

    path = f"{rdkit.__path__[0]}/Contrib/SA_Score"
    if path not in sys.path:
        sys.path.append(path)
    import sascorer  # RDKit Contrib (Ertl & Schuffenhauer 2009), ships with the wheel

    return sascorer


def drug_properties(smiles: list[str]) -> dict[str, np.ndarray]:
    """QED, SA score, Crippen logP and molecular weight of each SMILES (heavy-atom graph)."""
    RDLogger.DisableLog("rdApp.*")
    sa = _sascorer()
    cols: dict[str, list[float]] = {"qed": [], "sa": [], "logp": [], "mw": []}
    for s in smiles:
        m = Chem.MolFromSmiles(s)
        if m is None:
            continue
        cols["qed"].append(QED.qed(m))
        cols["sa"].append(sa.calculateScore(m))
        cols["logp"].append(Crippen.MolLogP(m))
        cols["mw"].append(Descriptors.MolWt(m))
    return {k: np.asarray(v) for k, v in cols.items()}

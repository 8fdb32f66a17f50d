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


def to_smiles(mol: Molecule, implicit_h: bool = True) -> str | None:
    """Canonical SMILES of the largest fragment if RDKit sanitises the molecule, else None.

    ``implicit_h=True`` is EDM's validity: RDKit may add implicit H to open valences, so
    only over-bonded or otherwise unsanitisable molecules are invalid.
    """
    RDLogger.DisableLog("rdApp.*")
    try:
        rd = mol.to_rdkit(sanitize=True, implicit_h=implicit_h)
        frag = largest_fragment(rd)
        Chem.SanitizeMol(frag)
        smi = Chem.MolToSmiles(Chem.RemoveHs(frag))
    except Exception:  # noqa: BLE001 - sanitisation raises several RDKit error types
        return None
    return smi or None


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
    smiles: list[str | None], mols: list[Molecule], reference_smiles: set[str] | None
) -> dict[str, float]:
    """validity = sanitisable / all; uniqueness = distinct / valid; novelty = unique valid not
    in the reference / unique valid (EDM/MiDi); connected = single-fragment / all."""
    n = max(len(smiles), 1)
    valid = [s for s in smiles if s]
    unique = set(valid)
    out = {
        "validity": len(valid) / n,
        "uniqueness": len(unique) / len(valid) if valid else 0.0,
        "validity_uniqueness": len(unique) / n,
        "connected": sum(n_fragments(m) == 1 for m in mols) / n,
    }
    if reference_smiles is not None:
        out["novelty"] = len(unique - reference_smiles) / len(unique) if unique else 0.0
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

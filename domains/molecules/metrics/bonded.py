"""The bond-aware protocol (MiDi, SemlaFlow): stability and validity from the bonds and
formal charges the molecules carry, not re-inferred from distances (EDM's keys do that).

For a joint-graph model these are its generated bonds; for a model without bonds they are
whatever its decoder attached (the distance table). Keys end in ``_bonds``.
"""

from __future__ import annotations

import numpy as np
from rdkit import Chem, RDLogger

from ..constants import CHARGED_VALENCE
from ..mol import Molecule
from .chem import largest_fragment, validity_metrics


def bond_valences(mol: Molecule) -> np.ndarray:
    """Sum of bond orders per atom from the molecule's own bonds (aromatic counts 1.5)."""
    val = np.zeros(mol.num_atoms)
    for i, j, order in np.asarray(mol.bonds).reshape(-1, 3):
        w = 1.5 if order == 4 else float(order)
        val[i] += w
        val[j] += w
    return val


def stable_atoms_bonds(mol: Molecule) -> np.ndarray:
    """Per atom: its bond-order sum is an allowed valence for its element and formal charge."""
    val = bond_valences(mol)
    out = np.zeros(mol.num_atoms, dtype=bool)
    for k, (sym, q) in enumerate(zip(mol.symbols, mol.charges)):
        allowed = CHARGED_VALENCE.get(sym, {}).get(int(q), ())
        out[k] = float(val[k]) in {float(a) for a in allowed}
    return out


def bonded_smiles(mol: Molecule) -> str | None:
    """Heavy-atom canonical SMILES of the largest fragment if RDKit sanitises the molecule
    with its bonds and charges as they are (every hydrogen explicit), else None."""
    RDLogger.DisableLog("rdApp.*")
    try:
        rd = mol.to_rdkit(sanitize=True, implicit_h=False)
        rd = largest_fragment(rd)
        Chem.SanitizeMol(rd)
        return Chem.MolToSmiles(Chem.RemoveHs(rd)) or None
    except Exception:  # noqa: BLE001 - RDKit raises several error types
        return None


def bond_aware_metrics(mols: list[Molecule], reference: set[str] | None = None) -> dict[str, float]:
    """``*_bonds`` keys; empty unless every molecule carries bonds."""
    if not mols or any(m.bonds is None for m in mols):
        return {}
    stable = [stable_atoms_bonds(m) for m in mols]
    n_atoms = max(sum(len(s) for s in stable), 1)
    smiles = [bonded_smiles(m) for m in mols]
    n = len(mols)
    out = {
        "atom_stability_bonds": sum(int(s.sum()) for s in stable) / n_atoms,
        "mol_stability_bonds": sum(bool(s.all()) for s in stable) / n,
    }
    # validity, uniqueness, validity_uniqueness, connected (and novelty) as EDM defines them
    scores = validity_metrics(smiles, mols, reference)
    return out | {f"{key}_bonds": value for key, value in scores.items()}

"""EDM's stability metrics: bonds from distances, valence sum versus allowed valences."""

from __future__ import annotations

import numpy as np

from ..bonds import bond_order_matrix
from ..constants import ALLOWED_VALENCE, CHARGED_VALENCE
from ..mol import Molecule


def atom_valences(mol: Molecule) -> np.ndarray:
    """Sum of inferred bond orders per atom (EDM's distance table)."""
    return bond_order_matrix(mol.symbols, mol.positions).sum(axis=1)


def stable_atoms(mol: Molecule, charge_aware: bool = False) -> np.ndarray:
    """Boolean per atom: valence equals an allowed one (EDM); with ``charge_aware`` the
    allowed set depends on the atom's formal charge (N+ 4 bonds, O- 1 bond, ...)."""
    val = atom_valences(mol)
    out = np.zeros(mol.num_atoms, dtype=bool)
    for k, (sym, q) in enumerate(zip(mol.symbols, mol.charges)):
        if charge_aware:
            allowed = CHARGED_VALENCE.get(sym, {}).get(int(q), ())
        else:
            allowed = ALLOWED_VALENCE.get(sym, ())
        out[k] = int(val[k]) in allowed
    return out


def stability(mols: list[Molecule], charge_aware: bool = False) -> dict[str, float]:
    """Atom stability (fraction of all atoms) and molecule stability (fraction of molecules
    with every atom stable), pooled over the set as EDM does."""
    if not mols:
        return {"atom_stability": float("nan"), "mol_stability": float("nan")}
    n_atoms = n_stable = n_mol_stable = 0
    for m in mols:
        s = stable_atoms(m, charge_aware)
        n_atoms += len(s)
        n_stable += int(s.sum())
        n_mol_stable += int(s.all())
    suffix = "_charged" if charge_aware else ""
    return {
        f"atom_stability{suffix}": n_stable / max(n_atoms, 1),
        f"mol_stability{suffix}": n_mol_stable / len(mols),
    }

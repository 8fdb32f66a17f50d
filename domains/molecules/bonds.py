"""Bonds from coordinates: EDM's distance table (default) or RDKit's rdDetermineBonds."""

from __future__ import annotations

import numpy as np
from rdkit import Chem, RDLogger

from .constants import BOND_LENGTHS_PM, MARGINS_PM
from .mol import Molecule


def pair_thresholds(symbols: list[str]) -> np.ndarray:
    """``[3, n, n]`` distance cut-offs (Å) for bond orders 1/2/3; -inf where no entry exists."""
    n = len(symbols)
    out = np.full((3, n, n), -np.inf)
    for order in range(3):
        table, margin = BOND_LENGTHS_PM[order], MARGINS_PM[order]
        for i, a in enumerate(symbols):
            for j, b in enumerate(symbols):
                v = table.get((a, b))
                if v is not None:
                    out[order, i, j] = (v + margin) / 100.0
    return out


def bond_order_matrix(symbols: list[str], positions: np.ndarray) -> np.ndarray:
    """EDM's rule per pair: order 1 below single+10 pm, 2 below double+5, 3 below triple+3.

    Higher orders are only considered when the lower cut-off already holds (EDM nests them).
    Pairs missing from the single-bond table never bond (EDM's ``check_exists``).
    """
    pos = np.asarray(positions, dtype=np.float64)
    d = np.linalg.norm(pos[:, None] - pos[None], axis=-1)
    thr = pair_thresholds(symbols)
    one = d < thr[0]
    two = one & (d < thr[1])
    three = two & (d < thr[2])
    order = one.astype(np.int64) + two + three
    np.fill_diagonal(order, 0)
    return order


def infer_bonds_table(mol: Molecule) -> Molecule:
    order = bond_order_matrix(mol.symbols, mol.positions)
    i, j = np.triu_indices(mol.num_atoms, k=1)
    keep = order[i, j] > 0
    bonds = np.stack([i[keep], j[keep], order[i, j][keep]], axis=1)
    return Molecule(mol.symbols, mol.positions, mol.charges, bonds, dict(mol.props), mol.name)


def infer_bonds_rdkit(mol: Molecule, charge: int | None = None) -> Molecule:
    """rdDetermineBonds (xyz2mol): connectivity + bond orders + formal charges.

    Falls back to connectivity only when the bond-order assignment fails; returns the
    molecule with ``bonds=[]`` when even that fails (it is then counted invalid).
    """
    from rdkit.Chem import rdDetermineBonds

    RDLogger.DisableLog("rdApp.*")
    bare = Molecule(mol.symbols, mol.positions, np.zeros(mol.num_atoms, int), None, {}, mol.name)
    rd = Chem.Mol(bare.to_rdkit())
    for a in rd.GetAtoms():
        a.SetNoImplicit(False)
    total = int(mol.charges.sum()) if charge is None else charge
    try:
        rdDetermineBonds.DetermineBonds(rd, charge=total)
    except Exception:  # noqa: BLE001 - RDKit raises ValueError/RuntimeError here
        try:
            rd = Chem.Mol(bare.to_rdkit())
            rdDetermineBonds.DetermineConnectivity(rd)
        except Exception:  # noqa: BLE001
            return Molecule(
                mol.symbols,
                mol.positions,
                mol.charges,
                np.zeros((0, 3), int),
                dict(mol.props),
                mol.name,
            )
    out = Molecule.from_rdkit(rd, name=mol.name)
    out.props = dict(mol.props)
    return out


def infer_bonds(mol: Molecule, method: str = "table") -> Molecule:
    if method == "table":
        return infer_bonds_table(mol)
    if method == "rdkit":
        return infer_bonds_rdkit(mol)
    raise ValueError(f"bond method {method!r} unknown; use 'table' or 'rdkit'")

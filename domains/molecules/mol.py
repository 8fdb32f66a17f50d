"""A typed molecule container and conversions to and from RDKit."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from rdkit import Chem
from rdkit.Geometry import Point3D

_BOND_TYPES = {
    1: Chem.BondType.SINGLE,
    2: Chem.BondType.DOUBLE,
    3: Chem.BondType.TRIPLE,
    4: Chem.BondType.AROMATIC,
}


@dataclass
class Molecule:
    """3D molecule: element symbols, positions (Å), formal charges, optional bonds/properties.

    ``bonds`` is an ``[m, 3]`` int array of (i, j, order) with order 1/2/3 (4 = aromatic), or
    None when bonds are unknown (generated molecules before decoding, XYZ files).
    """

    symbols: list[str]
    positions: np.ndarray
    charges: np.ndarray | None = None
    bonds: np.ndarray | None = None
    props: dict[str, float] = field(default_factory=dict)
    name: str = ""

    def __post_init__(self) -> None:
        self.positions = np.asarray(self.positions, dtype=np.float64).reshape(-1, 3)
        if self.charges is None:
            self.charges = np.zeros(len(self.symbols), dtype=np.int64)
        self.charges = np.asarray(self.charges, dtype=np.int64)
        if len(self.symbols) != len(self.positions) or len(self.charges) != len(self.symbols):
            raise ValueError("symbols, positions and charges must have the same length")

    @property
    def num_atoms(self) -> int:
        return len(self.symbols)

    @classmethod
    def from_rdkit(cls, mol: Chem.Mol, name: str = "", conf_id: int = -1) -> Molecule:
        if mol.GetNumConformers() == 0:
            raise ValueError("molecule has no 3D conformer")
        pos = mol.GetConformer(conf_id).GetPositions()
        symbols = [a.GetSymbol() for a in mol.GetAtoms()]
        charges = np.array([a.GetFormalCharge() for a in mol.GetAtoms()], dtype=np.int64)
        bonds = np.array(
            [(b.GetBeginAtomIdx(), b.GetEndAtomIdx(), _bond_order(b)) for b in mol.GetBonds()],
            dtype=np.int64,
        ).reshape(-1, 3)
        props = {}
        for key in mol.GetPropNames():
            try:
                props[key] = float(mol.GetProp(key))
            except ValueError:
                continue
        if not name and mol.HasProp("_Name"):
            name = mol.GetProp("_Name")
        return cls(symbols, pos, charges, bonds, props, name)

    def to_rdkit(self, sanitize: bool = False, implicit_h: bool = False) -> Chem.Mol:
        """An RDKit molecule with this geometry and bonds (None bonds -> no bonds).

        With ``sanitize=True`` RDKit's sanitisation errors propagate (validity checks).
        ``implicit_h=True`` lets RDKit fill open valences with implicit hydrogens, as EDM's
        validity check does; by default all hydrogens are the explicit atoms.
        """
        rw = Chem.RWMol()
        for sym, q in zip(self.symbols, self.charges):
            atom = Chem.Atom(sym)
            atom.SetFormalCharge(int(q))
            atom.SetNoImplicit(not implicit_h)
            rw.AddAtom(atom)
        if self.bonds is not None:
            for i, j, order in self.bonds:
                rw.AddBond(int(i), int(j), _BOND_TYPES[int(order)])
                if int(order) == 4:
                    rw.GetBondBetweenAtoms(int(i), int(j)).SetIsAromatic(True)
                    rw.GetAtomWithIdx(int(i)).SetIsAromatic(True)
                    rw.GetAtomWithIdx(int(j)).SetIsAromatic(True)
        conf = Chem.Conformer(self.num_atoms)
        for k, p in enumerate(self.positions):
            conf.SetAtomPosition(k, Point3D(*map(float, p)))
        rw.AddConformer(conf, assignId=True)
        mol = rw.GetMol()
        if self.name:
            mol.SetProp("_Name", self.name)
        if sanitize:
            Chem.SanitizeMol(mol)
        return mol


def _bond_order(bond: Chem.Bond) -> int:
    t = bond.GetBondType()
    if t == Chem.BondType.AROMATIC:
        return 4
    if t in (Chem.BondType.SINGLE, Chem.BondType.DOUBLE, Chem.BondType.TRIPLE):
        return int(bond.GetBondTypeAsDouble())
    return 1  # dative/other: counted as single


def kekulized(mol: Chem.Mol) -> Chem.Mol:
    """A copy with explicit single/double bonds (bond-order tables know no aromatic bonds)."""
    copy = Chem.Mol(mol)
    try:
        Chem.Kekulize(copy, clearAromaticFlags=True)
    except Chem.KekulizeException:
        pass
    return copy

"""QM9 from the ``qm9pack`` wheel (``pip install 'multigen[qm9]'``, MIT licence).

The wheel ships the 130,831 characterised QM9 molecules (EDM's set: the 133,885 of gdb9 minus
the 3,054 uncharacterised ones) as ``data/qm9_part{1,2,3}.csv`` plus
``data/qm9_polarizability.csv`` (the polarisability tensor). Each row has the gdb9 ``Index``
(1-based), ``Elements``, the DFT geometry ``XYZ_Ang`` (Å), ``SMILES`` and the properties in
atomic units. The CSVs are read directly (the package's own helper needs pandas and
``pkg_resources``; importing ``qm9pack`` fails on setuptools ≥ 81, so it is never imported).

Properties are converted to the units of EDM's tables (see ``constants.QM9_UNITS``):
HOMO/LUMO/gap in meV, energies in eV, μ in D, α in Bohr³, Cv in cal/(mol K).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rdkit import Chem

from multigen.domain import DomainError
from multigen.fileio import package_dir

from .constants import HARTREE_EV, HARTREE_MEV
from .mol import Molecule
from .progress import progress_bar

PACK_PARTS = ("qm9_part1.csv", "qm9_part2.csv", "qm9_part3.csv")
POLAR_FILE = "qm9_polarizability.csv"
# CSV column -> (property name, factor to EDM's units)
PACK_COLUMNS = {
    "RotA_GHz": ("A", 1.0),
    "RotB_GHz": ("B", 1.0),
    "RotC_GHz": ("C", 1.0),
    "Dipole_debye": ("mu", 1.0),
    "Polarizability_bohr3": ("alpha", 1.0),
    "HOMO_au": ("homo", HARTREE_MEV),
    "LUMO_au": ("lumo", HARTREE_MEV),
    "HOMO_LUMO_gap_au": ("gap", HARTREE_MEV),
    "R2_bohr2": ("r2", 1.0),
    "ZPVE_au": ("zpve", HARTREE_EV),
    "InternalEnergy_0K_au": ("u0", HARTREE_EV),
    "InternalEnergy_298K_au": ("u298", HARTREE_EV),
    "Enthalphy_298K_au": ("h298", HARTREE_EV),  # sic: the wheel's spelling
    "GibbsFreeEnergy_298K_au": ("g298", HARTREE_EV),
    "Heatcapacity_Cv_cal_mol_K": ("cv", 1.0),
}
PACK_PROPERTIES = tuple(name for name, _ in PACK_COLUMNS.values())
REQUIRED = ("XYZ_file", "Index", "SMILES", "N_atoms", "Elements", "XYZ_Ang", *PACK_COLUMNS)
_PT = Chem.GetPeriodicTable()
_Z = {_PT.GetElementSymbol(z): z for z in range(1, 119)}


def pack_dir() -> Path:
    """The installed wheel's data folder, found without importing ``qm9pack``."""
    folder = (
        package_dir(
            "qm9pack",
            "QM9 needs the qm9pack wheel: pip install 'multigen[qm9]' (or pip install qm9pack), "
            "or give the raw QM9 folder (gdb9.sdf, gdb9.sdf.csv, uncharacterized.txt) as data.path",
        )
        / "data"
    )
    check_pack_dir(folder)
    return folder


def check_pack_dir(folder: Path) -> None:
    missing = [f for f in (*PACK_PARTS, POLAR_FILE) if not (folder / f).is_file()]
    if missing:
        raise DomainError(f"{folder}: qm9pack files missing: {', '.join(missing)}")


def is_pack_dir(folder: Path) -> bool:
    return (Path(folder) / PACK_PARTS[0]).is_file()


@dataclass
class QM9Table:
    """All molecules of a qm9pack folder as flat arrays, sorted by gdb9 index."""

    index: np.ndarray  # [M] int64, gdb9 ids (1-based)
    offsets: np.ndarray  # [M + 1] int64, atom ranges
    numbers: np.ndarray  # [A] int64, atomic numbers
    positions: np.ndarray  # [A, 3] float64, Å
    props: np.ndarray  # [M, P] float64, EDM units, columns PACK_PROPERTIES
    smiles: np.ndarray  # [M] str, the wheel's (GDB) SMILES

    def __len__(self) -> int:
        return len(self.index)

    def molecule(self, k: int) -> Molecule:
        a, b = int(self.offsets[k]), int(self.offsets[k + 1])
        symbols = [_PT.GetElementSymbol(int(z)) for z in self.numbers[a:b]]
        props = {p: float(v) for p, v in zip(PACK_PROPERTIES, self.props[k])}
        return Molecule(
            symbols, self.positions[a:b].copy(), props=props, name=f"gdb_{self.index[k]}"
        )


def count_rows(folder: Path) -> int:
    """Data rows in the three parts (one line per row; no quoted newlines in the wheel)."""
    total = 0
    for name in PACK_PARTS:
        with (folder / name).open("rb") as fh:
            total += sum(chunk.count(b"\n") for chunk in iter(lambda: fh.read(1 << 24), b"")) - 1
    return total


def _rows(folder: Path) -> Iterator[tuple[str, dict[str, str]]]:
    for name in PACK_PARTS:
        path = folder / name
        try:
            with path.open(newline="", encoding="utf-8") as fh:
                reader = csv.DictReader(fh)
                missing = [c for c in REQUIRED if c not in (reader.fieldnames or [])]
                if missing:
                    raise DomainError(f"{path}: columns missing: {', '.join(missing)}")
                line = 1
                for line, row in enumerate(reader, start=2):
                    yield f"{path} line {line}", row
                if line == 1:  # every part of a whole install holds molecules
                    raise DomainError(f"{path}: holds no rows (a damaged qm9pack install)")
        except (UnicodeDecodeError, csv.Error) as exc:
            detail = " ".join(str(exc).split())
            raise DomainError(f"{path}: not a readable qm9pack CSV ({detail})") from None


def parse_row(where: str, row: dict[str, str]) -> tuple[int, list[int], np.ndarray, list[float]]:
    """(gdb index, atomic numbers, positions [n, 3], properties in EDM units) of one row."""
    try:
        index = int(row["Index"])
        elements = [e.strip().strip("'\"") for e in row["Elements"].strip("[] ").split(",")]
        unknown = [e for e in elements if e not in _Z]
        if unknown:
            raise ValueError(f"unknown element {unknown[0]!r} in Elements")
        numbers = [_Z[e] for e in elements]
        pos = _floats(row["XYZ_Ang"]).reshape(-1, 3)
        props = [float(_fix_exponent(row[c])) * f for c, (_, f) in PACK_COLUMNS.items()]
        n = int(row["N_atoms"])
    except (ValueError, RuntimeError, TypeError, AttributeError) as exc:
        detail = " ".join(str(exc).split())  # a short row gives None fields
        raise DomainError(f"{where}: unreadable QM9 row ({detail}); reinstall qm9pack") from None
    if not (np.isfinite(pos).all() and np.isfinite(props).all()):
        raise DomainError(f"{where}: NaN or infinite coordinates/properties; reinstall qm9pack")
    if pos.shape != (n, 3) or len(numbers) != n:
        raise DomainError(
            f"{where}: N_atoms={n} but {len(numbers)} elements and XYZ_Ang of shape "
            f"{pos.shape}; reinstall qm9pack"
        )
    return index, numbers, pos, props


def _fix_exponent(text: str) -> str:
    return text.replace("*^", "e")  # QM9's XYZ files write some numbers as 1.2*^-6


def _floats(text: str) -> np.ndarray:
    """Numbers of a nested list like ``[[0.59,0.,1.],...]`` (not JSON: ``0.`` occurs)."""
    flat = _fix_exponent(text).replace("[", " ").replace("]", " ").replace(",", " ").split()
    return np.asarray([float(v) for v in flat], dtype=np.float64)


def read_pack(folder: Path, progress: bool = True) -> QM9Table:
    """Parse the CSVs of a qm9pack data folder (about 15 s for all of QM9 on one core)."""
    folder = Path(folder)
    check_pack_dir(folder)
    index, counts, numbers, positions, props, smiles = [], [], [], [], [], []
    label = "[bold]QM9[/] reading qm9pack CSVs"
    with progress_bar(label, count_rows(folder), progress, every=1000) as advance:
        for where, row in _rows(folder):
            k, z, pos, p = parse_row(where, row)
            index.append(k)
            counts.append(len(z))
            numbers.extend(z)
            positions.append(pos)
            props.append(p)
            smiles.append(row["SMILES"])
            advance()
    order = np.argsort(np.asarray(index), kind="stable")
    idx = np.asarray(index, dtype=np.int64)[order]
    dup = idx[1:][idx[1:] == idx[:-1]]
    if len(dup):
        raise DomainError(f"{folder}: gdb9 index {int(dup[0])} appears more than once")
    counts_arr = np.asarray(counts, dtype=np.int64)
    starts = np.concatenate([[0], np.cumsum(counts_arr)])
    flat_z = np.asarray(numbers, dtype=np.int64)
    flat_pos = np.concatenate(positions)
    atoms = np.concatenate([np.arange(starts[k], starts[k + 1]) for k in order])
    table = QM9Table(
        index=idx,
        offsets=np.concatenate([[0], np.cumsum(counts_arr[order])]),
        numbers=flat_z[atoms].astype(np.uint8),
        positions=flat_pos[atoms],
        props=np.asarray(props, dtype=np.float64)[order],
        smiles=np.asarray(smiles)[order],
    )
    check_polarizability(folder, table)
    return table


def check_polarizability(folder: Path, table: QM9Table, tol: float = 0.01) -> None:
    """The tensor file must list the same molecules, and trace/3 must equal the isotropic α
    of the main files (both Bohr³): a cross-check that the install is whole and consistent."""
    path = folder / POLAR_FILE
    alpha = dict(zip(table.index.tolist(), table.props[:, PACK_PROPERTIES.index("alpha")]))
    seen = 0
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        for line, row in enumerate(reader, start=2):
            try:
                k = int(row["XYZ_file"].split("_")[-1].split(".")[0])
                trace = float(row["A_xx"]) + float(row["A_yy"]) + float(row["A_zz"])
            except (KeyError, ValueError, AttributeError, IndexError) as exc:
                raise DomainError(f"{path} line {line}: unreadable row ({exc})") from exc
            if k not in alpha:
                raise DomainError(f"{path} line {line}: molecule {k} is not in {PACK_PARTS}")
            if abs(trace / 3 - alpha[k]) > tol:
                raise DomainError(
                    f"{path} line {line}: trace/3 = {trace / 3:.3f} Bohr³ but "
                    f"Polarizability_bohr3 = {alpha[k]:.3f} for molecule {k} in "
                    f"{', '.join(PACK_PARTS)}; one of the two files is damaged"
                )
            seen += 1
    if seen != len(table):
        raise DomainError(
            f"{path}: {seen} rows but the main files ({', '.join(PACK_PARTS)}) have "
            f"{len(table)} molecules"
        )

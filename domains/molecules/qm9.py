"""QM9: from the qm9pack wheel (default, see ``qm9_pack``) or in its raw format.

Raw format (as distributed and as torch_geometric reads it):

A folder with ``gdb9.sdf`` (133,885 molecules, 3D, with H), ``gdb9.sdf.csv`` (mol_id + 19
targets, row k = SDF record k) and ``uncharacterized.txt`` (3,054 molecules whose geometry
failed a consistency check; excluded). The split is EDM's: after exclusion, a permutation
with NumPy seed 0 gives 100,000 train / 17,748 valid / 13,083 test (10 % test, the rest
valid); smaller files (tests) get the same fractions. This is Cormorant's split, which EDM
uses; the qm9pack route applies it to the same 130,831 molecules in gdb9 order, so both
routes give EDM's exact train/valid/test molecules. Properties are converted to EDM's units
(``constants.QM9_UNITS``).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from rdkit import Chem, RDLogger

from multigen.domain import DomainError

from .constants import QM9_PROPERTIES, QM9_TO_EDM_UNITS
from .io import SkipLog
from .mol import Molecule

QM9_FILES = ("gdb9.sdf", "gdb9.sdf.csv", "uncharacterized.txt")
QM9_FULL = 130_831


def read_uncharacterized(path: Path) -> set[int]:
    """1-based indices listed in uncharacterized.txt: a 9-line header (skipped, as
    torch_geometric does), then rows whose first token is the index; footer lines are not
    numeric and are ignored."""
    out: set[int] = set()
    for line in path.read_text().splitlines()[9:]:
        tok = line.split()
        if tok and tok[0].isdigit():
            out.add(int(tok[0]))
    return out


HALF_SEED = 1  # our permutation of the train split into the two halves of EDM's §5.2


def qm9_split_indices(n: int, split: str) -> np.ndarray:
    """EDM's split over ``n`` characterised molecules (positions in the kept list).

    ``train_a`` / ``train_b``: the training split cut in two halves (50,000 each on all of
    QM9) by a NumPy ``RandomState(HALF_SEED)`` permutation, for EDM's conditional protocol
    (property predictor on one half, conditional generator on the other)."""
    if split in ("train_a", "train_b"):
        train = qm9_split_indices(n, "train")
        perm = np.random.RandomState(HALF_SEED).permutation(len(train))
        half = perm[: len(train) // 2] if split == "train_a" else perm[len(train) // 2 :]
        return np.sort(train[half])
    n_train = 100_000 if n == QM9_FULL else int(round(n * 100_000 / QM9_FULL))
    n_test = int(0.1 * n)
    n_valid = n - (n_train + n_test)
    perm = np.random.RandomState(0).permutation(n)
    train, valid, test = np.split(perm, [n_train, n_train + n_valid])[:3]
    parts = {"train": train, "valid": valid, "val": valid, "test": test, "all": np.arange(n)}
    if split not in parts:
        raise DomainError(
            f"QM9 split {split!r} unknown; use train, valid, test, all, train_a or train_b"
        )
    return np.sort(parts[split])


_LOADED: dict[tuple[str, float], list[Molecule | None]] = {}  # one parse per file per process


def load_qm9(folder: Path, split: str = "train", log: SkipLog | None = None) -> list[Molecule]:
    log = log or SkipLog()
    folder = Path(folder)
    missing = [f for f in QM9_FILES if not (folder / f).is_file()]
    if missing:
        raise DomainError(
            f"{folder}: QM9 raw files missing: {', '.join(missing)} "
            "(expected gdb9.sdf, gdb9.sdf.csv, uncharacterized.txt from the QM9 distribution)"
        )
    key = (str((folder / "gdb9.sdf").resolve()), (folder / "gdb9.sdf").stat().st_mtime)
    if key not in _LOADED:
        _LOADED.clear()
        _LOADED[key] = _parse(folder, log)
    kept = _LOADED[key]
    idx = qm9_split_indices(len(kept), split)
    return [kept[i] for i in idx if kept[i] is not None]


def _parse(folder: Path, log: SkipLog) -> list[Molecule | None]:
    with (folder / "gdb9.sdf.csv").open(newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader)]
        if len(header) < 20:
            raise DomainError(
                f"{folder / 'gdb9.sdf.csv'}: expected mol_id + 19 property columns, "
                f"got {len(header)} columns"
            )
        rows = [r for r in reader if r]
    skip = read_uncharacterized(folder / "uncharacterized.txt")
    RDLogger.DisableLog("rdApp.*")
    supplier = Chem.SDMolSupplier(str(folder / "gdb9.sdf"), removeHs=False, sanitize=False)
    kept: list[Molecule | None] = []  # None keeps split positions stable on parse errors
    for k, mol in enumerate(supplier):
        if k + 1 in skip:
            continue
        if k >= len(rows):
            raise DomainError(f"{folder}: gdb9.sdf has more records than gdb9.sdf.csv rows")
        if mol is None or mol.GetNumConformers() == 0:
            log.skip(f"gdb9.sdf record {k + 1}", "RDKit could not parse it")
            kept.append(None)
            continue
        m = Molecule.from_rdkit(mol, name=rows[k][0])
        m.props = {
            name: float(v) * QM9_TO_EDM_UNITS.get(name, 1.0)
            for name, v in zip(QM9_PROPERTIES, rows[k][1:20])
        }
        kept.append(m)
    RDLogger.EnableLog("rdApp.*")
    return kept


def qm9_molecules(
    path: Path | None, split: str, log: SkipLog | None = None, progress: bool = True
) -> list[Molecule]:
    """QM9 molecules of ``split``: the installed qm9pack wheel (``path`` None), a qm9pack-style
    folder (``qm9_part1.csv`` ...), or a raw folder (``gdb9.sdf`` ...)."""
    from .qm9_cache import load_table
    from .qm9_pack import is_pack_dir, pack_dir

    if path is not None and (Path(path) / "gdb9.sdf").is_file():
        return load_qm9(Path(path), split, log)
    if path is not None and not is_pack_dir(Path(path)):
        raise DomainError(
            f"{path}: not a QM9 folder: expected the raw files ({', '.join(QM9_FILES)}) "
            "or qm9pack's CSVs (qm9_part1.csv, qm9_part2.csv, qm9_part3.csv, "
            "qm9_polarizability.csv); leave data.path empty to use the installed qm9pack"
        )
    table = load_table(pack_dir() if path is None else Path(path), progress=progress)
    return [table.molecule(int(k)) for k in qm9_split_indices(len(table), split)]

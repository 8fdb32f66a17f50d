"""MOSES's data from the installed ``molsets`` wheel: SMILES splits and reference statistics.

``pip install --no-deps molsets`` (its pinned pomegranate==0.12 does not install on this
stack, and its own code does not import: it needs ``rdkit.six``, gone from RDKit). Nothing
of ``moses`` is imported; the files are found through the package's location.
"""

from __future__ import annotations

import csv
import gzip
from functools import cache
from pathlib import Path

from multigen.domain import DomainError
from multigen.fileio import package_dir

from .safe_pickle import load_object_npz

SPLITS = ("train", "test", "test_scaffolds")


def moses_dir() -> Path:
    return package_dir(
        "moses",
        "MOSES needs the molsets wheel's data: pip install --no-deps molsets "
        "(its pinned dependencies do not install on this stack; none are needed)",
    )


def split_path(split: str) -> Path:
    if split not in SPLITS:
        raise DomainError(f"MOSES split {split!r} unknown; use one of {', '.join(SPLITS)}")
    path = moses_dir() / "dataset" / "data" / f"{split}.csv.gz"
    if not path.is_file():
        raise DomainError(f"{path}: MOSES file missing (reinstall molsets)")
    return path


@cache
def read_split(split: str) -> tuple[str, ...]:
    """The split's SMILES (MOSES's files hold canonical SMILES under a ``SMILES`` header)."""
    path = split_path(split)
    with gzip.open(path, "rt", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if not header or header[0].strip().upper() != "SMILES":
            raise DomainError(f"{path}: expected a SMILES column, got header {header}")
        return tuple(row[0] for row in reader if row)


@cache
def reference_stats(split: str) -> dict:
    """MOSES's precomputed statistics of ``test`` or ``test_scaffolds``: FCD (mu, sigma),
    SNN (Morgan fingerprints), Frag and Scaf (Counters), logP/SA/QED/weight values."""
    if split not in ("test", "test_scaffolds"):
        raise DomainError(f"MOSES statistics exist for test and test_scaffolds, not {split!r}")
    path = moses_dir() / "dataset" / "data" / f"{split}_stats.npz"
    stats = load_object_npz(path, "stats")
    missing = [k for k in ("FCD", "SNN", "Frag", "Scaf") if k not in stats]
    if missing:
        raise DomainError(f"{path}: statistics lack {missing}")
    return stats


def filter_smarts() -> list[str]:
    """MOSES's structural filters: the MCF and PAINS SMARTS shipped with the wheel."""
    folder = moses_dir() / "metrics"
    out = []
    with (folder / "mcf.csv").open(newline="") as fh:
        out += [row["smarts"].strip() for row in csv.DictReader(fh)]
    with (folder / "wehi_pains.csv").open(newline="") as fh:  # no header: smarts, name
        out += [row[0].strip() for row in csv.reader(fh) if row]
    return out

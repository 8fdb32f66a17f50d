"""A drug-like 3D set: seeded random subsets of MOSES train, test and scaffold test (molsets
wheel) embedded with RDKit ETKDGv3 + MMFF94, with explicit H, on all cores.

``prepare_moses3d(n, seed)`` takes ``n`` train molecules and ``max(1, n // 10)`` from each
test set (NumPy ``RandomState(seed)`` without replacement), embeds them (molecule k with
seed ``seed + k``) and writes ``train.sdf``, ``test.sdf``, ``test_scaffolds.sdf`` and
``meta.json`` (counts, skipped molecules with reasons, elements) into a folder named by
(n, seed, RDKit version) under ``$MULTIGEN_CACHE``. The folder is assembled under a
temporary name and renamed into place, so an interrupted run leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import rdkit

from multigen.domain import DomainError
from multigen.fileio import atomic_dir

from .conformers import cache_dir, conformers
from .io import SkipLog, write_sdf

SPLITS = ("train", "test", "test_scaffolds")
FORMAT = 1


def moses3d_dir(n: int, seed: int) -> Path:
    return cache_dir() / f"moses3d_n{n}_seed{seed}_rdkit{rdkit.__version__}"


def split_sizes(n: int) -> dict[str, int]:
    return {"train": n, "test": max(1, n // 10), "test_scaffolds": max(1, n // 10)}


def read_meta(folder: Path) -> dict | None:
    """The folder's meta.json when the folder is complete, else None."""
    try:
        meta = json.loads((Path(folder) / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if meta.get("format") != FORMAT or not all((folder / f"{s}.sdf").is_file() for s in SPLITS):
        return None
    return meta


def _embed_split(split: str, count: int, seed: int, processes, progress: bool, folder: Path):
    """Embed a seeded subset of one MOSES split into ``folder/<split>.sdf``."""
    from .moses_suite.data import read_split

    smiles = read_split(split)
    if count > len(smiles):
        raise DomainError(f"moses3d: n asks for {count} {split} molecules; it has {len(smiles)}")
    pick = np.sort(np.random.RandomState(seed).choice(len(smiles), count, replace=False))
    chosen = [smiles[i] for i in pick]
    log = SkipLog(keep=20)
    procs = processes or os.cpu_count() or 1
    mols = conformers(chosen, seed, processes=procs, log=log, names=chosen, progress=progress)
    write_sdf(mols, folder / f"{split}.sdf")
    if log.count:
        print(f"moses3d {split}: {log.summary()}", file=sys.stderr)
    info = {"requested": count, "embedded": len(mols), "skipped": log.count}
    return info | {"skipped_examples": log.reasons[:20]}, mols


def prepare_moses3d(
    out_dir: Path | None = None,
    n: int = 1000,
    seed: int = 0,
    processes: int | None = None,
    progress: bool = True,
    **_,
) -> Path:
    """Build (or find in the cache) the embedded subsets; with ``out_dir``, copy them there."""
    from .data import atom_types_of

    if n < 1:
        raise DomainError(f"moses3d: --n must be at least 1, got {n}")
    folder = moses3d_dir(n, seed)
    if read_meta(folder) is None:
        meta: dict = {"format": FORMAT, "n": n, "seed": seed, "rdkit": rdkit.__version__}
        with atomic_dir(folder) as tmp:
            for split, count in split_sizes(n).items():
                meta[split], mols = _embed_split(split, count, seed, processes, progress, tmp)
                if split == "train":
                    meta["elements"] = atom_types_of(mols)
            (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    if out_dir is None:
        return folder
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name in (*[f"{s}.sdf" for s in SPLITS], "meta.json"):
        shutil.copy(folder / name, out_dir / name)
    return out_dir

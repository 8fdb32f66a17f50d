"""SMILES -> 3D conformers with RDKit (ETKDGv3 + MMFF94), seeded, parallel, cached on disk.

The cache is an SDF (plus a JSON list of failures) named by a hash of the SMILES list, the
seed and the RDKit version, under ``$MULTIGEN_CACHE`` (default ``~/.cache/multigen``).
"""

from __future__ import annotations

import hashlib
import json
import os
from multiprocessing import get_context
from pathlib import Path

import rdkit
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem

from .io import SkipLog, read_sdf
from .mol import Molecule
from .progress import progress_bar


def cache_dir() -> Path:
    root = os.environ.get("MULTIGEN_CACHE") or Path.home() / ".cache" / "multigen"
    path = Path(root) / "molecules"
    path.mkdir(parents=True, exist_ok=True)
    return path


def embed_smiles(smiles: str, seed: int = 0, mmff: bool = True) -> Chem.Mol | str:
    """One conformer with explicit hydrogens; returns the Mol or a reason string on failure."""
    RDLogger.DisableLog("rdApp.*")
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        return "unparsable SMILES"
    mol = Chem.AddHs(mol)
    params = AllChem.ETKDGv3()
    params.randomSeed = int(seed)
    if AllChem.EmbedMolecule(mol, params) != 0:
        params.useRandomCoords = True  # the documented fallback for hard cases
        if AllChem.EmbedMolecule(mol, params) != 0:
            return "conformer embedding failed"
    if mmff and AllChem.MMFFHasAllMoleculeParams(mol):
        AllChem.MMFFOptimizeMolecule(mol, maxIters=1000)
    return mol


def _embed_job(args: tuple[int, str, int, bool]) -> tuple[int, str | None, str | None]:
    k, smi, seed, mmff = args  # module-level so the pool can pickle it
    out = embed_smiles(smi, seed + k, mmff)
    if isinstance(out, str):
        return k, None, out
    return k, Chem.MolToMolBlock(out), None


def conformers(
    smiles: list[str],
    seed: int = 0,
    mmff: bool = True,
    processes: int | None = None,
    log: SkipLog | None = None,
    names: list[str] | None = None,
    progress: bool = False,
) -> list[Molecule]:
    """3D molecules for a SMILES list (cached). Failures go to ``log`` with their SMILES."""
    log = log or SkipLog()
    names = names or [f"mol_{k}" for k in range(len(smiles))]
    key = hashlib.sha256(json.dumps([smiles, seed, mmff, rdkit.__version__]).encode()).hexdigest()[
        :20
    ]
    sdf, fails = cache_dir() / f"conf_{key}.sdf", cache_dir() / f"conf_{key}.failed.json"
    if not (sdf.exists() and fails.exists()):
        jobs = [(k, s, seed, mmff) for k, s in enumerate(smiles)]
        procs = processes if processes is not None else min(4, os.cpu_count() or 1)
        with progress_bar("conformers (ETKDG + MMFF)", len(jobs), progress, every=16) as advance:
            if procs > 1 and len(jobs) > 50:
                with get_context("fork").Pool(procs) as pool:
                    results = []
                    for r in pool.imap(_embed_job, jobs, chunksize=16):
                        results.append(r)
                        advance()
            else:
                results = []
                for j in jobs:
                    results.append(_embed_job(j))
                    advance()
        failed = {k: why for k, _, why in results if why}
        tmp = sdf.with_suffix(".tmp")
        with tmp.open("w") as fh:
            for k, block, _ in results:
                if block is not None:
                    fh.write(f"{names[k]}{block[block.index(chr(10)) :]}\n$$$$\n")
        tmp_fails = fails.with_suffix(".tmp")
        tmp_fails.write_text(json.dumps({str(k): v for k, v in failed.items()}))
        tmp.replace(sdf)
        tmp_fails.replace(fails)
    failed = {int(k): v for k, v in json.loads(fails.read_text()).items()}
    for k, why in sorted(failed.items()):
        log.skip(f"SMILES {smiles[k]!r} ({names[k]})", why)
    return read_sdf(sdf)

"""Torch datasets of molecules and the dataset factories the domain registers."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rdkit import Chem, RDLogger

from multigen.domain import DomainError
from multigen.splits import FRACTIONS, describe_split, seeded_split

from .conformers import cache_dir, conformers
from .constants import QM9_PROPERTIES, RDKIT_PROPERTIES
from .io import SkipLog, read_sdf, read_smiles, read_xyz
from .mol import Molecule
from .qm9 import qm9_molecules
from .state import encode

SPLITS = ("train", "valid", "test", "all")


class MoleculeDataset(torch.utils.data.Dataset):
    """Molecules encoded as state rows ``[n_i, 3 + K + 1]`` (+ a property vector when asked).

    ``atom_types`` fixes the one-hot order (element symbols); ``properties`` names the
    conditioning targets, normalised with ``prop_stats`` ({name: [mean, std]}).
    """

    def __init__(
        self,
        mols: list[Molecule],
        atom_types: list[str],
        properties: tuple[str, ...] = (),
        prop_stats: dict[str, list[float]] | None = None,
        log: SkipLog | None = None,
        source: str = "",
    ):
        self.atom_types = list(atom_types)
        self.properties = tuple(properties)
        self.log = log or SkipLog()
        self.source = source
        self.notes: list[str] = []  # how the data was read (the split made), for the run log
        index = {s: k for k, s in enumerate(self.atom_types)}
        self.mols: list[Molecule] = []
        for m in mols:
            unknown = sorted(set(m.symbols) - set(index))
            if unknown:
                self.log.skip(
                    m.name or source, f"element(s) {unknown} not in atom_types {atom_types}"
                )
                continue
            missing = [p for p in self.properties if p not in m.props]
            if missing:
                self.log.skip(m.name or source, f"property {missing} missing")
                continue
            self.mols.append(m)
        if not self.mols:
            raise DomainError(f"{source}: no usable molecules ({self.log.summary()})")
        self.types = [np.array([index[s] for s in m.symbols]) for m in self.mols]
        self.prop_stats = prop_stats or property_stats(self.mols, self.properties)

    @property
    def skipped(self) -> list[str]:
        """``"record: reason"`` for every record dropped while reading (Domain.skipped_files)."""
        return self.log.reasons

    def __len__(self) -> int:
        return len(self.mols)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        m = self.mols[k]
        x = encode(m.positions, self.types[k], m.charges, len(self.atom_types))
        if not self.properties:
            return x, None
        raw = torch.tensor([m.props[p] for p in self.properties], dtype=torch.float32)
        mean = torch.tensor([self.prop_stats[p][0] for p in self.properties])
        std = torch.tensor([self.prop_stats[p][1] for p in self.properties])
        return x, (raw - mean) / std


def property_stats(mols: list[Molecule], names: tuple[str, ...]) -> dict[str, list[float]]:
    out = {}
    for p in names:
        v = np.array([m.props[p] for m in mols], dtype=np.float64)
        out[p] = [float(v.mean()), float(v.std() + 1e-8)]
    return out


def add_rdkit_properties(mols: list[Molecule]) -> None:
    """QED, Crippen logP and molecular weight from each molecule's own bonds (in place)."""
    from rdkit.Chem import QED, Crippen, Descriptors

    RDLogger.DisableLog("rdApp.*")
    for m in mols:
        if all(p in m.props for p in RDKIT_PROPERTIES):
            continue
        try:
            rd = Chem.RemoveHs(m.to_rdkit(sanitize=True))
        except Exception:  # noqa: BLE001 - RDKit raises several error types
            continue
        m.props.update(
            qed=float(QED.qed(rd)), logp=float(Crippen.MolLogP(rd)), mw=float(Descriptors.MolWt(rd))
        )


def split_indices(n: int, split: str, seed: int = 0, fractions=FRACTIONS) -> np.ndarray:
    """A fixed random split (seeded) of ``n`` items: train/valid/test or all (the engine's
    one split for data that comes without one; audio folders use it too)."""
    return seeded_split(n, split, seed, fractions)


def atom_types_of(mols: list[Molecule]) -> list[str]:
    """Element symbols present, ordered by atomic number (H first, as in EDM)."""
    table = Chem.GetPeriodicTable()
    return sorted({s for m in mols for s in m.symbols}, key=table.GetAtomicNumber)


def _finish(
    mols: list[Molecule],
    split: str,
    log: SkipLog,
    source: str,
    atom_types: list[str] | None = None,
    properties: list[str] | tuple[str, ...] = (),
    seed: int = 0,
    presplit: bool = False,
    max_atoms: int | None = None,
) -> MoleculeDataset:
    """Common tail of every factory: property computation, atom types, split, encoding."""
    if not mols:
        raise DomainError(f"{source}: no molecules could be read ({log.summary()})")
    properties = tuple(properties or ())
    unknown = [p for p in properties if p not in RDKIT_PROPERTIES + QM9_PROPERTIES]
    if unknown:
        raise DomainError(
            f"unknown properties {unknown}; choose from {RDKIT_PROPERTIES + QM9_PROPERTIES}"
        )
    if any(p in RDKIT_PROPERTIES for p in properties):
        add_rdkit_properties(mols)
    if max_atoms:
        big = [m for m in mols if m.num_atoms > max_atoms]
        for m in big:
            log.skip(m.name or source, f"{m.num_atoms} atoms > max_atoms={max_atoms}")
        mols = [m for m in mols if m.num_atoms <= max_atoms]
    types = list(atom_types) if atom_types else atom_types_of(mols)
    if presplit:
        train_mols = mols
        chosen = mols
    else:
        train_mols = [mols[i] for i in split_indices(len(mols), "train", seed)]
        chosen = [mols[i] for i in split_indices(len(mols), split, seed)]
    # Property statistics come from the training part only, whatever split is requested.
    usable = [m for m in train_mols if all(p in m.props for p in properties)]
    stats = property_stats(usable, properties) if properties and usable else None
    ds = MoleculeDataset(chosen, types, properties, stats, log, source)
    if not presplit:
        ds.notes.append(
            f"{source}: split {split!r} = {len(chosen)} molecules of "
            + describe_split(len(mols), seed)
        )
    return ds


# ---- factories (path, split, **params) ----------------------------------------------------


def sdf_dataset(path: Path, split: str = "train", strict: bool = False, **params: Any):
    log = SkipLog(strict=strict)
    return _finish(read_sdf(path, log), split, log, str(path), **params)


def xyz_dataset(path: Path, split: str = "train", strict: bool = False, **params: Any):
    log = SkipLog(strict=strict)
    if any(p in RDKIT_PROPERTIES for p in params.get("properties", ()) or ()):
        raise DomainError(f"{path}: XYZ files have no bonds; RDKit properties need SDF or SMILES")
    return _finish(read_xyz(path, log), split, log, str(path), **params)


def smiles_dataset(
    path: Path,
    split: str = "train",
    strict: bool = False,
    smiles_column: str | None = None,
    conformer_seed: int = 0,
    processes: int | None = None,
    **params: Any,
):
    log = SkipLog(strict=strict)
    smiles = read_smiles(path, smiles_column, log)
    mols = conformers(smiles, seed=conformer_seed, processes=processes, log=log)
    return _finish(mols, split, log, str(path), **params)


def qm9_dataset(
    path: Path | None = None,
    split: str = "train",
    strict: bool = False,
    progress: bool = True,
    half: str | None = None,
    **params: Any,
):
    """QM9 with H, EDM's split: the installed qm9pack wheel, or ``path`` (raw or qm9pack
    folder). ``half`` ('a' or 'b') trains on one half of the training split (EDM's
    conditional protocol: the property predictor learns from the other half)."""
    if half is not None:
        if half not in ("a", "b"):
            raise DomainError(f"qm9: data.params.half must be 'a' or 'b', got {half!r}")
        split = f"train_{half}" if split == "train" else split
    log = SkipLog(strict=strict)
    mols = qm9_molecules(path, split, log, progress=progress)
    params.setdefault("atom_types", ["H", "C", "N", "O", "F"])
    return _finish(mols, split, log, str(path or "qm9"), presplit=True, **params)


def prepare_qm9(out_dir: Path | None = None, **_: Any) -> Path:
    """Parse the installed qm9pack CSVs into the cache (instant when it is already valid);
    with ``out_dir``, also write each split as an SDF there (atoms and 3D geometry, no
    bonds, properties in EDM's units as SDF fields)."""
    from .io import write_sdf
    from .qm9_cache import cache_path, load_table
    from .qm9_pack import pack_dir

    folder = pack_dir()
    table = load_table(folder)
    if out_dir is None:
        return cache_path(folder)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    from .qm9 import qm9_split_indices

    for split in ("train", "valid", "test"):
        target = out_dir / f"qm9_{split}.sdf"
        tmp = out_dir / f".qm9_{split}.sdf.tmp"
        write_sdf([table.molecule(int(k)) for k in qm9_split_indices(len(table), split)], tmp)
        tmp.replace(target)
    return out_dir


def moses3d_dataset(
    path: Path | None = None,
    split: str = "train",
    strict: bool = False,
    n: int = 1000,
    seed: int = 0,
    **params: Any,
):
    """Drug-like 3D molecules (MOSES subsets embedded by ``moses3d.prepare_moses3d``): from
    the cache for (n, seed), or ``path`` = a folder that ``data prepare moses3d --out`` wrote.
    The one-hot vocabulary is the training subset's elements unless ``atom_types`` is set."""
    from .moses3d import SPLITS, prepare_moses3d, read_meta

    if split not in SPLITS:
        raise DomainError(f"moses3d split {split!r} unknown; use one of {', '.join(SPLITS)}")
    folder = Path(path) if path is not None else prepare_moses3d(n=n, seed=seed)
    meta = read_meta(folder)
    if meta is None:
        raise DomainError(f"{folder}: not a complete moses3d folder (meta.json and 3 SDFs)")
    log = SkipLog(strict=strict)
    mols = read_sdf(folder / f"{split}.sdf", log)
    params.setdefault("atom_types", meta["elements"])
    return _finish(mols, split, log, f"moses3d:{split}", presplit=True, **params)


# ---- the embedded QM9-like set ------------------------------------------------------------

EMBEDDED_ELEMENTS = {"C", "H", "O", "N", "F"}
EMBEDDED_FILE = "embedded_qm9like_v1.sdf"


def nci_smiles_path() -> Path:
    import rdkit

    return Path(rdkit.__file__).parent / "Data" / "NCI" / "first_5K.smi"


def select_qm9_like(smiles: list[str], max_heavy: int = 9) -> list[str]:
    """Single-fragment CHONF molecules with ≤ ``max_heavy`` heavy atoms, deduplicated."""
    RDLogger.DisableLog("rdApp.*")
    seen: dict[str, None] = {}
    for s in smiles:
        mol = Chem.MolFromSmiles(s)
        if mol is None or len(Chem.GetMolFrags(mol)) > 1:
            continue
        if mol.GetNumHeavyAtoms() > max_heavy:
            continue
        if {a.GetSymbol() for a in mol.GetAtoms()} - EMBEDDED_ELEMENTS:
            continue
        seen.setdefault(Chem.MolToSmiles(mol), None)
    return list(seen)


def prepare_embedded(out_dir: Path | None = None, processes: int | None = None, **_: Any) -> Path:
    """Build the embedded set (RDKit ETKDG + MMFF conformers, seed 0) as an SDF; cached."""
    target = cache_dir() / EMBEDDED_FILE
    if not target.exists():
        smiles = select_qm9_like(read_smiles(nci_smiles_path()))
        log = SkipLog()
        mols = conformers(smiles, seed=0, processes=processes, log=log, names=smiles)
        from .io import write_sdf

        tmp = target.with_suffix(".tmp.sdf")
        write_sdf(mols, tmp)
        tmp.replace(target)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(target, out_dir / EMBEDDED_FILE)
        return out_dir
    return target.parent


def embedded_dataset(
    path: Path | None = None, split: str = "train", strict: bool = False, **params: Any
):
    folder = Path(path) if path is not None else prepare_embedded()
    file = folder / EMBEDDED_FILE if folder.is_dir() else folder
    log = SkipLog(strict=strict)
    return _finish(read_sdf(file, log), split, log, "embedded", **params)


def count_histogram(ds: MoleculeDataset) -> dict[str, float]:
    c = Counter(m.num_atoms for m in ds.mols)
    total = sum(c.values())
    return {str(k): v / total for k, v in sorted(c.items())}

"""The molecule domain adapter: data, state space, networks, decoding, export, metrics."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rdkit import Chem
from torch import Tensor

from multigen.domain import Batch, DatasetSpec, Domain, DomainError, NetworkSpec

from . import data, moses3d
from .bonds import infer_bonds
from .evaluate import ReferenceStats, evaluate_molecules
from .io import (
    MoleculeList,
    SkipLog,
    read_sdf,
    read_smiles,
    read_xyz,
    write_png_grid,
    write_sdf,
    write_smiles_csv,
    write_xyz,
)
from .metrics.chem import to_smiles
from .mol import Molecule
from .state import count_mask, decode, pad, project, sample_counts, subspace_noise

_PT = Chem.GetPeriodicTable()


def _networks() -> dict[str, NetworkSpec]:
    from .networks import registry

    return registry()


class MoleculeDomain(Domain):
    eval_options = {
        "bonds": "table (EDM's distance table, default), rdkit, or file (bonds as written)",
        "fcd": "Fréchet ChemNet Distance on/off (default true)",
        "strain": "MMFF strain statistics on/off (default true)",
        "strain_limit": "molecules whose strain is computed (default 200)",
        "predictor_steps": "EDM's property-predictor MAE: training steps (default 0 = off)",
        "k": "MOSES suite: unique@k sizes (default [1000, 10000])",
        "properties": "MOSES suite: property distances on/off (default true)",
    }

    # Shares over molecules (validity, stability, …) are binomial: ±0.09 at N = 30. FCD
    # fits 512-dimensional ChemNet features (singular below 513); distribution distances
    # (W1, TV) need the default 100.
    min_samples = {
        "validity*": 30, "uniqueness*": 30, "novelty*": 30, "connected*": 30,
        "atom_stability*": 30, "mol_stability*": 30, "*_mean": 30, "cond_mae_*": 30,
        "strain*": 30, "fcd": 513,
    }  # fmt: skip

    def __init__(self) -> None:
        super().__init__(
            name="molecules",
            default_dataset="embedded",
            datasets={
                "embedded": DatasetSpec(
                    "embedded",
                    "QM9-like CHONF molecules (≤9 heavy atoms, with H) from RDKit's NCI "
                    "first_5K.smi, conformers by ETKDG+MMFF (built and cached on first use)",
                    data.embedded_dataset,
                    prepare=data.prepare_embedded,
                ),
                "sdf": DatasetSpec(
                    "sdf", "SDF/MOL file or folder with 3D coordinates", data.sdf_dataset, True
                ),
                "xyz": DatasetSpec("xyz", "XYZ file or folder (no bonds)", data.xyz_dataset, True),
                "smiles": DatasetSpec(
                    "smiles",
                    "SMILES .smi/.csv -> RDKit ETKDG+MMFF conformers (cached)",
                    data.smiles_dataset,
                    True,
                ),
                "qm9": DatasetSpec(
                    "qm9",
                    "QM9 with H, 130,831 molecules, EDM's 100,000/17,748/13,083 split, "
                    "properties in EDM's units: from the qm9pack wheel (pip install "
                    "'multigen[qm9]'; cached) or data.path = a raw folder (gdb9.sdf, "
                    "gdb9.sdf.csv, uncharacterized.txt)",
                    data.qm9_dataset,
                    prepare=data.prepare_qm9,
                ),
                "moses3d": DatasetSpec(
                    "moses3d",
                    "drug-like 3D set: seeded MOSES subsets (n train, n/10 per test set) "
                    "embedded with ETKDG + MMFF, with H (data.params: n, seed; molsets wheel)",
                    data.moses3d_dataset,
                    prepare=moses3d.prepare_moses3d,
                ),
            },
            networks=_networks(),
        )
        self._ref_cache: dict[int, ReferenceStats] = {}

    # ---- data ---------------------------------------------------------------------------
    def load_dataset(self, name, path=None, split="train", **params):
        """``data.params.graph: true`` adds the molecular graph (types, charges, Kekulé bond
        orders) to every item: the joint state of ``method: joint_flow`` (see joint.py)."""
        graph = params.pop("graph", False)
        ds = super().load_dataset(name, path, split, **params)
        if not graph:
            return ds
        from .joint import GraphMoleculeDataset

        return GraphMoleculeDataset.of(ds)

    def collate(self, items: Sequence[Any]) -> Batch:
        if len(items[0]) == 3:  # items with their graph (data.params.graph)
            from .joint import collate_graphs

            return collate_graphs(items)
        xs, conds = zip(*items)
        x, mask = pad(list(xs))
        cond = None if conds[0] is None else torch.stack(list(conds))
        return Batch(x, mask.float(), cond)

    def describe(self, dataset) -> dict[str, Any]:
        if not isinstance(dataset, data.MoleculeDataset):
            raise DomainError("molecules: describe() expects a dataset built by this domain")
        from .joint import GraphMoleculeDataset, describe_graphs

        if isinstance(dataset, GraphMoleculeDataset):
            return {
                "num_classes": 0,
                "cond_dim": len(dataset.properties),
                "properties": list(dataset.properties),
                "prop_stats": dataset.prop_stats,
                "num_molecules": len(dataset),
                "cond_pool": _cond_pool(dataset),
                **describe_graphs(dataset),
            }
        rows = [dataset[k][0] for k in range(len(dataset))]
        allx = torch.cat(rows)
        n_max = max(r.shape[0] for r in rows)
        return {
            "shape": [n_max, int(allx.shape[-1])],
            "num_classes": 0,
            "cond_dim": len(dataset.properties),
            "sigma_data": float(allx.std()),
            "atom_types": dataset.atom_types,
            "n_nodes_hist": data.count_histogram(dataset),
            "properties": list(dataset.properties),
            "prop_stats": dataset.prop_stats,
            "num_molecules": len(dataset),
            "position_std": float(allx[:, :3].std()),
            # (atom count, normalised properties) pairs of training molecules: conditional
            # sampling draws counts and property targets jointly from these (as EDM does).
            "cond_pool": _cond_pool(dataset),
        }

    # ---- state space ------------------------------------------------------------------------
    def noise(self, batch: Batch, generators: Sequence[torch.Generator]) -> Tensor:
        mask = self._mask(batch)
        return subspace_noise(batch.x.shape[1:], mask, generators).to(batch.x.dtype)

    def project(self, x: Tensor, batch: Batch) -> Tensor:
        """Onto the zero-CoM subspace with zero padding (for samplers/engines that want it)."""
        return project(x, self._mask(batch))

    def align(self, batch: Batch, noise: Tensor) -> Tensor:
        """OT pairing hook for flow matching: permute + rotate each molecule's noise onto it."""
        from .align import align_batch

        return align_batch(batch.x, noise, self._mask(batch))

    def check_condition(self, cond: Tensor, info: dict[str, Any]) -> None:
        if not cond.is_floating_point():
            return  # atom counts suit any model (their range is checked by template)
        super().check_condition(cond, info)

    def template(self, info, n, generator, cond=None, device="cpu") -> Batch:
        """Atom counts (and property targets) for ``n`` samples.

        ``cond`` may hold property targets (floats, property-conditioned models) or atom
        counts (integers, any model: ``multigen sample RUN --cond 12``); without it, counts
        (and targets) are drawn from the training data.
        """
        n_max, feat = info["shape"]
        pool = info.get("cond_pool") or []
        if cond is not None and not cond.dtype.is_floating_point:
            counts, cond = self._requested_counts(cond.reshape(-1), n_max, pool, generator)
        elif pool and cond is None:
            idx = torch.randint(len(pool), (n,), generator=generator)
            counts = torch.tensor([int(pool[i][0]) for i in idx])
            cond = torch.tensor([pool[i][1:] for i in idx], dtype=torch.float32)
        elif pool and cond.dtype.is_floating_point and not torch.isnan(cond).any():
            # Requested properties: the atom count of the nearest training molecule.
            table = torch.tensor([p[1:] for p in pool], dtype=torch.float32)
            nearest = torch.cdist(cond.float().reshape(n, -1), table).argmin(1)
            counts = torch.tensor([int(pool[i][0]) for i in nearest])
        else:
            counts = sample_counts(info["n_nodes_hist"], n, generator)
        mask = count_mask(counts, n_max).float()
        x = torch.zeros(n, n_max, feat)
        return Batch(x.to(device), mask.to(device), None if cond is None else cond.to(device))

    @staticmethod
    def _requested_counts(counts: Tensor, n_max: int, pool, generator):
        """Requested atom counts; a property model gets targets of training molecules of
        that size (EDM samples properties given the atom count the same way)."""
        bad = counts[(counts < 1) | (counts > n_max)]
        if len(bad):
            raise DomainError(
                f"atom count {int(bad[0])} is outside what this model was trained on (1..{n_max})"
            )
        if not pool:
            return counts.long(), None
        sizes = torch.tensor([int(p[0]) for p in pool])
        rows = []
        for c in counts.tolist():
            # the nearest size present in the training data, then one of its molecules
            near = (sizes - c).abs()
            idx = torch.nonzero(near == near.min()).reshape(-1)
            pick = idx[torch.randint(len(idx), (1,), generator=generator)]
            rows.append(pool[int(pick)][1:])
        return counts.long(), torch.tensor(rows, dtype=torch.float32)

    @staticmethod
    def _mask(batch: Batch) -> Tensor:
        if batch.mask is None:
            return torch.ones(batch.x.shape[:2], dtype=torch.bool, device=batch.x.device)
        return batch.mask.bool()

    # ---- outputs ------------------------------------------------------------------------------
    def decode(self, batch: Batch, info: dict[str, Any], bonds: str = "table") -> list[Molecule]:
        if info.get("parts"):  # a joint state: the generated bonds and charges (joint.py)
            from .joint import decode_graphs

            return decode_graphs(batch, info)
        types_list = info["atom_types"]
        pos, types, charges = decode(batch.x.detach().float().cpu(), len(types_list))
        mask = self._mask(batch).cpu()
        props = info.get("properties") or []
        stats = info.get("prop_stats") or {}
        out = []
        for b in range(pos.shape[0]):
            keep = mask[b]
            symbols = [types_list[t] for t in types[b][keep].tolist()]
            # A cation cannot lose more electrons than it has (RDKit asserts on H2+).
            z = np.array([_PT.GetAtomicNumber(s) for s in symbols], dtype=np.int64)
            mol = Molecule(
                symbols,
                pos[b][keep].numpy().astype(np.float64),
                np.minimum(charges[b][keep].numpy(), z),
                name=f"sample_{b}",
            )
            if batch.cond is not None and props and batch.cond.dtype.is_floating_point:
                c = batch.cond[b].float().cpu()
                if not torch.isnan(c).any():
                    for k, p in enumerate(props):
                        mol.props[f"target_{p}"] = float(c[k]) * stats[p][1] + stats[p][0]
            out.append(infer_bonds(mol, bonds))
        return out

    def export(self, samples: list[Molecule], out_dir: Path) -> list[Path]:
        out_dir = Path(out_dir)
        smiles = [to_smiles(m) for m in samples]
        names = [m.name or f"sample_{k}" for k, m in enumerate(samples)]
        return [
            write_sdf(samples, out_dir / "samples.sdf"),
            write_xyz(samples, out_dir / "samples.xyz"),
            write_smiles_csv(names, smiles, out_dir / "samples_smiles.csv"),
            write_png_grid(smiles, out_dir / "samples_grid.png"),
        ]

    def load_samples(self, path: Path, strict: bool = False) -> list[Molecule]:
        path = Path(path)
        log = SkipLog(strict=strict)
        if path.is_dir():
            sdf = sorted(path.glob("*.sdf")) + sorted(path.glob("*.mol"))
            if sdf:
                mols = [m for f in sdf for m in read_sdf(f, log)]
            elif list(path.glob("*.xyz")):
                mols = read_xyz(path, log)
            else:
                raise DomainError(f"{path}: no .sdf/.mol/.xyz files to score")
        elif path.suffix.lower() in (".sdf", ".mol", ".sd"):
            mols = read_sdf(path, log)
        elif path.suffix.lower() == ".xyz":
            mols = read_xyz(path, log)
        elif path.suffix.lower() in (".smi", ".smiles", ".txt", ".csv"):
            # 2D SMILES for the MOSES suite: kept as written (invalid ones count as such)
            out = MoleculeList(read_smiles(path))
            out.skipped = []
            return out
        else:
            raise DomainError(
                f"{path}: unsupported sample file; use .sdf, .mol, .xyz or SMILES (.smi, .csv)"
            )
        if not mols:
            raise DomainError(f"{path}: no molecules could be read ({log.summary()})")
        if log.count:
            warnings.warn(f"{path}: {log.summary()}", stacklevel=2)
        out = MoleculeList(mols)
        out.skipped = log.reasons
        return out

    def reference(self, spec: str, n: int | None = None, strict: bool = False) -> list[Molecule]:
        name, _, split = str(spec).partition(":")
        if name == "moses":  # MOSES's statistics and train SMILES (molsets wheel)
            from .evaluate_moses import moses_reference_for

            return moses_reference_for(split)
        if name in self.datasets and not self.datasets[name].needs_path:
            mols = self.load_dataset(name, split=split or "all").mols
        elif Path(name).exists():
            if (Path(name) / "gdb9.sdf").exists():  # a raw QM9 folder: EDM's split
                mols = data.qm9_dataset(Path(name), split or "test").mols
            else:
                mols = self.load_samples(Path(name), strict)
        else:
            raise DomainError(
                f"reference {spec!r}: not a dataset name ({', '.join(self.datasets)}) "
                "or an existing path"
            )
        return mols[:n] if n else mols

    def evaluate(self, samples, reference, **options) -> dict[str, float]:
        self.check_options(options)
        if isinstance(samples, str | Path):
            samples = self.load_samples(Path(samples))
        if isinstance(reference, str | Path):
            reference = self.reference(str(reference))
        from .evaluate_moses import evaluate_moses, is_smiles_list
        from .moses_suite import MosesReference

        if isinstance(reference, MosesReference) or is_smiles_list(samples):
            return evaluate_moses(samples, reference, **options)
        ref = None
        if reference is not None:
            key = id(reference)
            if key not in self._ref_cache:
                self._ref_cache = {key: ReferenceStats(reference, options.get("bonds", "table"))}
            ref = self._ref_cache[key]
        return evaluate_molecules(list(samples), ref, **options)


def _cond_pool(dataset, limit: int = 2000) -> list[list[float]]:
    if not dataset.properties:
        return []
    rows = []
    for k in range(min(len(dataset), limit)):
        x, c = dataset[k][:2]
        rows.append([float(x.shape[0]), *map(float, c.tolist())])
    return rows


def get_domain() -> MoleculeDomain:
    return MoleculeDomain()

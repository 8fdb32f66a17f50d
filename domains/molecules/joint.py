"""Molecules as joint states for ``method: joint_flow``: coordinates plus categorical atom
types, formal charges and bond orders (``data.params.graph: true``).

The state is a :class:`~multigen.parts.PartsBatch`: ``x`` = centred positions (Å) ``[B, N, 3]``;
parts ``types`` ``[B, N]`` (index into ``atom_types``), ``charges`` ``[B, N]`` (index into
``charge_values``) and ``bonds`` ``[B, N, N]`` (index into ``bond_orders``, Kekulé: none,
single, double, triple). Molecules without bonds in their file (XYZ, QM9 from qm9pack) get
RDKit's bond perception (rdDetermineBonds, total charge 0); aromatic bonds are kekulized.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import torch
from rdkit import RDLogger

from multigen.diffusion.discrete import marginal_prior
from multigen.domain import Batch, DomainError
from multigen.parts import PartsBatch

from .bonds import infer_bonds_rdkit
from .data import MoleculeDataset, count_histogram
from .metrics.bonded import bonded_smiles
from .mol import Molecule, kekulized
from .state import pad, remove_mean

BOND_ORDERS = (0, 1, 2, 3)  # Kekulé bond orders; index = class
PART_NAMES = ("types", "charges", "bonds")


def with_graph(mol: Molecule) -> Molecule:
    """``mol`` itself when it has bonds; else with RDKit's perceived bonds *and* the formal
    charges that go with them (a zwitterion read from XYZ gets its N+/O-), props kept."""
    if mol.bonds is not None:
        return mol
    out = infer_bonds_rdkit(mol, charge=0)
    return Molecule(mol.symbols, mol.positions, out.charges, out.bonds, dict(mol.props), mol.name)


def kekule_bonds(mol: Molecule) -> np.ndarray | None:
    """``[n, n]`` Kekulé bond orders of ``mol`` (its own bonds, else RDKit's perception);
    None when they cannot be had (the molecule is then skipped with its reason)."""
    mol = with_graph(mol)
    bonds = np.asarray(mol.bonds, dtype=np.int64).reshape(-1, 3)
    if (bonds[:, 2] == 4).any():
        RDLogger.DisableLog("rdApp.*")
        rd = kekulized(mol.to_rdkit())
        if any(b.GetIsAromatic() for b in rd.GetBonds()):
            return None
        bonds = Molecule.from_rdkit(rd).bonds
    out = np.zeros((mol.num_atoms, mol.num_atoms), dtype=np.int64)
    for i, j, order in bonds:
        if order not in BOND_ORDERS:
            return None
        out[i, j] = out[j, i] = order
    return out


class GraphMoleculeDataset(MoleculeDataset):
    """A :class:`MoleculeDataset` whose items also carry the molecular graph:
    ``(positions [n, 3], cond, (types [n], charge classes [n], bond classes [n, n]))``."""

    @classmethod
    def of(cls, base: MoleculeDataset) -> GraphMoleculeDataset:
        ds = cls.__new__(cls)
        ds.__dict__.update(base.__dict__)
        ds.mols, ds.types, ds.bonds = [], [], []
        perceived = 0
        for m, ty in zip(base.mols, base.types):
            graph = with_graph(m)
            if m.bonds is None and bonded_smiles(graph) is None:  # perception fell back
                ds.log.skip(m.name or base.source, "RDKit could not perceive its bond orders")
                continue
            bonds = kekule_bonds(graph)
            if bonds is None:
                ds.log.skip(m.name or base.source, "bonds not representable in Kekulé orders")
                continue
            perceived += m.bonds is None
            ds.mols.append(graph)
            ds.types.append(ty)
            ds.bonds.append(bonds)
        if not ds.mols:
            raise DomainError(f"{base.source}: no molecule has usable bonds ({ds.log.summary()})")
        if perceived:
            ds.notes.append(
                f"{base.source}: {perceived} molecules without bonds in the data got RDKit's "
                "bond perception (rdDetermineBonds, neutral total charge)"
            )
        # -1, 0, +1 always: one vocabulary for data sets that happen to lack a charge
        ds.charge_values = sorted({-1, 0, 1, *(int(q) for m in ds.mols for q in m.charges)})
        return ds

    def __getitem__(self, k: int):
        x, cond = super().__getitem__(k)
        q_index = {q: i for i, q in enumerate(self.charge_values)}
        charges = torch.tensor([q_index[int(q)] for q in self.mols[k].charges])
        graph = (torch.as_tensor(self.types[k]), charges, torch.as_tensor(self.bonds[k]))
        return x[:, :3], cond, graph


def collate_graphs(items) -> PartsBatch:
    xs, conds, graphs = zip(*items)
    x, mask = pad(list(xs))
    n = x.shape[1]
    types = torch.zeros(len(xs), n, dtype=torch.long)
    charges = torch.zeros(len(xs), n, dtype=torch.long)
    bonds = torch.zeros(len(xs), n, n, dtype=torch.long)
    for b, (ty, q, bo) in enumerate(graphs):
        k = len(ty)
        types[b, :k], charges[b, :k], bonds[b, :k, :k] = ty, q, bo
    cond = None if conds[0] is None else torch.stack(list(conds))
    parts = {"types": types, "charges": charges, "bonds": bonds}
    return PartsBatch(x, mask.float(), cond, parts)


def describe_graphs(ds: GraphMoleculeDataset) -> dict[str, Any]:
    """The joint state's shape and each part's marginal prior (what sampling starts from)."""
    K, Q = len(ds.atom_types), len(ds.charge_values)
    types = torch.bincount(torch.as_tensor(np.concatenate(ds.types)), minlength=K)
    q_index = {q: i for i, q in enumerate(ds.charge_values)}
    charge_counts = Counter(q_index[int(q)] for m in ds.mols for q in m.charges)
    charges = torch.tensor([charge_counts.get(i, 0) for i in range(Q)])
    bonds = torch.zeros(len(BOND_ORDERS), dtype=torch.long)
    for b in ds.bonds:
        iu = np.triu_indices(len(b), k=1)
        bonds += torch.bincount(torch.as_tensor(b[iu]), minlength=len(BOND_ORDERS))
    pos = torch.cat(
        [torch.as_tensor(m.positions) - torch.as_tensor(m.positions).mean(0) for m in ds.mols]
    )
    return {
        "shape": [max(m.num_atoms for m in ds.mols), 3],
        "sigma_data": float(pos.std()),
        "atom_types": list(ds.atom_types),
        "charge_values": list(ds.charge_values),
        "bond_orders": list(BOND_ORDERS),
        "parts": {
            "types": {"prior": list(marginal_prior(types))},
            "charges": {"prior": list(marginal_prior(charges))},
            "bonds": {"prior": list(marginal_prior(bonds)), "pairwise": True},
        },
        "n_nodes_hist": count_histogram(ds),
    }


def check_vocabulary(info) -> None:
    """Refuse a description whose vocabularies disagree with its parts (one line each)."""
    parts = info.get("parts") or {}
    missing = [p for p in PART_NAMES if p not in parts]
    if missing:
        raise ValueError(
            f"the joint molecule state needs parts {list(PART_NAMES)}, missing {missing}"
        )
    checks = [
        ("bond vocabulary", "bond_orders", "bonds"),
        ("atom-type vocabulary", "atom_types", "types"),
        ("charge vocabulary", "charge_values", "charges"),
    ]
    for what, key, part in checks:
        vocab = list(info.get(key) or [])
        if len(vocab) != len(parts[part]["prior"]):
            raise ValueError(
                f"{what} {key}={vocab} does not match the {part} part's "
                f"{len(parts[part]['prior'])} classes of this model"
            )
    bad = [o for o in info["bond_orders"] if o not in BOND_ORDERS]
    if bad or list(info["bond_orders"]) != list(BOND_ORDERS):
        raise ValueError(
            f"bond vocabulary {list(info['bond_orders'])} is not the Kekulé orders "
            f"{list(BOND_ORDERS)} this version builds molecules from"
        )


def decode_graphs(batch: Batch, info) -> list[Molecule]:
    """Generated joint states -> molecules with their generated bonds and charges."""
    try:
        check_vocabulary(info)
    except ValueError as exc:
        raise DomainError(str(exc)) from None
    if not isinstance(batch, PartsBatch) or set(batch.parts) != set(PART_NAMES):
        raise DomainError(f"decoding a joint molecule state needs parts {list(PART_NAMES)}")
    mask = (torch.ones(batch.x.shape[:2]) if batch.mask is None else batch.mask).bool().cpu()
    pos = remove_mean(batch.x.detach().double().cpu(), mask)
    types = batch.parts["types"].cpu()
    charges = batch.parts["charges"].cpu()
    bonds = batch.parts["bonds"].cpu()
    symbols_of, q_of = info["atom_types"], info["charge_values"]
    props, stats = info.get("properties") or [], info.get("prop_stats") or {}
    out = []
    for b in range(len(pos)):
        keep = mask[b]
        n = int(keep.sum())
        idx = torch.nonzero(keep).reshape(-1)
        bo = bonds[b][idx][:, idx]
        i, j = np.triu_indices(n, k=1)
        order = bo[i, j].numpy()
        rows = np.stack([i, j, order], 1)[order > 0]
        mol = Molecule(
            [symbols_of[t] for t in types[b][idx].tolist()],
            pos[b][idx].numpy(),
            np.array([q_of[c] for c in charges[b][idx].tolist()], dtype=np.int64),
            rows.astype(np.int64).reshape(-1, 3),
            name=f"sample_{b}",
        )
        if batch.cond is not None and batch.cond.is_floating_point() and props:
            c = batch.cond[b].float().cpu()
            if not torch.isnan(c).any():  # the requested targets, as the EDM-style decoder
                for k, p in enumerate(props):
                    mol.props[f"target_{p}"] = float(c[k]) * stats[p][1] + stats[p][0]
        out.append(mol)
    return out

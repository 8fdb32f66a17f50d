"""Geometry metrics: bond-length / bond-angle Wasserstein-1 per type, type/count total
variation, and MMFF strain energy."""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np
from rdkit import Chem, RDLogger
from rdkit.Chem import AllChem
from scipy.stats import wasserstein_distance

from ..mol import Molecule


def bond_lengths(mols: list[Molecule]) -> dict[str, list[float]]:
    """Lengths (Å) per bond type key like ``C-O2`` (sorted elements + order)."""
    out: dict[str, list[float]] = defaultdict(list)
    for m in mols:
        if m.bonds is None:
            continue
        for i, j, o in m.bonds:
            a, b = sorted((m.symbols[i], m.symbols[j]))
            out[f"{a}-{b}{int(o)}"].append(float(np.linalg.norm(m.positions[i] - m.positions[j])))
    return out


def bond_angles(mols: list[Molecule]) -> dict[str, list[float]]:
    """Angles (degrees) per type key ``A-B-C`` (B the centre, ends sorted)."""
    out: dict[str, list[float]] = defaultdict(list)
    for m in mols:
        if m.bonds is None:
            continue
        nbrs: dict[int, list[int]] = defaultdict(list)
        for i, j, _ in m.bonds:
            nbrs[int(i)].append(int(j))
            nbrs[int(j)].append(int(i))
        for c, ns in nbrs.items():
            for x in range(len(ns)):
                for y in range(x + 1, len(ns)):
                    u = m.positions[ns[x]] - m.positions[c]
                    v = m.positions[ns[y]] - m.positions[c]
                    cos = np.dot(u, v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-12)
                    a, b = sorted((m.symbols[ns[x]], m.symbols[ns[y]]))
                    key = f"{a}-{m.symbols[c]}-{b}"
                    out[key].append(float(np.degrees(np.arccos(np.clip(cos, -1, 1)))))
    return out


def weighted_w1(gen: dict[str, list[float]], ref: dict[str, list[float]]) -> tuple[float, dict]:
    """W1 per type present in both sets, averaged with the reference's type frequencies."""
    per_type = {k: wasserstein_distance(gen[k], ref[k]) for k in ref if gen.get(k)}
    if not per_type:
        return float("nan"), {}
    w = np.array([len(ref[k]) for k in per_type], dtype=float)
    return float(np.dot(w, list(per_type.values())) / w.sum()), per_type


def total_variation(p: Counter, q: Counter) -> float:
    """TV = ½ Σ |p - q| over the union of supports (each normalised)."""
    sp, sq = sum(p.values()) or 1, sum(q.values()) or 1
    return 0.5 * sum(abs(p[k] / sp - q[k] / sq) for k in set(p) | set(q))


def atom_type_counts(mols: list[Molecule]) -> Counter:
    return Counter(s for m in mols for s in m.symbols)


def atom_number_counts(mols: list[Molecule]) -> Counter:
    return Counter(m.num_atoms for m in mols)


def mmff_strain(mol: Molecule, max_iters: int = 500) -> float | None:
    """E(as generated) - E(after local MMFF94 relaxation), kcal/mol; None if MMFF cannot type
    it or it does not sanitise. Needs explicit hydrogens in the molecule."""
    RDLogger.DisableLog("rdApp.*")
    try:
        rd = mol.to_rdkit(sanitize=True)
    except Exception:  # noqa: BLE001
        return None
    props = AllChem.MMFFGetMoleculeProperties(rd)
    if props is None:
        return None
    ff = AllChem.MMFFGetMoleculeForceField(rd, props)
    if ff is None:
        return None
    e0 = ff.CalcEnergy()
    ff.Minimize(maxIts=max_iters)
    return float(e0 - ff.CalcEnergy())


def strain_stats(mols: list[Molecule], limit: int = 200) -> dict[str, float]:
    values = [s for m in mols[:limit] if (s := mmff_strain(m)) is not None]
    if not values:
        return {"mmff_typable": 0.0}
    return {
        "mmff_strain_median": float(np.median(values)),
        "mmff_strain_mean": float(np.mean(values)),
        "mmff_typable": len(values) / max(min(len(mols), limit), 1),
    }


_ = Chem  # re-exported for type checkers

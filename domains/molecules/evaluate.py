"""All molecule metrics in one flat dict (``multigen evaluate --domain molecules``)."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import wasserstein_distance

from .bonds import infer_bonds
from .metrics.bonded import bond_aware_metrics
from .metrics.chem import drug_properties, edm_smiles, to_smiles, validity_metrics
from .metrics.geometry import (
    atom_number_counts,
    atom_type_counts,
    bond_angles,
    bond_lengths,
    strain_stats,
    total_variation,
    weighted_w1,
)
from .metrics.stability import stability
from .mol import Molecule


def with_bonds(mols: list[Molecule], method: str) -> list[Molecule]:
    """Bonds by ``method``: 'table' (EDM, from distances), 'rdkit' or 'file' (keep them;
    molecules without bonds fall back to the table).

    'table' builds neutral atoms, as EDM does: its bond orders come from distances alone, so
    formal charges written for other bond orders (a nitro group as N+/O-) would contradict
    them and fail sanitisation. :func:`charged_validity` scores the charges as written."""
    if method == "file":
        return [m if m.bonds is not None else infer_bonds(neutral(m), "table") for m in mols]
    if method == "table":
        return [infer_bonds(neutral(m), "table") for m in mols]
    return [infer_bonds(m, method) for m in mols]


def neutral(mol: Molecule) -> Molecule:
    return Molecule(mol.symbols, mol.positions, None, mol.bonds, dict(mol.props), mol.name)


def charged_validity(mols: list[Molecule], bonds: str) -> float:
    """Share of molecules RDKit sanitises with their formal charges kept (bond orders from
    the distance table, or as ``bonds`` gives them): a charge-aware companion of EDM's
    validity, under its own key."""
    if not mols:
        return 0.0
    if bonds == "rdkit":  # RDKit assigns charges with its bond orders
        bonded = with_bonds(mols, bonds)
    else:  # the file's bonds where asked for and present, else the table's
        keep = bonds == "file"
        bonded = [m if keep and m.bonds is not None else infer_bonds(m, "table") for m in mols]
    return sum(edm_smiles(m) is not None for m in bonded) / len(mols)


class ReferenceStats:
    """What the metrics need from a reference set, computed once and reused."""

    def __init__(self, mols: list[Molecule], bonds: str = "table"):
        self.mols = mols
        self.bonded = with_bonds(mols, bonds)
        # Reference SMILES use the file's bonds when present (true chemistry).
        if bonds == "table":  # files without bonds fall back to the table: reuse it
            file_bonds = [m if m.bonds is not None else b for m, b in zip(mols, self.bonded)]
        else:
            file_bonds = with_bonds(mols, "file")
        ref_smiles = [to_smiles(m, implicit_h=False) for m in file_bonds]
        self.smiles = [s for s in ref_smiles if s]
        # Heavy-atom novelty: a sample equal to a reference molecule read either way (true
        # bonds, or bonds re-inferred from coordinates like the samples') is not novel.
        decoded = {to_smiles(m) for m in self.bonded}
        self.smiles_set = set(self.smiles) | {s for s in decoded if s}
        # EDM's novelty reference: whole-molecule SMILES with H, bonds as the samples get them.
        self.smiles_set_edm = {s for s in (edm_smiles(m, largest=False) for m in self.bonded) if s}
        self.props = drug_properties(self.smiles)
        self.lengths = bond_lengths(self.bonded)
        self.angles = bond_angles(self.bonded)
        self.types = atom_type_counts(mols)
        self.counts = atom_number_counts(mols)
        self._fcd = None

    def fcd_stats(self, fcd):
        if self._fcd is None:
            self._fcd = fcd.precalc(self.smiles)
        return self._fcd


def evaluate_molecules(
    samples: list[Molecule],
    reference: ReferenceStats | None,
    bonds: str = "table",
    fcd: bool = True,
    strain: bool = True,
    strain_limit: int = 200,
    predictor_steps: int = 0,
    **_: Any,
) -> dict[str, float]:
    out: dict[str, float] = {"n_samples": float(len(samples))}
    if reference is not None:
        out["n_reference"] = float(len(reference.mols))
    if not samples:
        return out
    out.update(stability(samples))
    out.update(stability(samples, charge_aware=True))
    bonded = with_bonds(samples, bonds)
    smiles = [to_smiles(m) for m in bonded]
    out.update(
        validity_metrics(
            [edm_smiles(m) for m in bonded],
            bonded,
            reference.smiles_set_edm if reference else None,
            heavy=smiles,
            reference_heavy=reference.smiles_set if reference else None,
        )
    )
    out["validity_charged"] = charged_validity(samples, bonds)
    # the bond-aware protocol: the molecules' own bonds and charges (joint-graph models)
    out.update(bond_aware_metrics(samples, reference.smiles_set if reference else None))
    valid = [s for s in smiles if s]
    props = drug_properties(valid)
    for k, v in props.items():  # undefined without valid molecules: left out, never NaN
        if len(v):
            out[f"{k}_mean"] = float(v.mean())
        if reference is not None and len(v) and len(reference.props[k]):
            out[f"{k}_w1"] = float(wasserstein_distance(v, reference.props[k]))
    out.update(_conditional_mae(bonded, smiles))
    if reference is not None:
        # W1s exist only for bond/angle types both sets have (none: left out, never NaN)
        w1, per = weighted_w1(bond_lengths(bonded), reference.lengths)
        if per:
            out["bond_length_w1"] = w1
        for k in sorted(per, key=lambda k: -len(reference.lengths[k]))[:4]:
            out[f"bond_length_w1/{k}"] = float(per[k])
        w1, per = weighted_w1(bond_angles(bonded), reference.angles)
        if per:
            out["bond_angle_w1"] = w1
        out["atom_type_tv"] = total_variation(atom_type_counts(samples), reference.types)
        out["atom_count_tv"] = total_variation(atom_number_counts(samples), reference.counts)
        if fcd and len(valid) >= 2 and len(reference.smiles) >= 2:
            out["fcd"] = _fcd(valid, reference)
    if strain:
        out.update(strain_stats(bonded, strain_limit))
    if predictor_steps and reference is not None:
        out.update(_predictor_mae(samples, reference.mols, predictor_steps))
    return out


def _predictor_mae(samples: list[Molecule], ref: list[Molecule], steps: int) -> dict[str, float]:
    """EDM's conditional protocol: an EGNN trained (and cached) on the reference molecules'
    properties predicts each sample's property; MAE against the requested target."""
    from .data import MoleculeDataset, atom_types_of
    from .properties import property_mae, train_predictor

    wanted = sorted(
        {k[len("target_") :] for m in samples for k in m.props if k.startswith("target_")}
    )
    names = [p for p in wanted if ref and all(p in m.props for m in ref)]
    if not names:
        return {}
    ds = MoleculeDataset(ref, atom_types_of(ref), tuple(names), source="reference")
    model = train_predictor(ds, steps=steps)
    return property_mae(model, samples, ds.atom_types, ds.prop_stats, names)


def _conditional_mae(bonded: list[Molecule], smiles: list[str | None]) -> dict[str, float]:
    """MAE between requested RDKit properties (``target_qed`` etc. stored by the decoder for
    conditional samples) and the properties RDKit computes for the valid molecules."""
    errs: dict[str, list[float]] = {}
    for m, s in zip(bonded, smiles):
        keys = [k[len("target_") :] for k in m.props if k.startswith("target_")]
        if not s or not keys:
            continue
        got = drug_properties([s])
        for k in keys:
            if k in got and len(got[k]):
                errs.setdefault(k, []).append(abs(float(got[k][0]) - m.props[f"target_{k}"]))
    return {f"cond_mae_{k}": float(np.mean(v)) for k, v in errs.items()}


_FCD_MODEL = None


def _fcd(valid: list[str], reference: ReferenceStats) -> float:
    """Fréchet ChemNet Distance with fcd_torch (canonical SMILES, as MOSES)."""
    global _FCD_MODEL
    import warnings

    from fcd_torch import FCD

    if _FCD_MODEL is None:
        _FCD_MODEL = FCD(device="cpu", n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(_FCD_MODEL(pref=reference.fcd_stats(_FCD_MODEL), gen=valid))

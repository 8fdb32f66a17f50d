"""Scoring with the MOSES suite: SMILES files as they are, 3D molecules through their SMILES."""

from __future__ import annotations

from typing import Any

from multigen.domain import DomainError

from .evaluate import with_bonds
from .metrics.chem import to_smiles
from .moses_suite import MosesReference, moses_metrics, moses_reference


def is_smiles_list(samples: Any) -> bool:
    return bool(samples) and all(isinstance(s, str) for s in samples)


def moses_reference_for(split: str) -> MosesReference:
    """``moses`` (test and scaffold test), ``moses:test`` or ``moses:test_scaffolds``."""
    sets = {"": ("test", "test_scaffolds"), "test": ("test",)}
    sets["test_scaffolds"] = ("test_scaffolds",)
    if split not in sets:
        raise DomainError(
            f"reference 'moses:{split}': use moses, moses:test or moses:test_scaffolds"
        )
    return moses_reference(sets[split])


def evaluate_moses(
    samples: list,
    reference: Any,
    bonds: str = "file",
    fcd: bool = True,
    k: tuple[int, ...] | list[int] = (1000, 10000),
    properties: bool = True,
    **_: Any,
) -> dict[str, float]:
    """MOSES's metrics of SMILES (or of 3D molecules written as SMILES with bonds from the
    file, else from EDM's table; molecules RDKit rejects count as invalid)."""
    if not isinstance(reference, MosesReference):
        raise DomainError(
            "SMILES samples are scored with the MOSES suite: use --reference moses "
            "(or moses:test, moses:test_scaffolds)"
        )
    if is_smiles_list(samples):
        smiles = list(samples)
    else:
        smiles = [to_smiles(m) or "" for m in with_bonds(list(samples), bonds)]
    return moses_metrics(smiles, reference, k=tuple(k), fcd=fcd, properties=properties)

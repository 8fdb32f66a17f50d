"""MOSES (Polykovskiy et al. 2020) on this stack: data and statistics from the molsets wheel,
metrics written from their definitions with RDKit (molsets' own code does not import)."""

from .suite import MosesReference, moses_metrics, moses_reference, reference_from_smiles

__all__ = ["MosesReference", "moses_metrics", "moses_reference", "reference_from_smiles"]

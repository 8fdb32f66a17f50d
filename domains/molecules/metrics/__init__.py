"""Molecule metrics: EDM stability, RDKit chemistry, geometry distributions."""

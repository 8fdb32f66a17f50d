"""E(3)-equivariant 3D molecule generation: data, EGNN/e3nn networks, decoding, metrics."""

from .domain import MoleculeDomain, get_domain

__all__ = ["MoleculeDomain", "get_domain"]

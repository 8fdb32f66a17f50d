"""Image domain: digits / image folders / .npz, U-Net and DCGAN networks, PNG export, and
FD/KID/precision/recall/IS on a reference-trained CNN (+ Inception FID from a local file)."""

from .domain import ImageDomain, get_domain

__all__ = ["ImageDomain", "get_domain"]

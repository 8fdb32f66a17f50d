"""Domain discovery through the ``multigen.domains`` entry-point group.

The engine never imports a domain by name: built-in and third-party domains are both
packages that declare ``NAME = "module:get_domain"`` in that group.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any

from multigen.domain import Domain, DomainError

GROUP = "multigen.domains"


def domain_names() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=GROUP)})


@cache
def get_domain(name: str) -> Domain:
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    if not found:
        raise DomainError(f"unknown domain {name!r}; choose one of: {', '.join(domain_names())}")
    factory = found[0].load()
    domain = factory()
    if not isinstance(domain, Domain):
        raise DomainError(f"entry point {found[0].value} did not return a multigen Domain")
    return domain


def run_domain(cfg: Any) -> Domain:
    """The domain a run (a RunConfig) trains and samples in: its ``domain``, seen through
    its ``latent`` codec when it has one (multigen/latent.py)."""
    from multigen.latent import domain_for

    return domain_for(get_domain(cfg.domain), cfg.latent)

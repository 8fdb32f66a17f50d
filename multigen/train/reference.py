"""The reference a run's samples are scored against."""

from __future__ import annotations

from typing import Any

from multigen.config import RunConfig
from multigen.domain import Domain, DomainError, options_spelled


def reference_samples(domain: Domain, cfg: RunConfig, info: dict[str, Any], n: int) -> Any:
    """The evaluation reference: ``eval.reference`` if set (read with the reading options
    among ``eval.options``), else the test split of the data (read with ``data.params``)."""
    if cfg.eval.reference:
        with options_spelled("eval.options.{}"):
            return domain.reference(cfg.eval.reference, n=n, **domain.reading(cfg.eval.options))
    domain, info = domain.data_view(info)  # a latent run is scored against real data
    d = cfg.data
    with options_spelled("data.params.{}"):
        ds = domain.load_dataset(d.name, d.path, "test", **d.params)
    if len(ds) == 0:
        raise DomainError(
            f"dataset {d.name!r} ({d.path or 'embedded'}) has an empty test split, which the "
            "end-of-run evaluation scores against; add test data or set eval.reference"
        )
    items = [ds[i] for i in range(min(n, len(ds)))]
    return domain.decode(domain.collate(items), info)

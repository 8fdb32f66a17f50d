"""The run's data description: what sampling needs from the training data, typed."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from multigen.errors import DomainError

TYPED_INFO = ("shape", "num_classes", "cond_dim", "sigma_data", "x0_clip")


@dataclass(frozen=True, eq=False)
class DataInfo(Mapping[str, Any]):
    """What a run learned from its training data that sampling needs later; stored in every
    checkpoint's ``meta.json``. The engine reads the typed fields; a domain keeps its own
    statistics (atom-count histograms, normalisers, class names…) in ``extra``. Read by key
    (``info["shape"]``, ``info.get("n_nodes_hist")``) it is the JSON it is stored as, so a
    domain's code and a plain dict in a test work alike.
    """

    shape: tuple[int, ...]
    num_classes: int = 0  # class labels the network is conditioned on (0 = none)
    cond_dim: int = 0  # length of a property vector it is conditioned on (0 = none)
    sigma_data: float = 0.5  # data std in network scale (EDM preconditioning)
    x0_clip: tuple[float, float] | None = None  # samplers clip x̂0 to this (images only)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, info: Mapping[str, Any]) -> DataInfo:
        """A DataInfo from a domain's ``describe()`` dict or a checkpoint's ``meta["info"]``."""
        if isinstance(info, DataInfo):
            return info
        if not isinstance(info, Mapping) or "shape" not in info:
            raise DomainError(
                "the data description must be a mapping with a 'shape' (Domain.describe gives "
                f"it; a checkpoint stores it in meta.json), got {type(info).__name__}"
            )
        clip = info.get("x0_clip")
        try:
            return cls(
                shape=tuple(int(s) for s in info["shape"]),
                num_classes=int(info.get("num_classes") or 0),
                cond_dim=int(info.get("cond_dim") or 0),
                sigma_data=float(info.get("sigma_data") or 0.5),
                x0_clip=None if clip is None else (float(clip[0]), float(clip[1])),
                extra={k: v for k, v in info.items() if k not in TYPED_INFO},
            )
        except (TypeError, ValueError, IndexError, OverflowError) as exc:  # int(inf): Overflow
            raise DomainError(f"the data description has a malformed field ({exc})") from None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, as stored in ``meta.json``."""
        out: dict[str, Any] = {
            "shape": list(self.shape),
            "num_classes": self.num_classes,
            "cond_dim": self.cond_dim,
            "sigma_data": self.sigma_data,
        }
        if self.x0_clip is not None:
            out["x0_clip"] = list(self.x0_clip)
        return {**out, **self.extra}

    def without_conditions(self) -> DataInfo:
        """The run does not feed labels/properties to its network (``data.conditional``
        false); the data's own class count is kept as ``data_num_classes``."""
        extra = {k: v for k, v in self.extra.items() if k != "text"}
        extra["data_num_classes"] = self.num_classes
        return replace(self, num_classes=0, cond_dim=0, extra=extra)

    @property
    def conditional(self) -> bool:
        """Conditioned on labels, properties or captions (``extra["text"]``, multigen.text)."""
        return bool(self.num_classes or self.cond_dim or self.extra.get("text"))

    @functools.cached_property
    def _as_dict(self) -> dict[str, Any]:  # built once: domains read keys once per sample
        return self.to_dict()

    def __getitem__(self, key: str) -> Any:
        return self._as_dict[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._as_dict)

    def __len__(self) -> int:
        return len(self._as_dict)

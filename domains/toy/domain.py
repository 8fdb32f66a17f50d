"""The toy 2-D domain adapter: datasets, normaliser, networks, files and metrics."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from multigen.domain import (
    Batch,
    DatasetSpec,
    DensityUnits,
    Domain,
    DomainError,
    NetworkSpec,
    unwrap_dataset,
)

from . import metrics
from .data import (
    GENERATORS,
    Mixture,
    ToyDataset,
    dataset_specs,
    generate,
    load_mixture_json,
)
from .io import find_points_file, read_points, scatter_png, write_points
from .networks import network_specs

REFERENCE_PLOT_POINTS = 5000


@dataclass
class ToyReference:
    """Reference points in data units, plus the exact density when it is a Gaussian mixture."""

    points: np.ndarray
    mixture: Mixture | None = None
    name: str = ""


def _as_points(samples: Any, what: str = "samples") -> np.ndarray:
    if isinstance(samples, ToyReference):
        return samples.points
    if isinstance(samples, torch.Tensor):
        samples = samples.detach().to("cpu", torch.float64).numpy()
    arr = np.asarray(samples, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise DomainError(f"toy {what}: expected shape [N, 2], got {list(arr.shape)}")
    return arr


@dataclass
class ToyDomain(Domain):
    name: str = "toy"
    default_dataset: str = "eight_gaussians"
    eval_options: ClassVar[dict[str, str]] = metrics.OPTIONS
    # a share of non-finite rows means something from one sample; every distance, density
    # and mode metric needs the default 100
    min_samples: ClassVar[dict[str, int]] = {"nonfinite_fraction": 1}
    datasets: dict[str, DatasetSpec] = field(default_factory=dataset_specs)
    networks: dict[str, NetworkSpec] = field(default_factory=network_specs)

    # ---- data -------------------------------------------------------------------------
    def describe(self, dataset: torch.utils.data.Dataset) -> dict[str, Any]:
        ds = unwrap_dataset(dataset, ToyDataset, "toy")
        x = ds._x.double()
        return {
            "shape": [2],
            "num_classes": ds.num_classes,
            "cond_dim": 0,
            # std of the state the network sees (pooled over both axes; 1 by construction
            # of the isotropic normaliser, computed anyway so a change there shows up here)
            "sigma_data": float(x.pow(2).mean().sqrt()),
            "mean": [float(v) for v in ds.mean],
            "scale": ds.scale,
            "dataset": ds.name,
            "params": {k: v for k, v in ds.params.items() if _jsonable(v)},
            "mixture": None if ds.mixture is None else ds.mixture.to_dict(),
        }

    # ---- outputs ------------------------------------------------------------------------
    def decode(self, batch: Batch, info: dict[str, Any]) -> torch.Tensor:
        """Network-scale states -> [N, 2] float32 points in data units."""
        mean = torch.tensor(info.get("mean", [0.0, 0.0]), dtype=torch.float64)
        x = batch.x.detach().to("cpu", torch.float64).reshape(len(batch), 2)
        points = (x * float(info.get("scale", 1.0)) + mean).float()
        # Let export() draw the training distribution beside the samples, and evaluate() use
        # the exact mixture when the reference is a decoded batch rather than a ToyReference.
        points.toy_source = {"dataset": info.get("dataset"), "params": info.get("params", {})}
        points.toy_mixture = info.get("mixture")
        return points

    def encode(self, samples: Any, info: dict[str, Any]) -> Batch:
        """Points in data units -> the run's network scale, (x - mean)/scale."""
        mean = torch.tensor(info.get("mean", [0.0, 0.0]), dtype=torch.float64)
        points = torch.from_numpy(_as_points(samples))
        return Batch(((points - mean) / float(info.get("scale", 1.0))).float())

    def density_units(self, info: dict[str, Any]) -> DensityUnits:
        """Continuous points; the state is (x - mean)/scale, so densities are per data unit²."""
        return DensityUnits(log_scale=-math.log(float(info.get("scale", 1.0))))

    def export(self, samples: Any, out_dir: Path, reference: Any = None) -> list[Path]:
        """samples.npy + samples.csv + samples.png (scatter beside the reference when known)."""
        out_dir = Path(out_dir)
        points = _as_points(samples)
        files = write_points(points, out_dir, "samples")
        ref = None
        if reference is not None:
            ref = _as_points(reference, "reference")
        else:
            ref = self._source_points(getattr(samples, "toy_source", None))
        title = getattr(samples, "toy_source", {}).get("dataset") or ""
        files.append(scatter_png(points, out_dir / "samples.png", ref, title=title))
        return files

    def _source_points(self, source: dict[str, Any] | None) -> np.ndarray | None:
        if not source or source.get("dataset") not in GENERATORS:
            return None
        params = dict(source.get("params") or {})
        params["n"] = REFERENCE_PLOT_POINTS
        try:
            return generate(source["dataset"], "test", **params).points
        except DomainError:
            return None

    def load_samples(self, path: Path, strict: bool = False) -> torch.Tensor:
        """A .npy/.csv file of [N, 2] points, or a folder holding samples.npy|csv.

        Non-finite rows are an error with ``strict``; otherwise they are kept and reported
        by :meth:`evaluate` as ``nonfinite_fraction``.
        """
        path = Path(path)
        if path.is_dir():
            found = find_points_file(path, "samples")
            if found is None:
                raise DomainError(f"{path}: no samples.npy or samples.csv in this folder")
            path = found
        return torch.from_numpy(read_points(path, allow_nonfinite=not strict))

    def reference(self, spec: str, n: int | None = None, strict: bool = False) -> ToyReference:
        """``NAME`` / ``NAME:SPLIT`` (default split: test) of a built-in dataset, or a path to
        a .npy/.csv file or a folder from ``multigen data prepare`` (its test split and
        mixture.json are used)."""
        spec = str(spec)
        path = Path(spec)
        if path.exists():
            return self._reference_from_path(path, n)
        name, _, split = spec.partition(":")
        if name not in GENERATORS:
            raise DomainError(
                f"toy reference {spec!r}: not a file and not a dataset; use a .npy/.csv path "
                f"or one of: {', '.join(GENERATORS)}"
            )
        params = {} if n is None else {"n": int(n)}
        ds = generate(name, split or "test", **params)
        return ToyReference(ds.points, ds.mixture, f"{name}:{split or 'test'}")

    def _reference_from_path(self, path: Path, n: int | None) -> ToyReference:
        mixture = None
        if path.is_dir():
            mixture = load_mixture_json(path / "mixture.json")
            for stem in ("test", "samples", "train"):
                found = find_points_file(path, stem)
                if found is not None:
                    break
            else:
                raise DomainError(f"{path}: no test/samples/train .npy or .csv in this folder")
            path = found
        else:
            mixture = load_mixture_json(path.parent / "mixture.json")
        points = read_points(path)
        return ToyReference(points if n is None else points[: int(n)], mixture, str(path))

    # ---- metrics ------------------------------------------------------------------------
    def evaluate(self, samples: Any, reference: Any, **options: Any) -> dict[str, float]:
        """Energy distance, sliced Wasserstein (+ exact mixture metrics when known).

        The mixture comes from a :class:`ToyReference`, else from decoded tensors (the
        reference's, then the samples'), so a run's own test split scores with its exact
        density even with non-default data params."""
        self.check_options(options)
        if isinstance(reference, str | Path):
            reference = self.reference(str(reference))
        if isinstance(reference, ToyReference):
            mixture = reference.mixture
        else:  # decoded tensors carry the training data's mixture (see decode)
            found = getattr(reference, "toy_mixture", None) or getattr(samples, "toy_mixture", None)
            mixture = None if found is None else Mixture.from_dict(found)
        return metrics.evaluate_points(
            _as_points(samples), _as_points(reference, "reference"), mixture, **options
        )


def _jsonable(v: Any) -> bool:
    return isinstance(v, str | int | float | bool) or v is None

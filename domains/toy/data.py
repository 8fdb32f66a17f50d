"""The toy 2-D datasets: Gaussian mixtures from the mode-collapse literature, moons, swiss roll,
checkerboard, and user files of shape [N, 2].

Coordinates ("data units") follow the literature so that the metrics mean what the papers
mean: 8 Gaussians on a ring of radius 2 with std 0.02 and a 5×5 grid with spacing 2 and std
0.05 (Metz et al. 2017 "Unrolled GANs"; Srivastava et al. 2017 "VEEGAN"). The network sees a
normalised copy, ``(x - mean) / scale`` with one isotropic scale (so shapes are not
distorted); ``mean``/``scale`` travel in the domain's ``info`` and :meth:`decode` undoes them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from multigen.domain import DatasetSpec, DomainError
from multigen.options import refuse_unknown

from .io import find_points_file, read_points, scatter_png, write_points

SPLITS = {"train": 0, "test": 1, "val": 2}
DEFAULT_N = {"train": 20_000, "test": 5_000, "val": 5_000}


@dataclass
class Mixture:
    """An isotropic Gaussian mixture in data units (the exact density of a toy dataset)."""

    means: np.ndarray  # [K, 2]
    std: float
    weights: np.ndarray  # [K], sums to 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "means": self.means.tolist(),
            "std": float(self.std),
            "weights": self.weights.tolist(),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str = "mixture") -> Mixture:
        try:
            means = np.asarray(d["means"], dtype=np.float64)
            std = float(d["std"])
            weights = np.asarray(d.get("weights") or [1.0] * len(means), dtype=np.float64)
        except (KeyError, TypeError, ValueError) as exc:
            raise DomainError(f"{source}: needs 'means' [[x, y], ...] and 'std' ({exc})") from None
        if means.ndim != 2 or means.shape[1] != 2 or std <= 0 or weights.shape != (len(means),):
            raise DomainError(f"{source}: means must be [K, 2], std > 0, weights [K]")
        return cls(means, std, weights / weights.sum())

    def sample(self, rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
        labels = rng.choice(len(self.means), size=n, p=self.weights)
        return self.means[labels] + self.std * rng.standard_normal((n, 2)), labels


# ---- generators: (rng, n, **params) -> (points [n, 2], labels [n] | None, mixture | None) ----


def _eight_gaussians(rng, n, radius: float = 2.0, std: float = 0.02, modes: int = 8):
    angles = 2 * math.pi * np.arange(modes) / modes
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    mix = Mixture(means, std, np.full(modes, 1.0 / modes))
    points, labels = mix.sample(rng, n)
    return points, labels, mix


def _grid25(rng, n, spacing: float = 2.0, std: float = 0.05, size: int = 5):
    ticks = spacing * (np.arange(size) - (size - 1) / 2)  # -4, -2, 0, 2, 4 by default
    means = np.stack(np.meshgrid(ticks, ticks, indexing="ij"), axis=-1).reshape(-1, 2)
    mix = Mixture(means, std, np.full(len(means), 1.0 / len(means)))
    points, labels = mix.sample(rng, n)
    return points, labels, mix


def _two_moons(rng, n, noise: float = 0.05):
    labels = rng.integers(0, 2, size=n)
    theta = math.pi * rng.random(n)
    upper = np.stack([np.cos(theta), np.sin(theta)], axis=1)
    lower = np.stack([1 - np.cos(theta), 0.5 - np.sin(theta)], axis=1)
    points = np.where(labels[:, None] == 0, upper, lower) + noise * rng.standard_normal((n, 2))
    return points, labels, None


def _swiss_roll(rng, n, noise: float = 0.1):
    t = 1.5 * math.pi * (1 + 2 * rng.random(n))
    points = np.stack([t * np.cos(t), t * np.sin(t)], axis=1) / 5.0
    return points + noise * rng.standard_normal((n, 2)), None, None


def _checkerboard(rng, n, size: int = 4, cell: float = 1.0):
    cells = [(i, j) for i in range(size) for j in range(size) if (i + j) % 2 == 0]
    pick = np.asarray(cells)[rng.integers(0, len(cells), size=n)]
    points = (pick + rng.random((n, 2)) - size / 2) * cell  # centred on the origin
    return points, None, None


GENERATORS: dict[str, tuple[Callable[..., Any], str]] = {
    "eight_gaussians": (_eight_gaussians, "8 Gaussians on a ring (radius 2, std 0.02)"),
    "grid25": (_grid25, "25 Gaussians on a 5x5 grid (spacing 2, std 0.05)"),
    "two_moons": (_two_moons, "two interleaved half circles (noise 0.05)"),
    "swiss_roll": (_swiss_roll, "2-D swiss roll (noise 0.1)"),
    "checkerboard": (_checkerboard, "uniform on the black cells of a 4x4 checkerboard"),
}


# ---- the dataset object --------------------------------------------------------------------


class ToyDataset(torch.utils.data.Dataset):
    """Points in data units plus the normaliser; items are normalised float32 ``[2]`` tensors
    (or ``(x, label)`` pairs when built with ``labels=True``)."""

    def __init__(
        self,
        name: str,
        points: np.ndarray,
        labels: np.ndarray | None = None,
        mixture: Mixture | None = None,
        return_labels: bool = False,
        params: dict[str, Any] | None = None,
        norm: tuple[np.ndarray, float] | None = None,
    ):
        if return_labels and labels is None:
            raise DomainError(f"dataset {name!r} has no labels; drop data.params.labels")
        self.name, self.points, self.labels, self.mixture = name, points, labels, mixture
        self.return_labels = return_labels
        self.params = dict(params or {})
        # Every split is normalised with the *training* split's statistics (``norm``), so a
        # decoded test batch lands exactly on the test points.
        self.mean, self.scale = norm if norm is not None else normaliser(points)
        self._x = torch.from_numpy((points - self.mean) / self.scale).float()

    def __len__(self) -> int:
        return len(self.points)

    def __getitem__(self, i: int):
        if self.return_labels:
            return self._x[i], int(self.labels[i])
        return self._x[i]

    @property
    def num_classes(self) -> int:
        if not self.return_labels:
            return 0
        # a mixture's label is its component, even if a small draw misses the last ones
        return len(self.mixture.means) if self.mixture is not None else int(self.labels.max()) + 1


def normaliser(points: np.ndarray) -> tuple[np.ndarray, float]:
    """Mean and one isotropic scale (RMS over both axes, so circles stay circular)."""
    mean = points.mean(axis=0)
    return mean, float(np.sqrt(((points - mean) ** 2).sum(axis=1).mean() / 2)) or 1.0


def _split_index(split: str) -> int:
    if split not in SPLITS:
        raise DomainError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
    return SPLITS[split]


def generate(name: str, split: str = "train", **params: Any) -> ToyDataset:
    """Draw a built-in dataset. Splits use different fixed seeds, so train and test are
    independent draws of the same distribution; ``seed`` shifts both."""
    fn, _ = GENERATORS[name]
    shape_params = set(fn.__code__.co_varnames[2 : fn.__code__.co_argcount])
    refuse_unknown(
        f"data.params key(s) for dataset {name!r}", params, shape_params | {"n", "seed", "labels"}
    )
    given = dict(params)
    n = int(params.pop("n", DEFAULT_N.get(split, 5000)))
    seed = int(params.pop("seed", 0))
    labels = bool(params.pop("labels", False))
    if n < 1:
        raise DomainError(f"dataset {name!r}: n must be >= 1 (got {n})")

    def draw(which: str, size: int):
        rng = np.random.default_rng([seed, _split_index(which), list(GENERATORS).index(name)])
        try:
            return fn(rng, size, **params)
        except (TypeError, ValueError) as exc:
            raise DomainError(f"dataset {name!r}: bad data.params {params} ({exc})") from None

    points, lab, mix = draw(split, n)
    norm = None
    if split != "train":  # the training split's statistics, as training used them
        norm = normaliser(draw("train", n if "n" in given else DEFAULT_N["train"])[0])
    return ToyDataset(name, points, lab, mix, labels, params, norm)


def load_file(path: Path, split: str = "train", **params: Any) -> ToyDataset:
    """A user point set: a .npy/.csv file (used for every split) or a folder holding
    ``<split>.npy|csv`` (as written by ``multigen data prepare``), with an optional
    ``mixture.json`` giving the exact density."""
    refuse_unknown("data.params key(s) for dataset 'file'", params, ())
    _split_index(split)
    path = Path(path)
    mixture, norm = None, None
    if path.is_dir():
        found = find_points_file(path, split)
        if found is None:
            raise DomainError(f"{path}: no {split}.npy or {split}.csv in this folder")
        mixture = load_mixture_json(path / "mixture.json")
        train = find_points_file(path, "train")
        if split != "train" and train is not None:
            norm = normaliser(read_points(train))
        path = found
    return ToyDataset("file", read_points(path), None, mixture, False, {"path": str(path)}, norm)


def load_mixture_json(path: Path) -> Mixture | None:
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise DomainError(f"{path}: not valid JSON ({exc})") from None
    return Mixture.from_dict(data, str(path))


def _prepare(name: str) -> Callable[..., Path]:
    def prepare(out_dir: str | Path | None = None, **params: Any) -> Path:
        out = Path("data") / "toy" / name if out_dir is None else Path(out_dir)
        train = generate(name, "train", **params)
        test = generate(name, "test", **params)
        write_points(train.points, out, "train")
        write_points(test.points, out, "test")
        if train.mixture is not None:
            (out / "mixture.json").write_text(json.dumps(train.mixture.to_dict(), indent=1))
        scatter_png(train.points[:5000], out / "train.png", title=name)
        return out

    return prepare


def dataset_specs() -> dict[str, DatasetSpec]:
    specs = {
        name: DatasetSpec(
            name=name,
            description=desc,
            factory=lambda path, split="train", _n=name, **p: generate(_n, split, **p),
            prepare=_prepare(name),
        )
        for name, (_, desc) in GENERATORS.items()
    }
    specs["file"] = DatasetSpec(
        name="file",
        description="your points: .npy/.csv [N, 2], or a folder with train/test files",
        factory=load_file,
        needs_path=True,
    )
    return specs

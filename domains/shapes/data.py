"""Point-cloud data sets: embedded procedural shapes, mesh folders and point-cloud folders
(PointFlow's ShapeNetCore.v2.PC15k layout: :mod:`.pc15k`).

All of them end as a :class:`PointCloudSet`: raw clouds in data units ``[S, M, 3]`` with
labels, plus the list of files that were skipped and why. Items are ``(x, label)`` with
``x`` an ``[n_points, 3]`` tensor in network scale (normalisation applied on the fly).
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from multigen.domain import DomainError
from multigen.fileio import atomic_save, cache_root, read_each

from . import io, meshes, normalize, procedural

SPLITS = ("train", "val", "test")


def cache_dir() -> Path:
    path = cache_root("shapes")
    path.mkdir(parents=True, exist_ok=True)
    return path


def _key(payload: object) -> str:
    return hashlib.sha1(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()[:16]


class PointCloudSet(torch.utils.data.Dataset):
    """Raw clouds + labels; returns normalised ``(x, label)`` items of ``n_points`` points."""

    def __init__(
        self,
        points: np.ndarray,
        labels: np.ndarray,
        class_names: list[str],
        *,
        n_points: int,
        normalization: str = "global",
        stats: dict | None = None,
        train: bool = True,
        names: list[str] | None = None,
        skipped: list[tuple[str, str]] | None = None,
        seed: int = 0,
        use_labels: bool = False,
    ):
        normalize.check_mode(normalization)
        if len(points) == 0:
            raise DomainError("the data set is empty (every file was skipped or none was found)")
        self.points = points.astype(np.float32)
        self.labels = labels.astype(np.int64)
        self.class_names = class_names
        self.n_points = n_points
        self.normalization = normalization
        self.train = train
        self.names = names or [f"shape_{i}" for i in range(len(points))]
        self.skipped = skipped or []
        self.seed = seed
        self.use_labels = use_labels  # items carry the class label (class-conditional training)
        if normalization == "global":
            self.stats = stats or normalize.global_stats(self.points)
        else:
            self.stats = None

    def __len__(self) -> int:
        return len(self.points)

    def cloud(self, i: int, rng: np.random.Generator | None = None) -> np.ndarray:
        """``n_points`` points of shape ``i`` in data units (random subset when training)."""
        pts = self.points[i]
        if len(pts) > self.n_points:
            if rng is None:  # fixed subset for evaluation splits
                rng = np.random.default_rng([self.seed, i])
            pts = pts[rng.choice(len(pts), self.n_points, replace=False)]
        return pts

    def to_network(self, pts: np.ndarray) -> np.ndarray:
        if self.normalization == "global":
            return normalize.apply_global(pts, self.stats)
        return normalize.per_shape(pts, self.normalization)

    def __getitem__(self, i: int) -> torch.Tensor | tuple[torch.Tensor, int]:
        rng = None
        if self.train and len(self.points[i]) > self.n_points:
            rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ()).item()))
        x = torch.from_numpy(np.ascontiguousarray(self.to_network(self.cloud(i, rng)), np.float32))
        return (x, int(self.labels[i])) if self.use_labels else x

    def fixed_clouds(self, n: int | None = None) -> np.ndarray:
        """The first ``n`` shapes with a fixed subset of points, in data units."""
        count = len(self) if n is None else min(n, len(self))
        return np.stack([self.cloud(i) for i in range(count)])


# ---- embedded procedural shapes -----------------------------------------------------------


def _generate(classes: list[str], split: str, per_class: int, n_points: int, seed: int):
    split_id = SPLITS.index(split)
    clouds, labels = [], []
    for c, family in enumerate(classes):
        for j in range(per_class):
            shape_seed = int(
                np.random.SeedSequence(
                    [seed, zlib.crc32(family.encode()), split_id, j]
                ).generate_state(1)[0]
            )
            mesh = procedural.build(family, shape_seed)
            clouds.append(meshes.sample_surface(mesh, n_points, seed=shape_seed))
            labels.append(c)
    return np.stack(clouds), np.asarray(labels)


@dataclass(frozen=True)
class CloudOptions:
    """How read clouds become items; what every shapes data factory passes on."""

    n_points: int = 2048
    normalization: str = "global"
    stats: dict | None = None
    seed: int = 0
    labels: bool = False  # items carry the class label

    def dataset(self, points, label_ids, class_names, split, names=None, skipped=None):
        return PointCloudSet(
            points,
            np.asarray(label_ids),
            class_names,
            n_points=self.n_points,
            normalization=self.normalization,
            stats=self.stats,
            train=split == "train",
            names=names,
            skipped=skipped,
            seed=self.seed,
            use_labels=self.labels,
        )


def embedded(
    path: Path | None,
    split: str = "train",
    *,
    classes: list[str] | None = None,
    n_train: int = 100,
    n_test: int = 25,
    n_points: int = 2048,
    normalization: str = "global",
    stats: dict | None = None,
    seed: int = 0,
    labels: bool = False,
    cache: bool = True,
) -> PointCloudSet:
    """Procedural chairs, tables, airplanes, vases, mugs and lamps (``procedural.FAMILIES``).

    ``n_train``/``n_test`` shapes per class; ``val`` has ``n_test`` too. Clouds are cached
    under ``$MULTIGEN_CACHE/shapes`` (default ``~/.cache/multigen/shapes``).
    """
    classes = list(classes or procedural.FAMILIES)
    unknown = [c for c in classes if c not in procedural.FAMILIES]
    if unknown:
        raise DomainError(
            f"unknown embedded shape classes {unknown}; choose from {sorted(procedural.FAMILIES)}"
        )
    if split not in SPLITS:
        raise DomainError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    per_class = n_train if split == "train" else n_test
    key = _key(["embedded-v1", classes, split, per_class, n_points, seed])
    file = cache_dir() / f"embedded_{key}.npz"
    if cache and file.is_file():
        with np.load(file) as z:
            points, labels_arr = z["points"], z["labels"]
    else:
        points, labels_arr = _generate(classes, split, per_class, n_points, seed)
        if cache:
            atomic_save(file, lambda tmp: np.savez(tmp, points=points, labels=labels_arr))
    if split != "train" and normalization == "global" and stats is None:
        stats = embedded(
            None,
            "train",
            classes=classes,
            n_train=n_train,
            n_points=n_points,
            normalization="global",
            seed=seed,
            cache=cache,
        ).stats
    opts = CloudOptions(n_points, normalization, stats, seed, labels)
    return opts.dataset(points, labels_arr, classes, split)


# ---- folders --------------------------------------------------------------------------------


def _folder_files(root: Path, suffixes: set[str], split: str, test_fraction: float):
    """``(file, class_name)`` pairs; classes are the first-level sub-folders (or one class).

    With ``root/train``, ``root/test`` (``val``) sub-folders the split is taken from them;
    otherwise files are split deterministically by a hash of their relative path.
    """
    if not root.is_dir():
        raise DomainError(f"{root}: folder not found")
    if split not in SPLITS:
        raise DomainError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    base, by_hash = root, True
    if (root / "train").is_dir():
        base, by_hash = root / split, False
        if not base.is_dir():
            raise DomainError(f"{root}: has a train/ folder but no {split}/ folder")
    files = sorted(p for p in base.rglob("*") if p.is_file() and not p.name.startswith("."))
    pairs = []
    for f in files:
        rel = f.relative_to(base)
        cls = rel.parts[0] if len(rel.parts) > 1 else "all"
        if by_hash:
            in_test = (zlib.crc32(os.fsencode(rel)) % 10_000) / 10_000 < test_fraction
            if in_test != (split != "train"):
                continue
        pairs.append((f, cls))
    if not pairs:
        raise DomainError(f"{base}: no files found for split {split!r}")
    return pairs


def _load_folder(
    root: Path,
    split: str,
    reader,
    suffixes: set[str],
    what: str,
    opts: CloudOptions,
    oversample: int,
    test_fraction: float,
    strict: bool,
) -> PointCloudSet:
    pairs = _folder_files(root, suffixes, split, test_fraction)
    class_names = sorted({c for _, c in pairs})
    total = opts.n_points * oversample

    def read(f: Path) -> np.ndarray:
        if f.suffix.lower() not in suffixes:
            raise DomainError(
                f"{f}: unsupported {what} format {f.suffix!r}; use one of {sorted(suffixes)}"
            )
        return reader(f, total, zlib.crc32(os.fsencode(f.relative_to(root))))

    read_ok, skipped = read_each([f for f, _ in pairs], read, strict)
    clouds = [pts for _, pts in read_ok]
    label_ids = [class_names.index(pairs[i][1]) for i, _ in read_ok]
    names = [str(pairs[i][0].relative_to(root)) for i, _ in read_ok]
    if not clouds:
        detail = "; ".join(f"{f}: {r}" for f, r in skipped[:3])
        raise DomainError(f"{root}: no usable {what} files for split {split!r} ({detail})")
    return opts.dataset(np.stack(clouds), label_ids, class_names, split, names, skipped)


def mesh_folder(
    path: Path,
    split: str = "train",
    *,
    n_points: int = 2048,
    oversample: int = 1,
    normalization: str = "global",
    stats: dict | None = None,
    strict: bool = False,
    test_fraction: float = 0.2,
    check_manifold: bool = True,
    drop_degenerate: bool = True,
    max_bytes: int = meshes.DEFAULT_MAX_BYTES,
    max_faces: int = meshes.DEFAULT_MAX_FACES,
    seed: int = 0,
    labels: bool = False,
) -> PointCloudSet:
    """Meshes (OBJ/STL/PLY/OFF/GLB/GLTF), classes from sub-folders, area-weighted sampling."""

    def read(f: Path, total: int, file_seed: int) -> np.ndarray:
        mesh = meshes.load_mesh(
            f,
            max_bytes=max_bytes,
            max_faces=max_faces,
            check_manifold=check_manifold,
            drop_degenerate=drop_degenerate,
        )
        return meshes.sample_surface(mesh, total, seed=seed * 7919 + file_seed)

    opts = CloudOptions(n_points, normalization, stats, seed, labels)
    suffixes = meshes.MESH_SUFFIXES
    return _load_folder(
        Path(path), split, read, suffixes, "mesh", opts, oversample, test_fraction, strict
    )


def pointcloud_folder(
    path: Path,
    split: str = "train",
    *,
    n_points: int = 2048,
    oversample: int = 1,
    normalization: str = "global",
    stats: dict | None = None,
    strict: bool = False,
    test_fraction: float = 0.2,
    seed: int = 0,
    labels: bool = False,
) -> PointCloudSet:
    """Point clouds (PLY/XYZ/TXT/PTS/NPY/NPZ), classes from sub-folders."""

    def read(f: Path, total: int, file_seed: int) -> np.ndarray:
        pts = io.read_points(f)
        return io.resample(pts, total, np.random.default_rng([seed, file_seed]))

    opts = CloudOptions(n_points, normalization, stats, seed, labels)
    suffixes = io.POINT_SUFFIXES
    return _load_folder(
        Path(path), split, read, suffixes, "point-cloud", opts, oversample, test_fraction, strict
    )

"""PointFlow's ShapeNetCore.v2.PC15k layout: ``<root>/<synset>/{train,val,test}/*.npy``,
15,000 points per shape, read into a :class:`~.data.PointCloudSet`."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from multigen.domain import DomainError
from multigen.fileio import read_each

from . import io
from .data import SPLITS, CloudOptions, PointCloudSet

# PointFlow's category names for the ShapeNetCore.v2 synsets it uses most.
SYNSETS = {
    "airplane": "02691156",
    "bench": "02828884",
    "cabinet": "02933112",
    "car": "02958343",
    "chair": "03001627",
    "display": "03211117",
    "lamp": "03636649",
    "loudspeaker": "03691459",
    "rifle": "04090263",
    "sofa": "04256520",
    "table": "04379243",
    "telephone": "04401088",
    "vessel": "04530566",
    "mug": "03797390",
    "vase": "03593526",
}


def pc15k(
    path: Path,
    split: str = "train",
    *,
    categories: list[str] | str = "airplane",
    n_points: int = 2048,
    max_points: int = 15000,
    normalization: str = "global",
    stats: dict | None = None,
    strict: bool = False,
    max_shapes: int | None = None,
    seed: int = 0,
    labels: bool = False,
) -> PointCloudSet:
    """PointFlow's ``ShapeNetCore.v2.PC15k/<synset>/{train,val,test}/*.npy`` (15k points each).

    ``categories``: names (``airplane``, ``chair``, ``car`` …) or synset ids, or ``all``.
    Training draws a fresh random ``n_points`` subset per item, as PointFlow does; the global
    statistics for ``val``/``test`` come from the train split (PointFlow's protocol).
    """
    root = Path(path)
    if not root.is_dir():
        raise DomainError(f"{root}: PC15k root not found (expected <root>/<synset>/{split}/*.npy)")
    if split not in SPLITS:
        raise DomainError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    if categories == "all":
        synsets = sorted(p.name for p in root.iterdir() if (p / split).is_dir())
    else:
        cats = [categories] if isinstance(categories, str) else list(categories)
        synsets = [SYNSETS.get(c, c) for c in cats]

    def read(f: Path) -> np.ndarray:
        pts = io.read_points(f)
        if len(pts) < n_points:
            raise DomainError(f"{f}: {len(pts)} points, fewer than n_points={n_points}")
        return pts

    class_names, clouds, label_ids, names, skipped = [], [], [], [], []
    for c, synset in enumerate(synsets):
        folder = root / synset / split
        if not folder.is_dir():
            raise DomainError(
                f"{folder}: missing; known categories: {', '.join(sorted(SYNSETS))} (or synset ids)"
            )
        class_names.append(next((k for k, v in SYNSETS.items() if v == synset), synset))
        files = sorted(folder.glob("*.npy"))[:max_shapes]
        read_ok, dropped = read_each(files, read, strict)
        skipped += dropped
        clouds += [pts[:max_points] for _, pts in read_ok]
        label_ids += [c] * len(read_ok)
        names += [f"{synset}/{split}/{files[i].name}" for i, _ in read_ok]
    if not clouds:
        raise DomainError(f"{root}: no usable .npy clouds for split {split!r}")
    size = min(len(p) for p in clouds)
    points = np.stack([p[:size] for p in clouds])
    if split != "train" and normalization == "global" and stats is None:
        stats = pc15k(
            root,
            "train",
            categories=categories,
            n_points=n_points,
            max_points=max_points,
            normalization="global",
            max_shapes=max_shapes,
        ).stats
    opts = CloudOptions(n_points, normalization, stats, seed, labels)
    return opts.dataset(points, label_ids, class_names, split, names, skipped)

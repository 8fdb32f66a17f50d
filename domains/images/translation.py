"""Paired image-to-image translation on digits: the pairs, the source-image condition and
the paired metrics (PSNR, SSIM).

Pairs are made offline from the embedded digits (``data.load_digits_dataset``), with no
randomness at all, so the same ``(split, size, task, factor)`` always gives the same pairs:

- ``sr`` (super-resolution): the source is the ``size``-pixel target shrunk ``factor`` times
  by area averaging (each source pixel is the mean of a factor x factor block, rounded),
  e.g. 16x16 digits from 4x4 sources, or 32x32 from 8x8 as in the issue's 8 -> 32 task.
- ``edges``: the source is the binary outline of the target's strokes: ink (pixels >=
  ``EDGE_LEVEL``) minus its 3x3 erosion (0 = background, 255 = edge; about a quarter of
  the pixels at 16x16).

A run trained on pairs feeds the source image to its networks as the condition
(``Batch.cond``, ``[B, C, h, w]`` in [-1, 1]); networks upsample it to the target size
themselves (bicubic, as SR3 does), so a super-resolution model is given the small image.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from multigen.domain import DomainError

from . import data

TASKS = ("sr", "edges")
EDGE_LEVEL = 96  # ink threshold of the edge maps (of 255)


class PairedDataset(data.ImageDataset):
    """Targets (``images``, uint8 ``[N,C,H,W]``) with their sources (uint8 ``[N,C,h,w]``);
    items are ``(target, source)`` in [-1, 1], the source travelling as the condition."""

    def __init__(self, images: Tensor, sources: Tensor, name: str, recipe: dict[str, Any]):
        super().__init__(images, None, None, name=name)
        if sources.dtype != torch.uint8 or sources.ndim != 4 or len(sources) != len(images):
            raise ValueError(f"sources must be uint8 [N,C,h,w] beside {len(images)} targets")
        self.sources = sources
        self.recipe = dict(recipe)

    def __getitem__(self, i: int):
        return data.to_float(self.images[i]), data.to_float(self.sources[i])


# ---- making the pairs --------------------------------------------------------------------
def downsample(images: Tensor, factor: int) -> Tensor:
    """Area-average uint8 images by an integer ``factor`` (each output pixel is the rounded
    mean of a factor x factor block)."""
    h, w = images.shape[-2:]
    if factor < 1 or h % factor or w % factor:
        raise DomainError(f"factor {factor} does not divide the image size {h}x{w}")
    x = F.avg_pool2d(images.float(), factor)
    return x.round().clamp(0, 255).to(torch.uint8)


def edge_map(images: Tensor, level: int = EDGE_LEVEL) -> Tensor:
    """Binary outlines (uint8 0/255): the ink (pixels >= ``level``) minus its erosion by a
    3x3 square (outside the image counts as background), i.e. the inner morphological
    gradient: every ink pixel with a background pixel among its 8 neighbours."""
    ink = (images >= level).float()
    eroded = -F.max_pool2d(-F.pad(ink, (1, 1, 1, 1), value=0.0), 3, stride=1)
    return ((ink - eroded) > 0).to(torch.uint8) * 255


def make_sources(targets: Tensor, task: str, factor: int = 4) -> Tensor:
    """The source image of each target for ``task`` (see the module docstring)."""
    if task == "sr":
        return downsample(targets, factor)
    if task == "edges":
        return edge_map(targets)
    raise DomainError(f"unknown translation task {task!r}; choose one of: {', '.join(TASKS)}")


def load_digits_pairs(
    path: Path | None, split: str = "train", size: int = 16, task: str = "sr", factor: int = 4
) -> PairedDataset:
    """The digits (``data.load_digits_dataset``, same fixed split) paired with sources."""
    if task not in TASKS:
        raise DomainError(f"data.params.task must be one of {', '.join(TASKS)}; got {task!r}")
    if not isinstance(factor, int) or factor < 2:
        raise DomainError(f"data.params.factor must be an integer >= 2, got {factor!r}")
    if task == "sr" and (not isinstance(size, int) or size % factor):
        raise DomainError(f"data.params.factor {factor} does not divide size {size!r}")
    targets = data.load_digits_dataset(None, split, size=size)
    sources = make_sources(targets.images, task, factor)
    recipe = {"dataset": "digits", "task": task, "size": size}
    if task == "sr":
        recipe["factor"] = factor
    return PairedDataset(targets.images, sources, f"digits_{task}:{split}", recipe)


def sr_loader(path: Path | None, split: str = "train", size: int = 16, factor: int = 4):
    """Dataset ``digits_sr``: super-resolution pairs."""
    return load_digits_pairs(path, split, size=size, task="sr", factor=factor)


def edges_loader(path: Path | None, split: str = "train", size: int = 16):
    """Dataset ``digits_edges``: edge map -> digit pairs."""
    return load_digits_pairs(path, split, size=size, task="edges")


def rebuild_pairs(info: Mapping[str, Any], split: str) -> PairedDataset:
    """The ``split`` pairs of the dataset a run was trained on (its ``info['pairs']``)."""
    recipe = info.get("pairs")
    if not isinstance(recipe, Mapping) or recipe.get("dataset") != "digits":
        raise DomainError(
            "this run was not trained on the digits pairs, so it has no test pairs; translate "
            "source images with `multigen translate RUN INPUT --out OUT`"
        )
    return _cached_pairs(
        split, int(recipe["size"]), str(recipe["task"]), int(recipe.get("factor", 4))
    )


@functools.lru_cache(maxsize=4)
def _cached_pairs(split: str, size: int, task: str, factor: int) -> PairedDataset:
    return load_digits_pairs(None, split, size=size, task=task, factor=factor)


def default_sources(info: Mapping[str, Any], generators: Sequence[torch.Generator]) -> Tensor:
    """Sources for samples drawn without any (the trainer's final samples): one test-split
    source per sample, picked by the sample's own template generator, in [-1, 1]."""
    test = rebuild_pairs(info, "test")
    idx = torch.stack([torch.randint(len(test), (), generator=g) for g in generators])
    return data.to_float(test.sources[idx])


def describe_pairs(ds: PairedDataset) -> dict[str, Any]:
    """What a paired run's ``info`` records: the source shape and how the pairs were made."""
    return {"source_shape": list(ds.sources.shape[1:]), "pairs": dict(ds.recipe)}


# ---- the condition -----------------------------------------------------------------------
def source_shape(info: Mapping[str, Any]) -> tuple[int, int, int] | None:
    shape = info.get("source_shape")
    return None if shape is None else tuple(int(s) for s in shape)


def check_sources(images: Tensor, info: Mapping[str, Any], where: str) -> None:
    """Refuse source images of a size or channel count the run was not trained on."""
    want = source_shape(info)
    if want is None:
        raise DomainError(
            f"{where}: this run was not trained on image pairs (data.name digits_sr, "
            "digits_edges), so it cannot translate images"
        )
    got = tuple(images.shape[1:])
    if got != want:
        raise DomainError(
            f"{where}: source images are {got[0]} channel(s) of {got[1]}x{got[2]} pixels; this "
            f"run translates {want[0]} channel(s) of {want[1]}x{want[2]}"
        )


def read_sources(path: Path, info: Mapping[str, Any]) -> tuple[Tensor, list[str]]:
    """Source images a user gives to a trained run: a folder of PNG/JPEG (searched
    recursively, ``grid.png`` skipped), one image file, or a .npz/.npy array. Returns uint8
    ``[N, C, h, w]`` and a name per image (the relative path without suffix). Every image
    must have the run's source shape; the first one that does not is named in the error."""
    from .io import GRID_NAME, IMAGE_SUFFIXES, read_image, read_npz_images

    where = str(path)
    if source_shape(info) is None:
        check_sources(torch.zeros(0, 0, 0, 0), info, where)
    if not path.exists():
        raise DomainError(f"input not found: {path}; give a folder of PNG/JPEG source images")
    if path.is_file() and path.suffix.lower() in (".npz", ".npy"):
        images = read_npz_images(path)[0]
        check_sources(images, info, where)
        return images, [f"{i:05d}" for i in range(len(images))]
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        files, root = [path], path.parent
    elif path.is_dir():
        files = sorted(
            p
            for p in path.rglob("*")
            if p.is_file()
            and p.suffix.lower() in IMAGE_SUFFIXES
            and p.name != GRID_NAME
            and not p.name.startswith(".")
        )
        root = path
        if not files:
            raise DomainError(f"no PNG/JPEG images found in {path}")
    else:
        raise DomainError(f"{path}: expected a folder of PNG/JPEG images or a .npz/.npy file")
    images = []
    for file in files:
        image = read_image(file)
        check_sources(image[None], info, str(file))
        images.append(image)
    names = [str(f.relative_to(root).with_suffix("")) for f in files]
    return torch.stack(images), names


def write_named(images: Tensor, names: Sequence[str], out_dir: Path) -> list[Path]:
    """One PNG per image, ``OUT/<name>.png`` (names may hold sub-folders)."""
    from .io import write_png

    return [write_png(img, Path(out_dir) / f"{name}.png") for img, name in zip(images, names)]


def read_targets(names: Sequence[str], folder: Path, shape: Sequence[int]) -> Tensor:
    """The paired target of each output: ``folder/<name>.png`` (or .jpg/.jpeg), uint8 of
    ``shape``; a missing or differently shaped target is refused naming its file."""
    from .io import IMAGE_SUFFIXES, read_image

    if not folder.is_dir():
        raise DomainError(f"targets folder not found: {folder}")
    images = []
    for name in names:
        file = next(
            (folder / f"{name}{s}" for s in IMAGE_SUFFIXES if (folder / f"{name}{s}").is_file()),
            None,
        )
        if file is None:
            raise DomainError(f"no target for source {name!r}: expected {folder / name}.png")
        image = read_image(file)
        if tuple(image.shape) != tuple(shape):
            raise DomainError(
                f"{file}: target of shape {list(image.shape)}, the outputs are {list(shape)}"
            )
        images.append(image)
    return torch.stack(images)


def upsample_source(source: Tensor, size: int) -> Tensor:
    """A source condition (float, [-1, 1]) at the target size: bicubic, clamped."""
    if source.shape[-1] == size and source.shape[-2] == size:
        return source
    up = F.interpolate(source.float(), size=(size, size), mode="bicubic", align_corners=False)
    return up.clamp(-1, 1)


def bicubic_baseline(sources: Tensor, size: int) -> Tensor:
    """The trivial super-resolution answer: uint8 sources bicubic-upsampled to ``size``."""
    return data.to_uint8(upsample_source(data.to_float(sources), size))


# ---- paired metrics ----------------------------------------------------------------------
def _as_float(images: Tensor) -> Tensor:
    if images.ndim != 4:
        raise DomainError(f"images must be [N,C,H,W], got shape {list(images.shape)}")
    return images.double()


def _check_pair(a: Tensor, b: Tensor) -> None:
    if a.shape != b.shape:
        raise DomainError(
            f"paired metrics need outputs and targets of one shape, got {list(a.shape)} and "
            f"{list(b.shape)}"
        )


def psnr(a: Tensor, b: Tensor, data_range: float = 255.0) -> Tensor:
    """Peak signal-to-noise ratio per image, 10·log10(R² / MSE) dB (inf when identical).
    Images are ``[N,C,H,W]`` on the scale ``data_range`` refers to (uint8: 255)."""
    _check_pair(a, b)
    mse = (_as_float(a) - _as_float(b)).square().flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)  # mse 0 -> inf


def gaussian_window(size: int = 11, sigma: float = 1.5) -> Tensor:
    x = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(
    a: Tensor,
    b: Tensor,
    data_range: float = 255.0,
    window: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
) -> Tensor:
    """Structural similarity per image (Wang et al. 2004): local means, variances and the
    covariance under a Gaussian window (11x11, σ 1.5; population moments), C1 = (k1·R)²,
    C2 = (k2·R)², the SSIM map over the positions where the whole window fits, averaged
    over positions and channels. Images smaller than the window use a window of their
    size (rounded down to odd)."""
    _check_pair(a, b)
    x, y = _as_float(a), _as_float(b)
    side = min(window, *x.shape[-2:])
    side -= 1 - side % 2  # odd
    w = gaussian_window(side, sigma)
    c = x.shape[1]
    kernel = w.view(1, 1, side, side).repeat(c, 1, 1, 1)

    def blur(t: Tensor) -> Tensor:
        return F.conv2d(t, kernel, groups=c)

    mx, my = blur(x), blur(y)
    vx = blur(x * x) - mx * mx
    vy = blur(y * y) - my * my
    cov = blur(x * y) - mx * my
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * cov + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return s.flatten(1).mean(1)


def paired_scores(outputs: Tensor, targets: Tensor) -> dict[str, float]:
    """Mean PSNR (dB) and SSIM of uint8 outputs against their uint8 targets."""
    p = psnr(outputs, targets)
    return {
        "psnr": float(p.mean()) if torch.isfinite(p).all() else math.inf,
        "ssim": float(ssim(outputs, targets).mean()),
    }

"""Unpaired image-to-image data (CycleGAN): two image sets, A (the sources) and B (the
targets), with no correspondence between them.

Items are ``(b, a)`` in [-1, 1], as for the paired sets (``translation.PairedDataset``), so
the B image is the state and the A image travels as the condition (``Batch.cond``) and
``multigen translate`` feeds a folder of A images to the A -> B generator. Item ``i`` holds
B image ``i mod |B|`` and A image ``i mod |A|`` (the length is the larger count): a fixed
pairing that no loss looks at: CycleGAN's losses compare sets, never an A with a B image.

Two datasets:

- ``digits_thin_bold``: thin (A) and bold (B) digits made by grey-level morphology of the
  embedded digits (``data.load_digits_dataset``, same fixed train/test split), with no
  randomness beyond the fixed split seed. A digit is made *thin* by grey-level erosion with
  the 3x3 plus-shaped structuring element (each pixel the minimum of itself and its 4
  neighbours, outside = 0) and *bold* by grey-level dilation with the same element (the
  maximum); then each image's levels are stretched so its brightest pixel is 255 (erosion
  dims the strokes, and the two domains should differ in width, not in brightness). At 16x16
  about 22 % (thin) and 52 % (bold) of the pixels are ink (>= 96), against 37 % for the
  digits. A and B come from *disjoint* digits: each split's digits are cut in two by a
  permutation seeded with ``UNPAIRED_SEED``; the first half is drawn thin (A), the second
  bold (B), so no digit is seen in both styles.
- ``unpaired_folder``: two user folders of PNG/JPEG images, ``data.path`` = B (the targets)
  and ``data.params.source_path`` = A (the sources); ``ROOT/<split>/`` is used where it
  exists, like the ``folder`` dataset. Both are read at ``size`` (32) and ``channels`` (3).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from multigen.domain import DomainError

from . import data

UNPAIRED_SEED = 18  # the halves of each split: part of the dataset's definition
STYLES = ("thin", "bold")


class UnpairedDataset(data.ImageDataset):
    """B images (``images``, uint8 ``[N,C,H,W]``) and A images (``sources``, uint8
    ``[M,C',h,w]``), any counts; items are ``(b, a)`` in [-1, 1] (see the module docstring)."""

    def __init__(self, images: Tensor, sources: Tensor, name: str, recipe: dict[str, Any]):
        super().__init__(images, None, None, name=name)
        if sources.dtype != torch.uint8 or sources.ndim != 4 or len(sources) == 0:
            raise ValueError("sources must be uint8 [M,C,h,w] with M >= 1")
        self.sources = sources
        self.recipe = dict(recipe)

    def __len__(self) -> int:
        return max(len(self.images), len(self.sources))

    def __getitem__(self, i: int):
        b = self.images[i % len(self.images)]
        a = self.sources[i % len(self.sources)]
        return data.to_float(b), data.to_float(a)


def describe_unpaired(ds: UnpairedDataset) -> dict[str, Any]:
    """What an unpaired run's ``info`` records: the A (source) shape and the recipe."""
    return {"source_shape": list(ds.sources.shape[1:]), "unpaired": dict(ds.recipe)}


# ---- thin and bold digits ----------------------------------------------------------------
def _plus_neighbours(images: Tensor) -> Tensor:
    """[5, N, C, H, W]: each pixel and its 4 neighbours (outside the image = 0)."""
    p = F.pad(images.float(), (1, 1, 1, 1), value=0.0)
    c = p[..., 1:-1, 1:-1]
    return torch.stack(
        [c, p[..., :-2, 1:-1], p[..., 2:, 1:-1], p[..., 1:-1, :-2], p[..., 1:-1, 2:]]
    )


def stretch(x: Tensor) -> Tensor:
    """Levels scaled so each image's brightest pixel is 255 (blank images stay blank)."""
    top = x.float().amax(dim=(-3, -2, -1), keepdim=True)
    out = torch.where(top > 0, x.float() * 255.0 / top.clamp(min=1e-6), torch.zeros_like(x.float()))
    return out.round().clamp(0, 255).to(torch.uint8)


def thin(images: Tensor) -> Tensor:
    """Grey-level erosion by the 3x3 plus, then :func:`stretch` (uint8 in, uint8 out)."""
    return stretch(_plus_neighbours(images).amin(0))


def bold(images: Tensor) -> Tensor:
    """Grey-level dilation by the 3x3 plus, then :func:`stretch` (uint8 in, uint8 out)."""
    return stretch(_plus_neighbours(images).amax(0))


def halves(n: int) -> tuple[np.ndarray, np.ndarray]:
    """The fixed cut of ``n`` digits into the A half (first ceil(n/2) of a seeded
    permutation) and the B half (the rest), each sorted."""
    perm = np.random.default_rng(UNPAIRED_SEED).permutation(n)
    k = (n + 1) // 2
    return np.sort(perm[:k]), np.sort(perm[k:])


def digits_in_style(split: str, size: int, style: str, half: str | None = None):
    """The ``split`` digits at ``size`` drawn ``style`` (thin|bold), all of them or one
    ``half`` (a|b); returns (uint8 images, labels)."""
    if style not in STYLES:
        raise DomainError(f"digit style must be one of {', '.join(STYLES)}; got {style!r}")
    ds = data.load_digits_dataset(None, split, size=size)
    images, labels = ds.images, ds.labels
    if half is not None:
        idx = torch.from_numpy(halves(len(images))[0 if half == "a" else 1])
        images, labels = images[idx], labels[idx]
    return (thin(images) if style == "thin" else bold(images)), labels


def thin_bold_loader(path: Path | None, split: str = "train", size: int = 16) -> UnpairedDataset:
    """Dataset ``digits_thin_bold``: thin digits (A) and bold digits (B), disjoint halves."""
    if split == "all":
        raise DomainError("dataset 'digits_thin_bold' has splits train, test; got 'all'")
    a, _ = digits_in_style(split, size, "thin", "a")
    b, _ = digits_in_style(split, size, "bold", "b")
    recipe = {"dataset": "digits_thin_bold", "size": size}
    return UnpairedDataset(b, a, f"digits_thin_bold:{split}", recipe)


@functools.lru_cache(maxsize=4)
def _test_sources(size: int) -> Tensor:
    return thin_bold_loader(None, "test", size=size).sources


# ---- two user folders --------------------------------------------------------------------
def _folder(path: Any, split: str | None, what: str, size, channels, strict) -> data.ImageDataset:
    """One side's images, refused in one line naming the folder and its config key."""
    root = Path(path)
    if not root.exists():
        raise DomainError(f"unpaired_folder: {what} folder not found: {root}")
    if not root.is_dir():
        raise DomainError(f"unpaired_folder: {what} {root} is not a folder")
    where = root / split if split and (root / split).is_dir() else root
    if not data._list_images(where):
        raise DomainError(f"unpaired_folder: {what} folder {where} holds no PNG/JPEG images")
    return data.load_folder_dataset(root, split, size=size, channels=channels, strict=strict)


def folder_loader(
    path: Path | None,
    split: str = "train",
    source_path: str | None = None,
    size: int = 32,
    channels: int = 3,
    strict: bool = True,
) -> UnpairedDataset:
    """Dataset ``unpaired_folder``: B images from ``data.path``, A images from
    ``data.params.source_path``; both read at ``size`` and ``channels``."""
    if path is None:
        raise DomainError("dataset 'unpaired_folder' needs data.path: the folder of B images")
    if source_path is None:
        raise DomainError(
            "dataset 'unpaired_folder' needs data.params.source_path: the folder of A images"
        )
    b = _folder(path, split, "B (data.path)", size, channels, strict)
    a = _folder(source_path, split, "A (data.params.source_path)", size, channels, strict)
    recipe = {
        "dataset": "unpaired_folder",
        "path": str(path),
        "source_path": str(source_path),
        "size": size,
        "channels": channels,
    }
    return UnpairedDataset(b.images, a.images, f"unpaired:{a.name}->{b.name}", recipe)


# ---- sampling without sources ------------------------------------------------------------
def default_sources(info: Mapping[str, Any], generators: Sequence[torch.Generator]) -> Tensor:
    """A images for samples drawn without any (the trainer's final samples, ``multigen
    sample``): one per sample, picked by the sample's own generator, in [-1, 1]: the test
    thin digits, or the A folder's test (else only) images where the folder still exists."""
    recipe = info["unpaired"]
    if recipe.get("dataset") == "digits_thin_bold":
        pool = _test_sources(int(recipe["size"]))
    else:
        src = Path(str(recipe.get("source_path")))
        if not src.is_dir():
            raise DomainError(
                f"the A folder this run was trained on ({src}) is gone, so there are no "
                "default sources; translate A images with `multigen translate RUN INPUT`"
            )
        split = "test" if (src / "test").is_dir() else None
        pool = _folder(src, split, "A", recipe["size"], recipe["channels"], False).images
    idx = torch.stack([torch.randint(len(pool), (), generator=g) for g in generators])
    return data.to_float(pool[idx])

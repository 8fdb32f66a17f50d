"""Image datasets: scikit-learn digits (embedded), image folders (PNG/JPEG) and .npz arrays.

Every dataset keeps its pixels as uint8 ``[N, C, H, W]`` (compact, exact) and scales them to
[-1, 1] float on access, which is the network scale of this domain (σ_data = 0.5).
"""

from __future__ import annotations

import logging
from collections import Counter
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from multigen.domain import DomainError
from multigen.fileio import read_each

from .io import GRID_NAME, IMAGE_SUFFIXES, read_image, read_npz_images, write_png

log = logging.getLogger(__name__)

DIGITS_TEST_FRACTION = 0.2
DIGITS_SPLIT_SEED = 0  # the split is part of the dataset's definition: never change it


class ImageDataset(torch.utils.data.Dataset):
    """uint8 images ``[N, C, H, W]`` (+ optional class labels) served in [-1, 1].

    ``skipped`` lists ``(path, reason)`` for files a non-strict folder load left out.
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor | None = None,
        class_names: list[str] | None = None,
        name: str = "images",
        skipped: list[tuple[str, str]] | None = None,
    ):
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise ValueError(f"images must be uint8 [N,C,H,W], got {images.dtype} {images.shape}")
        self.images = images
        self.labels = labels
        self.class_names = list(class_names or [])
        self.name = name
        self.skipped = list(skipped or [])

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.labels is not None else 0

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, i: int):
        x = to_float(self.images[i])
        if self.labels is None:
            return x
        return x, int(self.labels[i])


def to_float(images: Tensor) -> Tensor:
    """uint8 [0, 255] -> float [-1, 1]."""
    return images.float() / 127.5 - 1.0


def to_uint8(x: Tensor) -> Tensor:
    """float [-1, 1] (clipped) -> uint8 [0, 255]."""
    return ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)


def resize_uint8(images: Tensor, size: int | tuple[int, int]) -> Tensor:
    """Bilinear (antialiased when shrinking) resize of uint8 images."""
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if tuple(images.shape[-2:]) == hw:
        return images
    x = F.interpolate(images.float(), size=hw, mode="bilinear", align_corners=False, antialias=True)
    return x.round().clamp(0, 255).to(torch.uint8)


def match_channels(images: Tensor, channels: int) -> Tensor:
    """1 <-> 3 channels: luminance (ITU-R 601) for RGB -> grey, repetition for grey -> RGB."""
    c = images.shape[1]
    if c == channels:
        return images
    if c == 1 and channels == 3:
        return images.expand(-1, 3, -1, -1).contiguous()
    if c == 3 and channels == 1:
        w = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (images.float() * w).sum(1, keepdim=True).round().clamp(0, 255).to(torch.uint8)
    if c == 4:  # RGBA: drop alpha
        return match_channels(images[:, :3], channels)
    raise DomainError(f"cannot convert images with {c} channels to {channels} channels")


def _check_size(size: int) -> int:
    if not isinstance(size, int) or size < 4:
        raise DomainError(f"image size must be an integer >= 4, got {size!r}")
    return size


def _check_split(split: str, allowed: tuple[str, ...], name: str) -> None:
    if split not in allowed:
        raise DomainError(f"dataset {name!r} has splits {', '.join(allowed)}; got {split!r}")


# ---- digits ------------------------------------------------------------------------------
def digits_split_indices(split: str) -> np.ndarray:
    """Fixed split of the 1,797 digits: a seeded permutation, last 20 % = test."""
    from sklearn.datasets import load_digits

    n = load_digits().images.shape[0]
    perm = np.random.default_rng(DIGITS_SPLIT_SEED).permutation(n)
    n_test = int(round(n * DIGITS_TEST_FRACTION))
    if split == "train":
        return np.sort(perm[: n - n_test])
    if split == "test":
        return np.sort(perm[n - n_test :])
    return np.arange(n)


def load_digits_dataset(path: Path | None, split: str = "train", size: int = 16) -> ImageDataset:
    """scikit-learn's 8x8 digits (0..16 ink levels), upsampled to ``size`` (16 or 32 usual)."""
    from sklearn.datasets import load_digits

    _check_split(split, ("train", "test", "all"), "digits")
    size = _check_size(size)
    data = load_digits()
    idx = digits_split_indices(split)
    x = torch.from_numpy(data.images[idx]).float()[:, None] / 16.0  # [N,1,8,8] in [0,1]
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    labels = torch.from_numpy(data.target[idx]).long()
    return ImageDataset(images, labels, [str(i) for i in range(10)], name=f"digits:{split}")


def prepare_digits(out_dir: Path, size: int = 16) -> Path:
    """Write digits as an image folder: ``OUT/{train,test}/<class>/<index>.png``."""

    out_dir = Path(out_dir)
    for split in ("train", "test"):
        ds = load_digits_dataset(None, split, size=size)
        for i in range(len(ds)):
            label = ds.class_names[int(ds.labels[i])]
            write_png(ds.images[i], out_dir / split / label / f"{i:05d}.png")
    return out_dir


# ---- image folders -----------------------------------------------------------------------
def _list_images(folder: Path) -> list[Path]:
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
    )


def scan_folder(root: Path) -> tuple[list[Path], list[int] | None, list[str]]:
    """Image files and class labels (one class per immediate sub-folder, sorted by name).

    Images directly in ``root`` with no class sub-folders form an unlabelled set.
    """
    if not root.exists():
        raise DomainError(f"image folder not found: {root}; check data.path (or --reference)")
    if not root.is_dir():
        raise DomainError(f"{root} is not a folder; give a folder of PNG/JPEG images")
    top = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    class_files = [(c, _list_images(c)) for c in classes]
    class_files = [(c, f) for c, f in class_files if f]
    if top and class_files:
        raise DomainError(
            f"{root} holds images both directly and in sub-folders "
            f"({', '.join(c.name for c, _ in class_files[:3])}...); put every image in a class "
            "sub-folder, or none of them"
        )
    if class_files:
        files = [p for _, fs in class_files for p in fs]
        labels = [i for i, (_, fs) in enumerate(class_files) for _ in fs]
        return files, labels, [c.name for c, _ in class_files]
    if not top:
        raise DomainError(
            f"no PNG/JPEG images found in {root} (looked for {', '.join(IMAGE_SUFFIXES)})"
        )
    return top, None, []


def read_images(
    files: list[Path], size: int | None, channels: int | None, strict: bool
) -> tuple[list[Tensor], list[int], list[tuple[str, str]]]:
    """Read, resize + centre-crop each file; returns images, kept indices, skipped (path, why)."""
    hint = (
        "; remove or fix the file, or skip unreadable files with strict=false "
        "(data.params.strict in a config)"
    )
    read = partial(read_image, size=size, channels=channels)
    read_ok, skipped = read_each(files, read, strict, hint)
    kept, images = [i for i, _ in read_ok], [img for _, img in read_ok]
    return images, kept, skipped


def load_folder_dataset(
    path: Path | None,
    split: str | None = "train",
    size: int | None = 32,
    channels: int | None = 3,
    strict: bool = True,
) -> ImageDataset:
    """PNG/JPEG images, classes from sub-folders; ``ROOT/<split>/`` is used when it exists.

    ``size`` None keeps the most common native size; ``channels`` None keeps grey images grey
    unless the folder also holds colour ones.
    """
    if path is None:
        raise DomainError("dataset 'folder' needs a path (data.path in the config)")
    if channels not in (1, 3, None):
        raise DomainError(f"folder: channels must be 1 or 3, got {channels!r}")
    if size is not None:
        size = _check_size(size)
    root = Path(path)
    if split and (root / split).is_dir():
        root = root / split
    files, labels, class_names = scan_folder(root)
    if size is None:  # keep the native resolution: the most common shorter side
        size = most_common_size(files)
    images, kept, skipped = read_images(files, size, channels, strict)
    if skipped:
        log.warning(
            "skipped %d unreadable image(s) in %s, e.g. %s (%s)",
            len(skipped),
            root,
            skipped[0][0],
            skipped[0][1],
        )
    if not images:
        raise DomainError(f"none of the {len(files)} images in {root} could be read")
    if channels is None:
        c = max(im.shape[0] for im in images)
        images = [match_channels(im[None], c)[0] for im in images]
    y = None if labels is None else torch.tensor([labels[i] for i in kept], dtype=torch.long)
    return ImageDataset(torch.stack(images), y, class_names, name=str(root), skipped=skipped)


def most_common_size(files: list[Path]) -> int:
    from PIL import Image

    sizes: Counter[int] = Counter()
    for path in files[:1000]:
        try:
            with Image.open(path) as im:
                sizes[min(im.size)] += 1
        except Exception:  # noqa: BLE001 - unreadable files are reported by the real read
            continue
    if not sizes:
        raise DomainError(f"none of the images could be read, e.g. {files[0]}")
    return sizes.most_common(1)[0][0]


# ---- .npz arrays -------------------------------------------------------------------------
def load_npz_dataset(
    path: Path | None, split: str = "train", size: int | None = None, channels: int | None = None
) -> ImageDataset:
    """``x``/``images`` (N,H,W[,C]) uint8 or float, optional ``y``/``labels`` class ids."""
    if path is None:
        raise DomainError("dataset 'npz' needs a path (data.path in the config)")
    images, labels = read_npz_images(Path(path))
    if channels is not None:
        images = match_channels(images, channels)
    if size is not None:
        images = resize_uint8(center_crop_square(images), _check_size(size))
    names = [str(i) for i in range(int(labels.max()) + 1)] if labels is not None else []
    return ImageDataset(images, labels, names, name=str(path))


def center_crop_square(images: Tensor) -> Tensor:
    h, w = images.shape[-2:]
    s = min(h, w)
    top, left = (h - s) // 2, (w - s) // 2
    return images[..., top : top + s, left : left + s]


def load_image_files(path: Path, strict: bool = False) -> tuple[Tensor, list[tuple[str, str]]]:
    """A folder of PNG/JPEG (``grid.png`` ignored), or a .npz/.npy file -> uint8 [N,C,H,W].

    Images of different sizes are resized + centre-cropped to the most common size; mixed
    grey/RGB folders become RGB. Unreadable files raise in strict mode and are skipped
    (and returned as ``(path, reason)``) otherwise.
    """
    path = Path(path)
    if path.is_file() and path.suffix.lower() in (".npz", ".npy"):
        return read_npz_images(path)[0], []
    if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
        return read_image(path)[None], []
    if not path.exists():
        raise DomainError(f"samples not found: {path}; give a folder of PNG/JPEG or a .npz file")
    if not path.is_dir():
        raise DomainError(f"{path}: expected a folder of PNG/JPEG images or a .npz/.npy file")
    files = sorted(
        p
        for p in path.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and p.name != GRID_NAME
        and not p.name.startswith(".")
    )
    if not files:
        raise DomainError(f"no PNG/JPEG images found in {path}")
    images, _, skipped = read_images(files, None, None, strict)
    if not images:
        raise DomainError(f"none of the {len(files)} images in {path} could be read")
    channels = max(im.shape[0] for im in images)
    sizes = {tuple(im.shape[1:]) for im in images}
    if len(sizes) > 1:
        size = most_common_size(files)
        images, _, more = read_images(files, size, channels, strict)
        skipped += [s for s in more if s not in skipped]
    else:
        images = [match_channels(im[None], channels)[0] for im in images]
    return torch.stack(images), skipped

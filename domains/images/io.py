"""Image files: PNG/JPEG reading (resize + centre crop), .npz arrays, PNG writing and grids.

Readers raise :class:`DomainError` naming the file; writers go through a temporary file and
a rename so an interrupted export never leaves half a PNG behind.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from multigen.domain import DomainError
from multigen.fileio import atomic_save, load_numpy

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
GRID_NAME = "grid.png"  # written next to the samples; never read back as a sample


def read_image(path: Path, size: int | None = None, channels: int | None = None) -> Tensor:
    """One image -> uint8 ``[C, H, W]``; shorter side resized to ``size``, then centre-cropped.

    ``channels`` None keeps grey images grey (1) and turns everything else into RGB (3).
    """
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as im:
            im.load()  # decode now: truncated/corrupt files fail here, not later
            mode = im.mode
            if channels is None:
                channels = 1 if mode in ("1", "L", "LA", "I", "I;16", "F") else 3
            if mode in ("I", "I;16", "F"):  # 16-bit/float grey: rescale to 8 bits
                arr = np.asarray(im, dtype=np.float64)
                hi = 65535.0 if arr.max() > 255 else 255.0
                im = Image.fromarray((arr / hi * 255).round().clip(0, 255).astype(np.uint8))
            im = im.convert("L" if channels == 1 else "RGB")
            if size is not None:
                im = _resize_center_crop(im, size)
            arr = np.asarray(im, dtype=np.uint8)
    except FileNotFoundError:
        raise DomainError(f"image file not found: {path}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as err:
        raise DomainError(f"unreadable image: {path}: {err}") from None
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return torch.from_numpy(arr.copy()).permute(2, 0, 1).contiguous()


def _resize_center_crop(im, size: int):
    from PIL import Image

    w, h = im.size
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    if (nw, nh) != (w, h):
        im = im.resize((nw, nh), Image.Resampling.BICUBIC)  # PIL antialiases when shrinking
    left, top = (nw - size) // 2, (nh - size) // 2
    return im.crop((left, top, left + size, top + size))


def read_npz_images(path: Path) -> tuple[Tensor, Tensor | None]:
    """``.npz`` (keys x/images, optional y/labels) or ``.npy`` -> uint8 [N,C,H,W], labels."""
    if not path.is_file():
        raise DomainError(f"array file not found: {path}")
    data = load_numpy(path)  # sizes checked, never unpickled; errors name the file
    labels = None
    if isinstance(data, np.ndarray):  # .npy
        arr = data
    else:
        keys = list(data)
        key = next((k for k in ("x", "images") if k in keys), None)
        if key is None:
            raise DomainError(f"{path}: no image array; expected key 'x' or 'images', found {keys}")
        arr = data[key]
        if arr.ndim == 0:
            raise DomainError(f"{path}: '{key}' is a scalar, not an array of images")
        lkey = next((k for k in ("y", "labels") if k in keys), None)
        if lkey is not None:
            labels = _labels(np.asarray(data[lkey]), arr.shape[0], path, lkey)
    return array_to_uint8(arr, path), labels


def _labels(y: np.ndarray, n: int, path: Path, key: str) -> Tensor:
    y = y.reshape(-1)
    if y.shape[0] != n:
        raise DomainError(f"{path}: '{key}' has {y.shape[0]} entries but there are {n} images")
    if not np.issubdtype(y.dtype, np.integer) or (y.size and y.min() < 0):
        raise DomainError(f"{path}: '{key}' must hold non-negative integer class ids")
    return torch.from_numpy(y.astype(np.int64))


def array_to_uint8(arr: np.ndarray, source: Path | str) -> Tensor:
    """(N,H,W) or (N,H,W,C) [or (N,C,H,W) with C in 1,3] uint8/float -> uint8 [N,C,H,W].

    Floats in [0,1] and in [-1,1] are both accepted (a negative value means [-1,1]);
    floats up to 255 are read as 0..255.
    """
    if arr.ndim == 3:
        arr = arr[..., None]
    if arr.ndim != 4:
        raise DomainError(f"{source}: images must be (N,H,W) or (N,H,W,C), got shape {arr.shape}")
    if arr.shape[-1] not in (1, 3, 4) and arr.shape[1] in (1, 3):
        arr = np.moveaxis(arr, 1, -1)  # channels-first input
    if arr.shape[-1] not in (1, 3, 4):
        raise DomainError(f"{source}: last axis must be 1, 3 or 4 channels, got shape {arr.shape}")
    if arr.shape[0] == 0:
        raise DomainError(f"{source}: the array holds no images")
    if arr.dtype == np.uint8:
        out = arr
    elif np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer):
        a = arr.astype(np.float64)
        if not np.isfinite(a).all():
            raise DomainError(f"{source}: images contain NaN or infinite values")
        lo, hi = a.min(), a.max()
        if lo >= -1.0 and hi <= 1.0 and np.issubdtype(arr.dtype, np.floating):
            a = (a + 1) * 127.5 if lo < 0 else a * 255.0
        elif lo < 0 or hi > 255:
            raise DomainError(
                f"{source}: pixel values span [{lo:g}, {hi:g}]; expected uint8, [0,1] or [-1,1]"
            )
        out = a.round().clip(0, 255).astype(np.uint8)
    else:
        raise DomainError(f"{source}: unsupported image dtype {arr.dtype}")
    t = torch.from_numpy(np.ascontiguousarray(out)).permute(0, 3, 1, 2).contiguous()
    return t[:, :3] if t.shape[1] == 4 else t


# ---- writing -----------------------------------------------------------------------------
def write_png(image: Tensor, path: Path) -> Path:
    """uint8 ``[C, H, W]`` (C = 1 or 3) -> PNG."""
    from PIL import Image

    arr = image.detach().cpu().permute(1, 2, 0).numpy()
    im = Image.fromarray(arr[:, :, 0] if arr.shape[2] == 1 else arr)
    atomic_save(Path(path), lambda tmp: im.save(tmp, format="PNG"))
    return Path(path)


def make_grid(images: Tensor, nrow: int | None = None, pad: int = 2, min_tile: int = 32) -> Tensor:
    """uint8 [N,C,H,W] -> one uint8 [C, H', W'] grid; small tiles are enlarged (nearest)."""
    n, c, h, w = images.shape
    scale = max(1, math.ceil(min_tile / max(h, w)))
    if scale > 1:
        images = images.repeat_interleave(scale, dim=2).repeat_interleave(scale, dim=3)
        h, w = h * scale, w * scale
    nrow = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / nrow)
    grid = torch.zeros((c, rows * (h + pad) + pad, nrow * (w + pad) + pad), dtype=torch.uint8)
    for i in range(n):
        r, k = divmod(i, nrow)
        top, left = pad + r * (h + pad), pad + k * (w + pad)
        grid[:, top : top + h, left : left + w] = images[i]
    return grid


def export_images(images: Tensor, out_dir: Path) -> list[Path]:
    """One PNG per sample (``sample_00000.png``...) plus ``grid.png``."""
    out_dir = Path(out_dir)
    files = [write_png(img, out_dir / f"sample_{i:05d}.png") for i, img in enumerate(images)]
    if len(images):
        files.append(write_png(make_grid(images), out_dir / GRID_NAME))
    return files

"""Point-cloud files: PLY (binary/ASCII, via trimesh), XYZ/TXT (whitespace columns), NPY/NPZ.

Readers return float32 ``[M, 3]`` arrays and raise :class:`DomainError` naming the file.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from multigen.domain import DomainError
from multigen.fileio import error_text, load_numpy

POINT_SUFFIXES = {".ply", ".xyz", ".txt", ".pts", ".npy", ".npz"}


def read_points(path: Path, max_bytes: int = 256 * 2**20) -> np.ndarray:
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in POINT_SUFFIXES:
        raise DomainError(
            f"{path}: unsupported point-cloud format {suffix!r}; "
            f"use one of {sorted(POINT_SUFFIXES)}"
        )
    if path.stat().st_size > max_bytes:
        raise DomainError(f"{path}: file is larger than {max_bytes / 2**20:.0f} MiB")
    try:
        if suffix == ".npy":
            pts = load_numpy(path)
        elif suffix == ".npz":
            arrays = load_numpy(path)
            if not arrays:
                raise DomainError(f"{path}: holds no arrays")
            pts = arrays["points"] if "points" in arrays else next(iter(arrays.values()))
        elif suffix == ".ply":
            geom = trimesh.load(path, process=False)
            pts = np.asarray(getattr(geom, "vertices", np.zeros((0, 3))))
        else:
            pts = np.loadtxt(path, ndmin=2, comments="#")
    except DomainError:
        raise
    except Exception as exc:
        raise DomainError(f"{path}: cannot be read ({error_text(exc)})") from None
    return check_points(pts, str(path))


def check_points(pts: np.ndarray, name: str) -> np.ndarray:
    pts = np.asarray(pts)
    if pts.ndim != 2 or pts.shape[1] < 3:
        raise DomainError(f"{name}: expected an [M, 3] array of points, got shape {pts.shape}")
    if pts.shape[0] == 0:
        raise DomainError(f"{name}: empty point cloud")
    pts = pts[:, :3].astype(np.float32)
    if not np.isfinite(pts).all():
        raise DomainError(f"{name}: points contain NaN or infinite coordinates")
    return pts


def write_ply(path: Path, points: np.ndarray) -> Path:
    """Binary little-endian PLY with float x, y, z (what MeshLab, Open3D and trimesh read)."""
    points = np.ascontiguousarray(points, dtype="<f4")
    header = (
        "ply\nformat binary_little_endian 1.0\n"
        f"element vertex {len(points)}\n"
        "property float x\nproperty float y\nproperty float z\nend_header\n"
    )
    with open(path, "wb") as f:
        f.write(header.encode("ascii"))
        f.write(points.tobytes())
    return Path(path)


def resample(points: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Exactly ``n`` points: a random subset, or with replacement when there are fewer."""
    m = len(points)
    idx = rng.choice(m, n, replace=m < n)
    return points[idx]

"""Point cloud -> watertight triangle mesh (occupancy grid + marching cubes).

1. Distance from every voxel centre of a padded grid to the nearest point (KD-tree).
2. A morphological closing with a ball of radius R (a few times the mean point spacing):
   voxels within R of a point form a hole-free shell, the cavities it encloses are filled,
   and an exact erosion (Euclidean distance transform) brings the surface back to about one
   point spacing from the samples. This yields one solid instead of a double-walled offset
   surface, and needs no normals (unlike Poisson reconstruction).
3. A lightly smoothed occupancy goes through scikit-image's marching cubes at 0.5. The grid
   is padded, so the iso-surface is closed: the result is watertight by construction.

Thin parts come out slightly thickened (by about one point spacing), and concave gaps
narrower than 2R get bridged.
"""

from __future__ import annotations

import numpy as np
import trimesh
from scipy import ndimage
from scipy.spatial import cKDTree
from skimage.measure import marching_cubes


def point_spacing(points: np.ndarray) -> float:
    """Mean distance from a point to its nearest neighbour."""
    d, _ = cKDTree(points).query(points, k=2)
    return float(d[:, 1].mean())


def points_to_mesh(
    points: np.ndarray,
    resolution: int = 64,
    close_factor: float = 4.0,
    keep_factor: float = 1.0,
    smooth: float = 0.8,
) -> trimesh.Trimesh:
    """Mesh the closing of the sampled surface.

    ``close_factor`` x mean spacing is the closing radius R: random samples leave holes of
    up to ~3x the mean spacing, and the shell must have none for its inside to be found.
    ``keep_factor`` x spacing (at least 1.5 voxels) is how far the final surface sits from
    the points.
    """
    points = np.asarray(points, np.float64)
    points = points[np.isfinite(points).all(axis=1)]
    if len(points) < 4:
        raise ValueError("need at least 4 finite points to build a mesh")
    spacing = point_spacing(points)
    lo, hi = points.min(0), points.max(0)
    voxel = max(float((hi - lo).max()), 1e-9) / (resolution - 1)
    keep = max(keep_factor * spacing, 1.5 * voxel)
    close = max(close_factor * spacing, keep + 2 * voxel)
    pad = close + 3 * voxel
    lo, hi = lo - pad, hi + pad
    shape = np.ceil((hi - lo) / voxel).astype(int) + 1
    axes = [lo[i] + voxel * np.arange(shape[i]) for i in range(3)]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    dist, _ = cKDTree(points).query(grid, k=1, distance_upper_bound=1.01 * close)
    # Closing with a ball: dilate to R, fill enclosed cavities, erode back to `keep`.
    dilated = ndimage.binary_fill_holes((dist < close).reshape(shape))
    depth = ndimage.distance_transform_edt(dilated) * voxel
    solid = (depth > close - keep).astype(np.float32)
    if smooth > 0:
        solid = ndimage.gaussian_filter(solid, smooth)
    verts, faces, _, _ = marching_cubes(solid, level=0.5, spacing=(voxel,) * 3)
    mesh = trimesh.Trimesh(verts + lo, faces[:, ::-1], process=True)
    if mesh.volume < 0:  # keep normals pointing outwards
        mesh.invert()
    return mesh


def export_mesh(mesh: trimesh.Trimesh, stem, formats=("ply", "obj", "glb")) -> list:
    """Write ``stem.<fmt>`` for each format; returns the paths."""
    from pathlib import Path

    paths = []
    for fmt in formats:
        path = Path(f"{stem}.{fmt}")
        mesh.export(path, file_type=fmt)
        paths.append(path)
    return paths

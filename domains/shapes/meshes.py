"""Mesh files -> validated triangle meshes -> area-weighted surface samples.

Every check raises :class:`DomainError` naming the file and what to do, so a folder loader
can either skip the file (recording why) or stop (``strict``). The same checks, with the same
options (``READ_OPTIONS``), apply to every format and every command: training data
(``data.params``), ``evaluate`` samples and references (``--option``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from multigen.domain import DomainError, option_hint
from multigen.fileio import error_text

MESH_SUFFIXES = {".obj", ".stl", ".ply", ".off", ".glb", ".gltf"}
DEFAULT_MAX_BYTES = 256 * 2**20
DEFAULT_MAX_FACES = 2_000_000
READ_OPTIONS = {
    "check_manifold": "reject meshes with an edge shared by more than two faces (default true)",
    "drop_degenerate": "drop zero-area faces instead of rejecting the mesh (default true)",
    "max_bytes": f"largest mesh file read (default {DEFAULT_MAX_BYTES})",
    "max_faces": f"most faces a mesh may have (default {DEFAULT_MAX_FACES})",
}


def load_mesh(
    path: Path,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_faces: int = DEFAULT_MAX_FACES,
    check_manifold: bool = True,
    drop_degenerate: bool = True,
) -> trimesh.Trimesh:
    """Read one mesh file (scenes are flattened) and validate it."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise DomainError(
            f"{path}: unsupported mesh format {suffix!r}; use one of {sorted(MESH_SUFFIXES)}"
        )
    size = path.stat().st_size
    if size > max_bytes:
        raise DomainError(
            f"{path}: file is {size / 2**20:.0f} MiB, over the {max_bytes / 2**20:.0f} MiB limit; "
            f"decimate it or raise {option_hint('max_bytes=BYTES')}"
        )
    try:
        loaded = trimesh.load(path, force="mesh", process=False)
    except Exception as exc:  # trimesh raises many types for corrupt files
        raise DomainError(f"{path}: cannot be read as a mesh ({error_text(exc)})") from None
    return validate_mesh(
        loaded,
        str(path),
        max_faces=max_faces,
        check_manifold=check_manifold,
        drop_degenerate=drop_degenerate,
    )


def validate_mesh(
    mesh: trimesh.Trimesh,
    name: str,
    *,
    max_faces: int = DEFAULT_MAX_FACES,
    check_manifold: bool = True,
    drop_degenerate: bool = True,
) -> trimesh.Trimesh:
    """Reject meshes we cannot sample sensibly; drop zero-area faces unless told not to."""
    if not isinstance(mesh, trimesh.Trimesh) or len(mesh.faces) == 0 or len(mesh.vertices) == 0:
        raise DomainError(f"{name}: empty mesh (no triangles)")
    if len(mesh.faces) > max_faces:
        raise DomainError(
            f"{name}: {len(mesh.faces)} faces, over the {max_faces} limit; decimate it or raise "
            f"{option_hint('max_faces=N')}"
        )
    vertices = np.asarray(mesh.vertices)
    if vertices.ndim != 2 or vertices.shape[1] != 3:  # e.g. an OBJ 'v' line with 2 numbers
        raise DomainError(
            f"{name}: vertices must be 3-D points, got an array of shape {vertices.shape}"
        )
    if not np.isfinite(vertices).all():
        raise DomainError(f"{name}: vertices contain NaN or infinite coordinates")
    if np.abs(vertices).max() > 1e30:  # squared in areas and cast to float32 when sampled
        raise DomainError(
            f"{name}: vertex coordinates up to {np.abs(vertices).max():.3g}; rescale it"
        )
    faces = np.asarray(mesh.faces)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise DomainError(f"{name}: faces must be triangles, got an array of shape {faces.shape}")
    if faces.min() < 0 or faces.max() >= len(vertices):
        worst = int(faces.max()) if faces.max() >= len(vertices) else int(faces.min())
        raise DomainError(
            f"{name}: a face refers to vertex {worst} but the mesh has {len(vertices)} vertices"
        )
    areas = mesh.area_faces
    degenerate = ~(areas > 1e-14)
    if degenerate.all():
        raise DomainError(f"{name}: all faces have zero area (nothing to sample)")
    if degenerate.any():
        if not drop_degenerate:
            raise DomainError(
                f"{name}: {int(degenerate.sum())} zero-area faces; fix the mesh or set "
                f"{option_hint('drop_degenerate=true')}"
            )
        mesh = trimesh.Trimesh(vertices, mesh.faces[~degenerate], process=False)
    if check_manifold:
        shared = overshared_edges(mesh)
        if shared:
            raise DomainError(
                f"{name}: non-manifold mesh ({shared} edges shared by more than two faces); "
                f"repair it or set {option_hint('check_manifold=false')}"
            )
    return mesh


def overshared_edges(mesh: trimesh.Trimesh) -> int:
    """Edges shared by more than two faces (such an edge cannot bound a surface).

    Edges are compared by vertex *position*: STL stores three corners per triangle and
    OBJ/PLY may repeat a vertex (per-face normals or UVs), so vertex indices alone would
    let the same mesh pass or fail depending on its file format.
    """
    _, weld = np.unique(np.asarray(mesh.vertices), axis=0, return_inverse=True)
    faces = weld.reshape(-1)[np.asarray(mesh.faces)]
    edges = np.sort(faces[:, [0, 1, 1, 2, 2, 0]].reshape(-1, 2), axis=1)
    _, counts = np.unique(edges, axis=0, return_counts=True)
    return int((counts > 2).sum())


def sample_surface(mesh: trimesh.Trimesh, n: int, seed: int, normals: bool = False) -> np.ndarray:
    """``n`` points uniform over the surface area (and their face normals if asked)."""
    points, face_idx = trimesh.sample.sample_surface(mesh, n, seed=seed)
    points = np.asarray(points, dtype=np.float32)
    if normals:
        return np.concatenate([points, mesh.face_normals[face_idx].astype(np.float32)], axis=1)
    return points

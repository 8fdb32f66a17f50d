"""Turn a cell's exported sample files into self-contained HTML: PNGs as data URIs, WAVs as
``<audio>`` players, point clouds and meshes as JSON for the report's rotatable canvas.

Works from file types alone (whatever each domain's exporter wrote), so a new domain gets a
gallery without code here.
"""

from __future__ import annotations

import base64
import html
import json
from pathlib import Path

import numpy as np

MAX_IMAGES = 6
MAX_AUDIO = 3
MAX_CLOUDS = 2
MAX_MESHES = 1
MAX_POINTS = 2048
MAX_FACES = 1500
MAX_MOLECULES = 2


def data_uri(path: Path, mime: str) -> str:
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode()}"


def _pngs(files: list[Path]) -> list[Path]:
    """Grid pictures first (one picture says more than many thumbnails)."""
    pngs = [f for f in files if f.suffix.lower() == ".png"]
    grids = [f for f in pngs if "grid" in f.stem or f.stem == "samples"]
    return grids[:MAX_IMAGES] if grids else pngs[:MAX_IMAGES]


def _load_geometry(path: Path) -> dict | None:
    """Points (and triangle faces for meshes), centred and scaled into the unit ball."""
    try:
        import trimesh

        obj = trimesh.load(path, process=False)
    except Exception:  # an unreadable file just stays out of the gallery
        return None
    if isinstance(obj, trimesh.Scene):
        geoms = list(obj.geometry.values())
        if not geoms:
            return None
        obj = geoms[0]
    pts = np.asarray(getattr(obj, "vertices", []), dtype=np.float64)
    if pts.ndim != 2 or pts.shape[0] == 0 or pts.shape[1] != 3 or not np.isfinite(pts).all():
        return None
    faces = np.asarray(getattr(obj, "faces", np.zeros((0, 3))), dtype=np.int64)
    if len(faces) > MAX_FACES:
        # An evenly strided subset of triangles still shows the whole shape as a wireframe.
        faces = faces[np.linspace(0, len(faces) - 1, MAX_FACES).astype(int)]
    if len(faces):
        used, faces = np.unique(faces, return_inverse=True)
        pts, faces = pts[used], faces.reshape(-1, 3)
    elif len(pts) > MAX_POINTS:
        pts = pts[np.linspace(0, len(pts) - 1, MAX_POINTS).astype(int)]
    pts = pts - pts.mean(0)
    scale = np.linalg.norm(pts, axis=1).max() or 1.0  # fits the unit ball in any rotation
    # Flat lists keep the inline JSON small: p = x0,y0,z0,x1,...; f = i0,j0,k0,i1,...
    out = {"p": np.round(pts / scale, 3).ravel().tolist()}
    if len(faces):
        out["f"] = faces.ravel().tolist()
    return out


def read_xyz_blocks(path: Path, limit: int) -> list[dict]:
    """The first ``limit`` molecules of a (multi-molecule) XYZ file as element + coordinates,
    centred and scaled for the viewer (invalid molecules have no 2-D depiction; 3-D still shows
    what the model made)."""
    lines = path.read_text().splitlines()
    out, i = [], 0
    while i < len(lines) and len(out) < limit:
        try:
            n = int(lines[i].split()[0])
        except (ValueError, IndexError):
            break
        rows = [ln.split() for ln in lines[i + 2 : i + 2 + n]]
        i += 2 + n
        try:
            elems = [r[0] for r in rows]
            pts = np.array([[float(v) for v in r[1:4]] for r in rows])
        except (ValueError, IndexError):
            break
        if len(pts) == 0 or not np.isfinite(pts).all():
            continue
        pts = pts - pts.mean(0)
        scale = np.linalg.norm(pts, axis=1).max() or 1.0  # fits the unit ball in any rotation
        out.append({"p": np.round(pts / scale, 3).ravel().tolist(), "e": elems})
    return out


def _canvas(geo: dict, title: str) -> str:
    payload = html.escape(json.dumps(geo, separators=(",", ":")))
    return (
        f'<canvas class="geo" width="220" height="220" title="{html.escape(title)} '
        f'(drag to rotate)" data-geo="{payload}"></canvas>'
    )


def gallery_html(out: Path, rel_files: list[str]) -> str:
    files = [out / f for f in rel_files if (out / f).is_file()]
    parts = []
    for f in _pngs(files):
        parts.append(
            f'<img class="sample" alt="{html.escape(f.name)}" src="{data_uri(f, "image/png")}">'
        )
    wavs = [f for f in files if f.suffix.lower() == ".wav"][:MAX_AUDIO]
    for f in wavs:
        parts.append(
            f'<div class="clip"><span>{html.escape(f.name)}</span>'
            f'<audio controls preload="none" src="{data_uri(f, "audio/wav")}"></audio></div>'
        )
    geo = [f for f in files if f.suffix.lower() in (".ply", ".obj", ".off", ".stl", ".glb")]
    meshes = [f for f in geo if "mesh" in f.parent.name or "mesh" in f.stem][:MAX_MESHES]
    clouds = [f for f in geo if f not in meshes][:MAX_CLOUDS]
    for f in clouds + meshes:
        g = _load_geometry(f)
        if g is None:
            continue
        parts.append(_canvas(g, f.name))
    for f in [f for f in files if f.suffix.lower() == ".xyz"][:1]:
        try:
            mols = read_xyz_blocks(f, MAX_MOLECULES)
        except (OSError, UnicodeDecodeError):
            mols = []
        parts += [_canvas(m, f"{f.name} #{k}") for k, m in enumerate(mols)]
    if not parts and files:
        names = ", ".join(html.escape(f.name) for f in files[:6])
        parts.append(f'<p class="muted">files: {names}</p>')
    return "\n".join(parts)

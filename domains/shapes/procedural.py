"""Procedural shape families (the embedded default data set).

Each family builds a mesh from trimesh primitives with randomised proportions, so the data
set has real intra-class variation and clearly different classes without any download.
Axes follow ShapeNet: y is up, the shape stands on y = 0 before normalisation.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import trimesh
from trimesh import creation

Builder = Callable[[np.random.Generator], trimesh.Trimesh]


def _box(center, extents) -> trimesh.Trimesh:
    return creation.box(
        extents=extents, transform=trimesh.transformations.translation_matrix(center)
    )


def _cyl(p0, p1, radius, sections: int = 16) -> trimesh.Trimesh:
    return creation.cylinder(radius=radius, segment=[p0, p1], sections=sections)


def _join(parts: list[trimesh.Trimesh]) -> trimesh.Trimesh:
    return trimesh.util.concatenate(parts)


def chair(rng: np.random.Generator) -> trimesh.Trimesh:
    w, d = rng.uniform(0.4, 0.6), rng.uniform(0.4, 0.6)
    seat_h, seat_t = rng.uniform(0.4, 0.5), rng.uniform(0.03, 0.07)
    back_h, leg = rng.uniform(0.35, 0.6), rng.uniform(0.025, 0.045)
    parts = [_box([0, seat_h, 0], [w, seat_t, d])]
    for sx in (-1, 1):
        for sz in (-1, 1):
            x, z = sx * (w / 2 - leg), sz * (d / 2 - leg)
            parts.append(_box([x, seat_h / 2, z], [2 * leg, seat_h, 2 * leg]))
    parts.append(_box([0, seat_h + back_h / 2, -d / 2 + leg], [w, back_h, 2 * leg]))
    if rng.random() < 0.5:  # arm rests
        for sx in (-1, 1):
            parts.append(_box([sx * w / 2, seat_h + 0.2, 0], [2 * leg, 0.03, d * 0.8]))
    return _join(parts)


def table(rng: np.random.Generator) -> trimesh.Trimesh:
    w, d = rng.uniform(0.8, 1.4), rng.uniform(0.5, 0.9)
    h, top_t, leg = rng.uniform(0.6, 0.8), rng.uniform(0.03, 0.06), rng.uniform(0.03, 0.06)
    parts = []
    if rng.random() < 0.3:  # round table on a pedestal
        parts.append(_cyl([0, h - top_t, 0], [0, h, 0], radius=w / 2, sections=32))
        parts.append(_cyl([0, 0, 0], [0, h - top_t, 0], radius=leg * 1.5))
        parts.append(_cyl([0, 0, 0], [0, 0.03, 0], radius=w / 4))
        return _join(parts)
    parts.append(_box([0, h - top_t / 2, 0], [w, top_t, d]))
    for sx in (-1, 1):
        for sz in (-1, 1):
            x, z = sx * (w / 2 - 2 * leg), sz * (d / 2 - 2 * leg)
            parts.append(_box([x, (h - top_t) / 2, z], [2 * leg, h - top_t, 2 * leg]))
    return _join(parts)


def airplane(rng: np.random.Generator) -> trimesh.Trimesh:
    length, radius = rng.uniform(1.4, 2.0), rng.uniform(0.07, 0.12)
    span, chord = rng.uniform(1.2, 2.0), rng.uniform(0.2, 0.35)
    sweep = rng.uniform(0.0, 0.3)
    parts = [creation.capsule(height=length, radius=radius, count=[16, 16])]  # along z
    wing_z = rng.uniform(-0.15, 0.1) * length
    for sx in (-1, 1):  # swept wings as two boxes
        wing = _box([sx * span / 4, 0, wing_z], [span / 2, 0.025, chord])
        wing.apply_transform(trimesh.transformations.rotation_matrix(sx * sweep, [0, 1, 0]))
        parts.append(wing)
    tail_z = length / 2 - 0.05
    parts.append(_box([0, 0.02, tail_z], [span * 0.35, 0.02, chord * 0.6]))
    parts.append(_box([0, 0.15, tail_z], [0.02, 0.3, chord * 0.6]))
    if rng.random() < 0.5:  # engines under the wings
        for sx in (-1, 1):
            x = sx * span * 0.2
            parts.append(_cyl([x, -0.08, wing_z - 0.15], [x, -0.08, wing_z + 0.15], 0.05))
    return _join(parts)


def _profile_solid(radii: np.ndarray, heights: np.ndarray) -> trimesh.Trimesh:
    line = np.stack([radii, heights], axis=1)
    mesh = creation.revolve(line, sections=32)
    # revolve() works around z; turn z into y so the axis is "up".
    mesh.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))
    return mesh


def vase(rng: np.random.Generator) -> trimesh.Trimesh:
    h = rng.uniform(0.8, 1.4)
    base, belly, neck, lip = (
        rng.uniform(0.12, 0.2),
        rng.uniform(0.22, 0.4),
        rng.uniform(0.06, 0.14),
        rng.uniform(0.1, 0.2),
    )
    belly_at = rng.uniform(0.3, 0.55)
    ts = np.linspace(0, 1, 12)
    knots = [0, belly_at, 0.8, 1.0]
    radii = np.interp(ts, knots, [base, belly, neck, lip])
    radii = np.concatenate([[0.0], radii, [0.0]])
    heights = np.concatenate([[0.0], ts * h, [h]])
    return _profile_solid(radii, heights)


def mug(rng: np.random.Generator) -> trimesh.Trimesh:
    r, h = rng.uniform(0.25, 0.4), rng.uniform(0.5, 0.9)
    taper = rng.uniform(0.85, 1.15)
    body = _profile_solid(np.array([0, r, r * taper, 0]), np.array([0, 0, h, h]))
    handle = creation.torus(major_radius=h * 0.28, minor_radius=0.035, major_sections=24)
    handle.apply_transform(trimesh.transformations.translation_matrix([r * 1.05, h / 2, 0]))
    return _join([body, handle])


def lamp(rng: np.random.Generator) -> trimesh.Trimesh:
    h, pole = rng.uniform(0.9, 1.5), rng.uniform(0.02, 0.04)
    base_r, shade_r = rng.uniform(0.15, 0.3), rng.uniform(0.2, 0.35)
    shade_h = rng.uniform(0.2, 0.35)
    parts = [
        _cyl([0, 0, 0], [0, 0.04, 0], radius=base_r, sections=32),
        _cyl([0, 0.04, 0], [0, h, 0], radius=pole),
    ]
    top = rng.uniform(0.3, 0.7) * shade_r
    parts.append(
        _profile_solid(
            np.array([0, shade_r, top, 0]), np.array([h - 0.1, h - 0.1, h + shade_h, h + shade_h])
        )
    )
    return _join(parts)


FAMILIES: dict[str, Builder] = {
    "chair": chair,
    "table": table,
    "airplane": airplane,
    "vase": vase,
    "mug": mug,
    "lamp": lamp,
}


def build(family: str, seed: int) -> trimesh.Trimesh:
    """One random member of ``family``; the same seed always gives the same mesh."""
    return FAMILIES[family](np.random.default_rng(seed))

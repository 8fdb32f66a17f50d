"""3D shapes: point clouds and meshes, generated and scored as PointFlow / PVD / LION do."""

from .domain import ShapesDomain, ShapeSamples


def get_domain() -> ShapesDomain:
    return ShapesDomain()


__all__ = ["ShapeSamples", "ShapesDomain", "get_domain"]

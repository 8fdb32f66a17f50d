"""3D shapes: point clouds and meshes, generated and scored as PointFlow / PVD / LION do."""

from .domain import ShapeSamples, ShapesDomain


def get_domain() -> ShapesDomain:
    return ShapesDomain()


__all__ = ["ShapeSamples", "ShapesDomain", "get_domain"]

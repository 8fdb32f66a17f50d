import numpy as np
import pytest
import trimesh

from multigen_domains.shapes import reconstruct


def test_sphere_points_give_a_watertight_mesh(sphere_points, tmp_path):
    mesh = reconstruct.points_to_mesh(sphere_points, resolution=40)
    assert mesh.is_watertight and mesh.volume > 0
    # A filled ball (not a double-walled shell), a little thicker than the unit sphere.
    assert 4 / 3 * np.pi < mesh.volume < 4 / 3 * np.pi * 1.6
    files = reconstruct.export_mesh(mesh, tmp_path / "ball")
    assert [f.suffix for f in files] == [".ply", ".obj", ".glb"]
    for f in files:
        back = trimesh.load(f, force="mesh")
        assert len(back.faces) == len(mesh.faces)


def test_too_few_points():
    with pytest.raises(ValueError, match="at least 4"):
        reconstruct.points_to_mesh(np.zeros((3, 3)))

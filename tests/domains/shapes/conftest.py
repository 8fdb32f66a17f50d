import numpy as np
import pytest
import trimesh


@pytest.fixture
def cache(tmp_path, monkeypatch):
    """A private cache folder so tests never read another run's cached clouds."""
    monkeypatch.setenv("MULTIGEN_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def sphere_points():
    rng = np.random.default_rng(0)
    v = rng.normal(size=(600, 3))
    return (v / np.linalg.norm(v, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture
def box_mesh():
    return trimesh.creation.box(extents=[1.0, 2.0, 0.5])

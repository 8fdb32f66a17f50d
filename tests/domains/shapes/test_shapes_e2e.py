"""End to end through the engine: train a few steps, sample, export, evaluate."""

import json

import numpy as np
import pytest

from multigen import api

TINY = [
    "train.steps=3",
    "train.checkpoint_every=3",
    "train.tensorboard=false",
    "train.progress=false",
    "sample.n=4",
    "sample.steps=2",
    "eval.n_samples=6",
    "data.params.n_points=64",
    "data.params.n_train=4",
    "data.params.n_test=2",
]


def _run(tmp_path, config, extra=()):
    run = api.train(config, out=tmp_path / "run", overrides=TINY + list(extra))
    metrics = json.loads((run / "metrics.json").read_text())
    assert np.isfinite(list(metrics.values())).all()
    res = api.sample(run, n=3, steps=2, seed=0, out=tmp_path / "s")
    assert res.samples.points.shape == (3, 64, 3)
    assert (tmp_path / "s" / "grid.png").is_file()
    assert (tmp_path / "s" / "meshes" / "mesh_0000.glb").is_file()
    again = api.sample(run, n=3, steps=2, seed=0)
    np.testing.assert_allclose(again.samples.points, res.samples.points, atol=1e-5)
    scores = api.evaluate(
        "shapes", tmp_path / "s", str(tmp_path / "s" / "samples.npy"), metrics=["cd", "jsd"]
    )
    assert scores["nna_cd"] <= 0.5  # a set against itself: every neighbour is a twin
    return run


def test_demo_fast_config_end_to_end(tmp_path, cache):
    _run(tmp_path, "configs/shapes/demo_fast.yaml")


@pytest.mark.slow
@pytest.mark.parametrize(
    "config", ["embedded_ddpm", "embedded_edm", "embedded_flow", "embedded_gan"]
)
def test_every_method_end_to_end(tmp_path, cache, config):
    _run(tmp_path, f"configs/shapes/{config}.yaml", ["eval.options.metrics=[cd]"])


@pytest.mark.slow
def test_class_conditional_with_guidance(tmp_path, cache):
    run = _run(
        tmp_path,
        "configs/shapes/embedded_edm.yaml",
        [
            "data.conditional=true",
            "data.params.labels=true",
            "method.cond_drop=0.2",
            "eval.options.metrics=[cd]",
        ],
    )
    res = api.sample(run, n=2, steps=2, guidance=2.0, cond=[1, 3])
    assert res.samples.labels.tolist() == [1, 3]


def test_pc15k_gpu_config_loads_on_cpu():
    from multigen.config import load_config

    cfg = load_config("configs/shapes/shapenet_pc15k_gpu.yaml")
    assert cfg.data.params["n_points"] == 2048 and cfg.model.name == "pointnet"
    from multigen_domains.shapes import get_domain

    dom = get_domain()
    info = {"shape": [2048, 3], "num_classes": 0, "cond_dim": 0}
    net = dom.networks[cfg.model.name].builder(info, **cfg.model.params)
    params = sum(p.numel() for p in net.parameters())
    assert 2e6 < params < 8e6  # PVD/DPM-sized

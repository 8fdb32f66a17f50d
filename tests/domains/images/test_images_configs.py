"""Every shipped image config validates and builds its networks for its data on CPU."""

from pathlib import Path

import numpy as np
import pytest

from multigen.config import load_config
from multigen_domains.images import get_domain

CONFIGS = sorted((Path(__file__).resolve().parents[3] / "configs" / "images").glob("*.yaml"))


def test_all_methods_have_configs():
    names = {p.name for p in CONFIGS}
    for need in ("digits_ddpm", "digits_edm", "digits_flow", "digits_gan", "demo", "demo_fast"):
        assert f"{need}.yaml" in names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_config_builds_on_cpu(path, tmp_path, write_image):
    overrides = []
    if "gpu" in path.stem:  # a few RGB images in CIFAR-like class folders stand in for the data
        rng = np.random.default_rng(0)
        for c in ("plane", "car"):
            for i in range(2):
                write_image(tmp_path / "train" / c / f"{i}.png", rng.integers(0, 256, (32, 32, 3)))
        overrides = [f"data.path={tmp_path}", "train.device=cpu"]
    cfg = load_config(path, overrides)
    dom = get_domain()
    ds = dom.load_dataset(cfg.data.name, cfg.data.path, "train", **cfg.data.params)
    info = dom.describe(ds)
    model = dom.networks[cfg.model.name].builder(info, **cfg.model.params)
    assert sum(p.numel() for p in model.parameters()) > 0
    if cfg.discriminator is not None:
        dom.networks[cfg.discriminator.name].builder(info, **cfg.discriminator.params)
    if "gpu" in path.stem:
        assert info["shape"] == [3, 32, 32] and info["num_classes"] == 2

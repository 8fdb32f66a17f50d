"""bf16 autocast and torch.compile through the one Trainer (CPU here; GPU in gpu_check)."""

import json

import pytest

from multigen import api

from .helpers import tiny_config


@pytest.mark.parametrize("method", ["edm", "gan"])
def test_bf16_autocast_trains(tmp_path, method):
    run = api.train(tiny_config(method, steps=4, precision="bf16"), out=tmp_path / "r")
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["nonfinite_fraction"] == 0


@pytest.mark.slow
def test_compile_trains(tmp_path):
    run = api.train(tiny_config("flow", steps=4, compile=True), out=tmp_path / "r")
    assert json.loads((run / "metrics.json").read_text())["nonfinite_fraction"] == 0


@pytest.mark.parametrize("method", ["flow", "gan"])
def test_compile_reaches_the_networks_the_losses_call(tmp_path, method):
    """Diffusion losses call Denoiser.net, not Denoiser.forward: the net must be compiled
    (compilation is lazy, so building the trainer costs nothing)."""
    from multigen.config import load_config
    from multigen.registry import get_domain
    from multigen.train.trainer import Trainer

    cfg = load_config(tiny_config(method, steps=2, compile=True))
    trainer = Trainer(cfg, get_domain("toy"), tmp_path / "r")
    for model in trainer.models.values():
        assert getattr(model, "net", model)._compiled_call_impl is not None
    keys = set(trainer.models[next(iter(trainer.models))].state_dict())
    assert not any("_orig_mod" in k for k in keys)  # checkpoint keys unchanged

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

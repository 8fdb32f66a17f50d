"""Resume exactness, atomic checkpoints, keep-last, and refusing a different model."""

import pytest
import torch

from multigen import api
from multigen.config import load_config
from multigen.registry import get_domain
from multigen.train import checkpoint as ckpt
from multigen.train.trainer import Trainer

from .helpers import tiny_config


def weights(run_dir):
    return ckpt.load_weights(ckpt.latest_checkpoint(run_dir))


@pytest.mark.parametrize("method", ["ddpm", "gan"])
def test_resume_equals_uninterrupted(tmp_path, method):
    full = api.train(tiny_config(method, steps=8), out=tmp_path / "full")
    half = api.train(tiny_config(method, steps=4), out=tmp_path / "half")
    api.train(tiny_config(method, steps=8), out=half, resume=True)
    a, b = weights(full), weights(half)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    state = ckpt.load_state(ckpt.latest_checkpoint(half))  # weights_only loading works
    assert state["step"] == 8


def test_keep_last_and_layout(tmp_path):
    run = api.train(tiny_config(steps=9, checkpoint_every=2, keep_last=2), out=tmp_path / "r")
    names = [p.name for p in ckpt.list_checkpoints(run)]
    assert names == ["step_00000008", "step_00000009"]
    for f in ("config.yaml", "log.jsonl", "metrics.json"):
        assert (run / f).is_file()
    assert not list((run / "checkpoints").glob(".tmp_*"))
    keys = weights(run).keys()
    assert any(k.startswith("ema/model.") for k in keys)  # EMA is saved and used for sampling
    assert any(k.startswith("model/model.") for k in keys)


def test_crash_during_save_keeps_last_good_checkpoint(tmp_path, monkeypatch):
    run = api.train(tiny_config(steps=3, checkpoint_every=100), out=tmp_path / "r")
    good = ckpt.latest_checkpoint(run)
    before = weights(run)

    def boom(*a, **k):
        raise KeyboardInterrupt  # a kill in the middle of writing

    monkeypatch.setattr(ckpt, "save_file", boom)
    cfg = load_config(tiny_config(steps=6, checkpoint_every=100))
    with pytest.raises(KeyboardInterrupt):
        Trainer(cfg, get_domain("toy"), run, resume=True).fit()
    assert ckpt.latest_checkpoint(run) == good
    after = ckpt.load_weights(good)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not list((run / "checkpoints").glob(".tmp_*"))


def test_checkpoint_from_different_model_is_refused(tmp_path):
    run = api.train(tiny_config(steps=2), out=tmp_path / "r")
    cfg = tiny_config(steps=4)
    cfg["model"]["params"]["width"] = 48
    with pytest.raises(ckpt.CheckpointError, match="different model"):
        Trainer(load_config(cfg), get_domain("toy"), run, resume=True)


def test_existing_run_needs_resume(tmp_path):
    run = api.train(tiny_config(steps=2), out=tmp_path / "r")
    with pytest.raises(ValueError, match="--resume"):
        api.train(tiny_config(steps=2), out=run)


def test_best_checkpoint_tracks_metric(tmp_path):
    run = api.train(
        tiny_config(steps=4, checkpoint_every=2, eval_every=2, best_metric="energy_distance"),
        out=tmp_path / "r",
    )
    best = run / "checkpoints" / "best"
    assert (best / "weights.safetensors").is_file()
    meta = ckpt.read_meta(best)
    assert "energy_distance" in meta["metrics"]

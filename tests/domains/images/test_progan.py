"""Progressive growing (issue 18, ProGAN): the growth schedule, fade-in continuity, both
networks at every stage, the engine's grow_until option and its refusal."""

import json
from pathlib import Path

import pytest
import torch
import yaml

from domains.images.networks import progan as pg
from multigen.domain import DomainError

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "images"
INFO = {"shape": [1, 16, 16], "num_classes": 10}
SMALL = {"latent_dim": 16, "channel_base": 128, "channel_max": 16}


def test_growth_schedule():
    # 16x16: two added levels -> 5 segments: 4 | fade 8 | 8 | fade 16 | 16
    assert pg.growth(0.0, 2) == (0, 1.0)
    assert pg.growth(0.1, 2) == (0, 1.0)
    assert pg.growth(0.3, 2) == pytest.approx((1, 0.5))
    assert pg.growth(0.5, 2) == (1, 1.0)
    assert pg.growth(0.7, 2) == pytest.approx((2, 0.5))
    assert pg.growth(1.0, 2) == (2, 1.0) and pg.growth(5.0, 2) == (2, 1.0)


def test_networks_at_every_stage_and_fade_in_is_continuous():
    torch.manual_seed(0)
    g = pg.build_generator(INFO, **SMALL).eval()
    d = pg.build_discriminator(INFO, channel_base=128, channel_max=16)
    z, y = torch.randn(4, 16), torch.tensor([0, 1, 2, -1])
    outs = {}
    for p in (0.0, 0.2 + 1e-6, 0.4, 0.6 + 1e-6, 1.0):
        g.set_progress(p)
        d.set_progress(p)
        x = g(z, y)
        assert x.shape == (4, 1, 16, 16) and d(x, y).shape == (4,)
        outs[round(p, 2)] = x
    # at 4x4 the image is constant over 4x4 blocks; at α≈0 of a fade it equals the level below
    assert torch.allclose(outs[0.0], outs[0.0][..., ::4, ::4].repeat_interleave(4, -1)
                          .repeat_interleave(4, -2))  # fmt: skip
    assert torch.allclose(outs[0.2], outs[0.0], atol=1e-4)
    assert torch.allclose(outs[0.6], outs[0.4], atol=1e-4)
    assert not torch.allclose(outs[1.0], outs[0.4])


def test_bad_input():
    with pytest.raises(DomainError, match="power of two"):
        pg.build_generator({"shape": [1, 12, 12]})
    with pytest.raises(DomainError, match="unknown params"):
        pg.build_discriminator(INFO, width=3)


def _config(tmp_path, **change):
    cfg = yaml.safe_load((CONFIGS / "digits_progan.yaml").read_text())
    cfg["model"]["params"] = dict(SMALL)
    cfg["discriminator"]["params"] = {"channel_base": 128, "channel_max": 16}
    cfg["data"]["batch_size"] = 8
    cfg["train"].update(steps=6, log_every=2, progress=False, tensorboard=False, precision="fp32")
    cfg["sample"] = {"n": 4, "batch_size": 4}
    opts = {"classifier_steps": 20, "cache_dir": str(tmp_path / "c")}
    cfg["eval"] = {"n_samples": 8, "reference": "digits:train", "options": opts}
    for key, value in change.items():
        section, _, name = key.partition("__")
        cfg[section][name] = value
    path = tmp_path / "pg.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_grows_and_samples_full_size(tmp_path):
    from multigen import api
    from multigen.train import checkpoint as ckpt

    run = api.train(_config(tmp_path), out=tmp_path / "run")
    w = ckpt.load_weights(ckpt.latest_checkpoint(run))
    assert float(w["model/generator.progress"]) == 1.0  # grown by the end
    assert float(w["ema/generator.progress"]) == 1.0
    assert "fd_digitcnn" in json.loads((run / "metrics.json").read_text())
    assert api.sample(run, n=3).samples.shape == (3, 1, 16, 16)


def test_grow_until_refused_for_networks_that_do_not_grow(tmp_path, capsys):
    from multigen.cli import main

    cfg = yaml.safe_load(_config(tmp_path).read_text())
    cfg["model"] = {"name": "dcgan_generator", "params": {"latent_dim": 8, "channels": 8}}
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path), "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err.strip()
    assert "grow_until needs networks that grow" in err and "dcgan_generator" in err

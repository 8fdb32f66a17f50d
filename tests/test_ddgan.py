"""Denoising diffusion GANs (multigen/adversarial/ddgan.py; images' ddgan_unet and
ddgan_discriminator): the posterior q(x_{t-1} | x_t, x0) by hand and against the forward
marginals, the schedule's ends, the networks' interfaces, a tiny train -> sample -> evaluate
on digits through the API and the CLI, and the refusals (T out of range, steps other than T,
networks that cannot play the roles)."""

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from multigen.adversarial.ddgan import DDGAN, DenoiserGenerator, alpha_bars, posterior
from multigen.config import load_config
from multigen.domain import DomainError
from multigen.methods import build_method, nfe
from multigen.registry import get_domain

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "images" / "digits_ddgan.yaml"
INFO = {"shape": [1, 16, 16], "num_classes": 10, "x0_clip": [-1.0, 1.0]}
TINY_G = "model.params={latent_dim: 4, channels: 8, channel_mult: [1, 2], num_res_blocks: 1, attn_resolutions: []}"  # noqa: E501
TINY_D = "discriminator.params={channels: 8, t_dim: 8}"


# ---- the process ----------------------------------------------------------------------------
def test_posterior_by_hand():
    # ᾱ_t = 0.5, ᾱ_{t-1} = 0.8: α = 0.625, β = 0.375
    # mean = (√0.8·0.375·x0 + √0.625·0.2·xt) / 0.5, var = 0.375·0.2/0.5 = 0.15
    x0, xt = torch.tensor([1.0, 0.0]), torch.tensor([2.0, -1.0])
    mean, var = posterior(x0, xt, torch.tensor([0.5, 0.5]), torch.tensor([0.8, 0.8]))
    expect0 = (math.sqrt(0.8) * 0.375 * 1.0 + math.sqrt(0.625) * 0.2 * 2.0) / 0.5
    expect1 = (math.sqrt(0.625) * 0.2 * -1.0) / 0.5
    assert mean.tolist() == pytest.approx([expect0, expect1], rel=1e-6)
    assert expect0 == pytest.approx(1.303275926, rel=1e-8)
    assert var.flatten().tolist() == pytest.approx([0.15, 0.15], rel=1e-6)
    # the last step (ᾱ_{t-1} = 1, the data) returns x0 itself, with no noise
    mean, var = posterior(x0, xt, torch.tensor([0.5, 0.5]), torch.ones(2))
    assert mean.tolist() == pytest.approx(x0.tolist()) and var.abs().max() < 1e-12


def test_posterior_keeps_the_forward_marginal():
    """x_t ~ q(x_t | x0), then x_{t-1} ~ q(x_{t-1} | x_t, x0): x_{t-1} is N(√ᾱ_{t-1} x0,
    1 - ᾱ_{t-1}), the forward marginal (checked on 200k draws)."""
    g = torch.Generator().manual_seed(0)
    abar = alpha_bars(4)
    a_t, a_prev = abar[3], abar[2]
    n, x0 = 200_000, torch.full((200_000,), 0.7, dtype=torch.float64)
    xt = a_t.sqrt() * x0 + (1 - a_t).sqrt() * torch.randn(n, generator=g, dtype=torch.float64)
    mean, var = posterior(x0, xt, a_t.expand(n), a_prev.expand(n))
    x_prev = mean + var.sqrt() * torch.randn(n, generator=g, dtype=torch.float64)
    assert float(x_prev.mean()) == pytest.approx(float(a_prev.sqrt() * 0.7), abs=0.01)
    assert float(x_prev.var()) == pytest.approx(float(1 - a_prev), rel=0.02)


def test_schedule_ends():
    abar = alpha_bars(4, 0.1, 20.0)
    assert abar.dtype == torch.float64 and abar.shape == (5,)
    assert float(abar[0]) == 1.0  # t = 0: the data
    assert float(abar[-1]) == pytest.approx(math.exp(-0.5 * 19.9 - 0.1))  # t = 1: noise
    assert bool((abar[1:] < abar[:-1]).all())


# ---- networks -------------------------------------------------------------------------------
def test_image_networks_interfaces():
    dom = get_domain("images")
    gen = dom.networks["ddgan_unet"].builder(INFO, latent_dim=4, channels=8, channel_mult=[1, 2])
    disc = dom.networks["ddgan_discriminator"].builder(INFO, channels=8, t_dim=8)
    x, t = torch.randn(3, 1, 16, 16), torch.tensor([0.25, 0.5, 1.0])
    z = torch.randn(3, 4)
    cond = torch.tensor([0, 1, -1])
    for p in gen.parameters():  # the U-Net starts at 0 (zero last layer): perturb it
        torch.nn.init.normal_(p, std=0.05) if p.ndim > 1 else None
    out = gen(x, t, z, cond)
    assert out.shape == x.shape
    assert not torch.allclose(out, gen(x, t, torch.randn(3, 4), cond))  # z matters
    assert not torch.allclose(out, gen(x, t.flip(0), z, cond))  # t matters
    assert gen._z is None  # the latent does not linger after the call
    logits = disc(x, torch.randn(3, 1, 16, 16), t, cond)
    assert logits.shape == (3,)
    assert not torch.allclose(logits, disc(x, torch.randn(3, 1, 16, 16), t, cond))  # pair
    with pytest.raises(DomainError, match="NoiseEmbedding"):
        DenoiserGenerator(torch.nn.Linear(2, 2))


# ---- the method -----------------------------------------------------------------------------
def _method(*overrides):
    return build_method(
        load_config(CONFIG, [TINY_G, TINY_D, *overrides]), get_domain("images"), INFO
    )


def test_method_roles_and_nfe():
    m = _method()
    assert isinstance(m, DDGAN) and set(m.models) == {"generator", "discriminator"}
    assert [p.name for p in m.phases()] == ["D", "G"]
    assert m.samplers() == ("ddgan",) and nfe(m, None, 4) == 4
    # a denoiser named as the model becomes a generator (z through its noise embedding)
    m = _method("model.name=unet", "model.params={channels: 8, channel_mult: [1, 2]}")
    assert isinstance(m.models["generator"], DenoiserGenerator)


@pytest.mark.parametrize(
    "overrides, match",
    [
        (["method.timesteps=0"], "timesteps"),
        (["method.timesteps=9"], "timesteps"),
        (["sample.steps=10"], "sample.steps 10: method ddgan samples in its method.timesteps = 4"),
        (["model.name=dcgan_generator", "model.params={}"], "does not take \\(x_t, t, z\\)"),
        (["discriminator.name=dcgan_discriminator", "discriminator.params={}"],
         "pair discriminators: ddgan_discriminator"),
        (["method.beta_min=30"], "beta_max"),
    ],
)  # fmt: skip
def test_bad_configs_are_refused(overrides, match):
    with pytest.raises((DomainError, ValueError), match=match):
        _method(*overrides)


def _tiny(tmp_path: Path, steps: int = 2) -> Path:
    cfg = yaml.safe_load(CONFIG.read_text())
    cfg["model"]["params"] = {"latent_dim": 4, "channels": 8, "channel_mult": [1, 2],
                              "num_res_blocks": 1, "attn_resolutions": []}  # fmt: skip
    cfg["discriminator"]["params"] = {"channels": 8, "t_dim": 8}
    cfg["method"].update(timesteps=steps, r1_every=2)
    cfg["data"]["batch_size"] = 8
    cfg["train"].update(steps=3, log_every=1, progress=False, tensorboard=False, precision="fp32")
    cfg["sample"] = {"steps": steps, "n": 8, "batch_size": 8}
    cfg["eval"] = {
        "n_samples": 12,
        "reference": "digits:train",
        "options": {"classifier_steps": 50, "kid_subsets": 2, "cache_dir": str(tmp_path / "c")},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_train_sample_evaluate(tmp_path, capsys):
    from multigen import api
    from multigen.cli import main

    run = api.train(_tiny(tmp_path), out=tmp_path / "run")
    assert "fd_digitcnn" in json.loads((run / "metrics.json").read_text())
    logs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert any("loss_D" in r and "loss_G" in r for r in logs)
    res = api.sample(run, n=4)
    assert res.nfe == 2 and res.batch.x.shape == (4, 1, 16, 16)
    assert float(res.batch.x.abs().max()) <= 1.0  # the last step returns the clipped x̂0
    again = api.sample(run, n=2, batch_size=1)  # per-sample seeds: batch-size invariant
    assert torch.allclose(again.batch.x, res.batch.x[:2], atol=1e-5)
    assert main(["sample", str(run), "--n", "3", "--out", str(tmp_path / "s")]) == 0
    assert len(list((tmp_path / "s").glob("sample_*.png"))) == 3
    capsys.readouterr()
    assert main(["sample", str(run), "--n", "2", "--steps", "5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "trained for T = 2 steps" in err and "\n" not in err
    assert main(["sample", str(run), "--n", "2", "--sampler", "heun"]) == 2
    assert "ddgan" in capsys.readouterr().err


def test_other_domain_through_the_generic_wrappers(tmp_path):
    """Toy 2-D points: the ``mlp`` denoiser as the generator (z through its noise embedding)
    and the MLP discriminator judging (x_prev, x_t, t) stacked: the engine's wrappers."""
    from multigen import api

    cfg = {
        "domain": "toy",
        "data": {"name": "eight_gaussians", "batch_size": 16},
        "model": {"name": "mlp", "params": {"width": 16, "depth": 2}},
        "discriminator": {"name": "mlp_pair_discriminator", "params": {"width": 16, "depth": 2}},
        "method": {"name": "ddgan", "timesteps": 3, "latent_dim": 4, "r1_every": 2},
        "train": {"steps": 3, "lr": 1e-3, "progress": False, "tensorboard": False},
        "sample": {"steps": 3, "n": 16, "batch_size": 16},
        "eval": {"n_samples": 16},
    }
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = api.train(path, out=tmp_path / "run")
    disc = api.load_run(run).models["discriminator"]
    assert disc.disc.features[0].in_features == 5  # 2 + 2 coordinates and t
    res = api.sample(run, n=5)
    assert res.nfe == 3 and res.batch.x.shape == (5, 2) and torch.isfinite(res.batch.x).all()
    with pytest.raises(DomainError, match="pair discriminators: mlp_pair_discriminator"):
        bad = dict(cfg, discriminator={"name": "mlp_discriminator", "params": {}})
        path.write_text(yaml.safe_dump(bad))
        api.train(path, out=tmp_path / "bad")


CONFIG_DIR = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize(
    "config, tiny, first_layer, in_features, shape",
    [
        (
            "shapes/embedded_ddgan.yaml",
            [
                "data.params={n_points: 64, n_train: 8, n_test: 4, normalization: global}",
                "model.params={width: 16, depth: 2}",
                "discriminator.params={widths: [8, 16]}",
                "eval.options={metrics: [cd]}",
            ],
            lambda d: d.disc.point_mlp[0],
            7,  # x_{t-1}, x_t and t per point
            (3, 64, 3),
        ),
        (
            "audio/embedded_ddgan.yaml",
            [
                "data.params={n_per_class: 1, length: 512}",
                "model.params={residual_layers: 2, residual_channels: 4, dilation_cycle: 2}",
                "discriminator.params={width: 4, layers: 3}",
                'eval.options={"classifier_steps": 10}',
            ],
            lambda d: d.disc.convs[0],
            3,  # x_{t-1}, x_t and t as channels
            (3, 1, 512),
        ),
    ],
    ids=["shapes", "audio"],
)
def test_pair_discriminators_of_shapes_and_audio(
    tmp_path, config, tiny, first_layer, in_features, shape
):
    """The shapes and audio DDGAN configs: the domain's denoiser as generator and its GAN
    discriminator judging the stacked pair, trained a few steps and sampled in T calls."""
    from multigen import api

    common = ["train.steps=2", "train.progress=false", "train.tensorboard=false"]
    common += ["data.batch_size=4", "sample.n=4", "eval.n_samples=4"]
    run = api.train(CONFIG_DIR / config, out=tmp_path / "run", overrides=[*common, *tiny])
    layer = first_layer(api.load_run(run).models["discriminator"])
    assert getattr(layer, "in_features", getattr(layer, "in_channels", None)) == in_features
    res = api.sample(run, n=3)
    assert res.nfe == 4 and tuple(res.batch.x.shape) == shape
    assert torch.isfinite(res.batch.x).all()

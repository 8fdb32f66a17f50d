"""Latent diffusion for images (issue 17): the KL autoencoder method, the images ``vae``
codec over an autoencoder run, and a latent EDM run that trains, samples and evaluates
as images."""

from __future__ import annotations

import json
import math
import shutil

import pytest
import torch

from domains.images.codec import VAECodec
from domains.images.networks.autoencoder import build_autoencoder
from multigen import api
from multigen.autoencoder import kl_divergence, reconstruction_error
from multigen.datainfo import DataInfo
from multigen.domain import DomainError
from tests.train.helpers import CONFIGS, quick_overrides

IMAGES = CONFIGS / "images"
TINY_AE = "{channels: 8, channel_mult: [1, 2], num_res_blocks: 1, latent_channels: 2}"
TINY_UNET = "{channels: 8, channel_mult: [1, 2], num_res_blocks: 1, attn_resolutions: []}"


def test_autoencoder_shapes():
    ae = build_autoencoder({"shape": [1, 16, 16]}, channels=8, channel_mult=[1, 2, 2],
                           latent_channels=4)  # fmt: skip
    x = torch.randn(3, 1, 16, 16)
    mean, logvar = ae.encode(x)
    assert mean.shape == logvar.shape == (3, 4, 4, 4) and ae.latent_shape == [4, 4, 4]
    assert ae.decode(mean).shape == x.shape and ae(x).shape == x.shape
    rgb = build_autoencoder({"shape": [3, 8, 8]}, channels=8, channel_mult=[1, 2])
    assert rgb.encode(torch.zeros(2, 3, 8, 8))[0].shape == (2, 2, 4, 4)


def test_autoencoder_refuses_bad_sizes():
    with pytest.raises(DomainError, match="not divisible"):
        build_autoencoder({"shape": [1, 10, 10]}, channel_mult=[1, 2, 2])
    with pytest.raises(DomainError, match="square"):
        build_autoencoder({"shape": [1, 16, 8]})
    with pytest.raises(DomainError, match="unknown params"):
        build_autoencoder({"shape": [1, 16, 16]}, width=3)


def test_kl_term_against_hand_computed_value():
    # per element KL(N(m, s^2) || N(0, 1)) = (m^2 + s^2 - 1 - log s^2) / 2
    mean = torch.tensor([[[0.0, 1.0], [-2.0, 0.5]]])
    logvar = torch.tensor([[[0.0, math.log(4.0)], [math.log(0.25), 0.0]]])
    by_hand = (0 + 0) + (1 + 4 - 1 - math.log(4)) / 2 + (4 + 0.25 - 1 - math.log(0.25)) / 2
    by_hand += 0.25 / 2
    assert kl_divergence(mean, logvar).item() == pytest.approx(by_hand, rel=1e-6)
    assert kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)).tolist() == [0.0, 0.0]
    x, x_hat = torch.zeros(1, 2), torch.tensor([[1.0, -3.0]])
    assert reconstruction_error(x, x_hat, "l1").item() == pytest.approx(4.0)
    assert reconstruction_error(x, x_hat, "l2").item() == pytest.approx(10.0)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A tiny autoencoder run and a tiny latent EDM run on its latents."""
    root = tmp_path_factory.mktemp("latent_images")
    opts = {"classifier_steps": 30, "kid_subsets": 2, "cache_dir": str(root / "cache")}
    common = [
        *quick_overrides(steps=4, batch=16, samples=4, eval_samples=10, sample_steps=3),
        f"eval.options={json.dumps(opts)}",
    ]
    ae = api.train(IMAGES / "digits_autoencoder.yaml", out=root / "ae",
                   overrides=[*common, f"model.params={TINY_AE}"])  # fmt: skip
    latent = api.train(
        IMAGES / "digits_latent_edm.yaml",
        out=root / "latent",
        overrides=[*common, f"model.params={TINY_UNET}", f"latent.params={{run: {ae}}}"],
    )
    return {"root": root, "ae": ae, "latent": latent, "opts": opts}


def test_autoencoder_run_samples_reconstructions(runs):
    metrics = json.loads((runs["ae"] / "metrics.json").read_text())
    assert "fd_digitcnn" in metrics and metrics["n_samples"] == 10
    res = api.sample(runs["ae"], n=3, seed=0)
    assert res.samples.shape == (3, 1, 16, 16) and res.samples.dtype == torch.uint8
    again = api.sample(runs["ae"], n=1, seed=0)  # sample 0 reconstructs the same item
    assert torch.equal(again.samples, res.samples[:1])


def test_latent_run_trains_samples_and_evaluates_as_images(runs, tmp_path):
    run = api.load_run(runs["latent"])
    assert list(run.info.shape) == [2, 8, 8]  # the AE's 16x16x1 -> 8x8x2 latents
    assert run.info["latent"]["codec"] == "vae"
    metrics = json.loads((runs["latent"] / "metrics.json").read_text())
    assert "fd_digitcnn" in metrics
    res = api.sample(runs["latent"], n=4, steps=3, seed=0, out=tmp_path / "s")
    assert res.samples.shape == (4, 1, 16, 16) and res.samples.dtype == torch.uint8
    assert len(list((tmp_path / "s").glob("sample_*.png"))) == 4
    scores = api.evaluate("images", tmp_path / "s", "digits:test", **runs["opts"])
    assert scores["n_samples"] == 4 and scores["fd_digitcnn"] == scores["fd_digitcnn"]


def test_codec_round_trip_uses_the_posterior_mean(runs):
    codec = VAECodec(DataInfo.of({"shape": [1, 16, 16]}), run=str(runs["ae"]))
    ae = api.load_run(runs["ae"]).models["autoencoder"]
    x = torch.rand(2, 1, 16, 16) * 2 - 1
    z = codec.encode(x)
    assert z.shape == (2, 2, 8, 8)
    with torch.no_grad():
        assert torch.allclose(z, ae.encode(x)[0], atol=1e-6)
    out = codec.decode(z)
    assert out.shape == x.shape and float(out.abs().max()) <= 1.0


def test_missing_or_corrupt_autoencoder_run_is_named(runs, tmp_path):
    missing = tmp_path / "no_such_run"
    with pytest.raises(DomainError, match=r"latent\.params\.run .*no_such_run.*not found"):
        VAECodec(DataInfo.of({"shape": [1, 16, 16]}), run=str(missing))
    broken = tmp_path / "broken"
    shutil.copytree(runs["ae"], broken)
    for meta in broken.glob("checkpoints/*/meta.json"):
        meta.write_text("{not json")
    with pytest.raises(DomainError, match=r"latent\.params\.run .*broken"):
        VAECodec(DataInfo.of({"shape": [1, 16, 16]}), run=str(broken))
    with pytest.raises(DomainError, match="needs params.run"):
        VAECodec(DataInfo.of({"shape": [1, 16, 16]}))


def test_autoencoder_of_another_image_shape_is_refused(runs):
    with pytest.raises(DomainError, match=r"height 16 \(autoencoder\) vs 32 \(data\)"):
        VAECodec(DataInfo.of({"shape": [1, 32, 32]}), run=str(runs["ae"]))
    with pytest.raises(DomainError, match=r"channels 1 \(autoencoder\) vs 3 \(data\)"):
        VAECodec(DataInfo.of({"shape": [3, 16, 16]}), run=str(runs["ae"]))


def test_a_non_autoencoder_run_is_refused(runs):
    with pytest.raises(DomainError, match="needs an autoencoder run"):
        VAECodec(DataInfo.of({"shape": [1, 16, 16]}), run=str(runs["latent"]))


def test_latent_config_with_a_missing_run_fails_before_training(tmp_path):
    with pytest.raises(DomainError, match="no_such_ae"):
        api.train(IMAGES / "digits_latent_edm.yaml", out=tmp_path / "r",
                  overrides=[*quick_overrides(steps=1, batch=8, samples=2, eval_samples=2),
                             f"latent.params={{run: {tmp_path / 'no_such_ae'}}}"])  # fmt: skip

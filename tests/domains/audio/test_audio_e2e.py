"""End to end through the engine: train a few steps, sample, write WAVs, evaluate files."""

from pathlib import Path

import pytest
import soundfile as sf
import torch

from multigen import api
from multigen.config import load_config

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "audio"

TINY = [
    "data.params={n_per_class: 2, length: 512}",
    "data.batch_size=4",
    "train.steps=2",
    "train.log_every=1",
    "train.checkpoint_every=2",
    "train.tensorboard=false",
    "train.progress=false",
    "sample.n=4",
    "sample.steps=3",
    "eval.n_samples=4",
    "eval.options={classifier: false}",
]
TINY_DIFFWAVE = ["model.params={residual_layers: 2, residual_channels: 8, dilation_cycle: 2}"]


def test_all_configs_validate():
    for path in sorted(CONFIGS.glob("*.yaml")):
        load_config(path)


def test_sc09_gpu_config_builds_on_cpu():
    import torch

    from multigen.methods import build_method
    from multigen.registry import get_domain

    cfg = load_config(CONFIGS / "sc09_diffwave_gpu.yaml")
    info = {"shape": [1, 16000], "num_classes": 0, "cond_dim": 0, "sigma_data": 0.1,
            "sample_rate": 16000, "class_names": []}  # fmt: skip
    method = build_method(cfg, get_domain("audio"), info)
    net = method.models["model"]
    assert 2.2e6 < sum(p.numel() for p in net.parameters()) < 2.5e6  # DiffWave-BASE size
    assert all(p.device.type == "cpu" and torch.isfinite(p).all() for p in net.parameters())


def test_flow_train_sample_evaluate(tmp_path: Path):
    run = api.train(
        CONFIGS / "demo_fast.yaml", out=tmp_path / "run", overrides=TINY + TINY_DIFFWAVE
    )
    metrics = (run / "metrics.json").read_text()
    assert "fd_mel" in metrics
    res = api.sample(run, n=3, sampler="dpmpp_2m", steps=2, seed=0, out=tmp_path / "s")
    wavs = sorted((tmp_path / "s").glob("*.wav"))
    assert len(wavs) == 3 and (tmp_path / "s" / "spectrograms.png").is_file()
    assert sf.info(wavs[0]).samplerate == 8000 and res.samples.waves.shape == (3, 512)
    again = api.sample(run, n=1, sampler="dpmpp_2m", steps=2, seed=0)
    # Batch-size invariant noise: per-sample streams give the same clip alone as in a batch. Not
    # bit-exact: oneDNN picks conv kernels by batch size (1 ulp-level differences on some CPUs).
    torch.testing.assert_close(again.samples.waves[0], res.samples.waves[0], rtol=0, atol=1e-6)
    scores = api.evaluate("audio", tmp_path / "s", run / "samples", classifier=False)
    assert scores["fd_mel"] >= 0 and scores["n_samples"] == 3


@pytest.mark.slow
@pytest.mark.parametrize(
    "config,extra",
    [
        ("embedded_ddpm.yaml", TINY_DIFFWAVE),
        ("embedded_edm.yaml", TINY_DIFFWAVE),
        ("embedded_flow.yaml", ["model.name=unet1d", "model.params={channels: 8, mults: [1, 2]}"]),
        (
            "embedded_gan.yaml",
            ["model.params={width: 4, latent_dim: 8}", "discriminator.params={width: 4}"],
        ),  # fmt: skip
        (
            "embedded_gan.yaml",
            [
                "model.params={width: 4, latent_dim: 8}",
                "discriminator.name=hifigan_disc",
                "discriminator.params={width: 0.0625, periods: [2, 3]}",
            ],
        ),  # fmt: skip
    ],
)
def test_methods_end_to_end(tmp_path: Path, config: str, extra: list[str]):
    run = api.train(CONFIGS / config, out=tmp_path / "run", overrides=TINY + extra)
    res = api.sample(run, n=2, out=tmp_path / "s")
    assert res.samples.waves.shape == (2, 512)
    assert len(list((tmp_path / "s").glob("*.wav"))) == 2


@pytest.mark.slow
def test_diffwave_fast_schedule_equivalent_steps(tmp_path: Path):
    """DDPM over DiffWave's 6 fast levels needs 6 network calls (engine sampler ddpm)."""
    run = api.train(CONFIGS / "embedded_ddpm.yaml", out=tmp_path / "run",
                    overrides=TINY + TINY_DIFFWAVE)  # fmt: skip
    res = api.sample(run, n=1, sampler="ddpm", steps=6)
    assert res.nfe == 6

"""The ``mel`` codec: log-mel latent runs decoded by Griffin-Lim (domains/audio/mel_codec.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import soundfile as sf
import torch

from multigen import api
from multigen.datainfo import DataInfo
from multigen.domain import DomainError

from .conftest import tone

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "audio"
SR = 8000


def codec(length: int = 4096, **params):
    from multigen_domains.audio.mel_codec import MelCodec

    info = DataInfo.of({"shape": [1, length], "sample_rate": SR, "scale": 1.0})
    return MelCodec(info, **params)


def test_griffin_lim_round_trip_keeps_the_spectrogram_and_the_pitch():
    c = codec()
    wave = torch.from_numpy(tone(440.0, SR, 4096, amp=0.5)).reshape(1, 1, -1)
    mel = c.encode(wave)
    assert mel.shape == (1, 64, 64)  # bands layout: [n_mels, T // hop]
    back = c.decode(mel)
    assert back.shape == wave.shape
    again = c.encode(back)
    loud = mel > mel.max() - 6  # bins within 6 nats of the peak: where the tone is
    assert (again - mel)[loud].abs().mean() < 0.5
    spectrum = torch.fft.rfft(back[0, 0, 512:-512]).abs()
    peak_hz = float(spectrum.argmax()) * SR / (4096 - 1024)
    assert abs(peak_hz - 440.0) < 5.0


def test_image_layout_is_a_one_channel_spectrogram():
    c = codec(layout="image")
    assert c.encode(torch.zeros(2, 1, 4096)).shape == (2, 1, 64, 64)
    assert c.settings["layout"] == "image" and c.settings["mel"]["hop"] == 64


def test_bad_codec_params_are_named():
    with pytest.raises(DomainError, match="layout must be one of"):
        codec(layout="columns")
    with pytest.raises(DomainError, match="shorter than one window"):
        codec(length=128)
    from multigen.latent import LatentDomain
    from multigen.registry import get_domain

    with pytest.raises(DomainError, match="latent.params.*'n_mel'.*n_mels"):
        LatentDomain(base=get_domain("audio"), codec_name="mel", params={"n_mel": 32})


def test_mel_run_trains_samples_and_scores_waveforms(tmp_path: Path):
    tiny = [
        "data.params={n_per_class: 2, length: 512}",
        "data.batch_size=4",
        "model.params={size: tiny, patch: 4, width: 32, depth: 1, heads: 2}",
        "train.steps=2",
        "train.log_every=1",
        "train.checkpoint_every=2",
        "train.tensorboard=false",
        "train.progress=false",
        "latent.params={griffin_lim_iters: 4, n_mels: 8, layout: image}",  # 8 x 8 frames
        "sample.n=3",
        "sample.steps=3",
        "eval.n_samples=4",
        "eval.options={classifier: false}",
    ]
    run = api.train(CONFIGS / "embedded_mel_edm.yaml", out=tmp_path / "run", overrides=tiny)
    assert "fd_mel" in (run / "metrics.json").read_text()
    res = api.sample(run, n=2, steps=2, seed=0, out=tmp_path / "s")
    wavs = sorted((tmp_path / "s").glob("*.wav"))
    assert len(wavs) == 2 and sf.info(wavs[0]).samplerate == SR
    assert res.samples.waves.shape == (2, 512) and res.batch.x.shape == (2, 1, 8, 8)
    loaded = api.load_run(run)
    assert loaded.info["latent"]["codec"] == "mel" and loaded.info.shape == (1, 8, 8)


def test_bands_layout_feeds_the_1d_unet_with_mel_bands_as_channels():
    from multigen_domains.audio.mel_codec import codec_specs

    spec = codec_specs()["mel"].networks["unet1d"]
    net = spec.builder({"shape": [64, 16], "num_classes": 2}, channels=8, mults=[1], blocks=1)
    x = codec().encode(torch.zeros(3, 1, 1024))
    assert x.shape == (3, 64, 16)
    assert net(x, torch.zeros(3), torch.tensor([0, 1, -1])).shape == x.shape


def test_a_latent_run_decodes_with_the_vocoder_run_it_names(tmp_path: Path):
    tiny_vocoder = [
        "data.params={n_per_class: 2, length: 512, mel: {n_fft: 64, hop: 16, n_mels: 16}}",
        "data.batch_size=4",
        "model.params={channels: 16, upsample_rates: [4, 4], resblock_kernels: [3]}",
        "discriminator.params={width: 0.03125, periods: [2, 3], scales: 2, per_head: true}",
        "train.steps=1",
        "train.tensorboard=false",
        "train.progress=false",
        "sample.n=2",
        "eval.n_samples=2",
    ]
    run = api.train(CONFIGS / "embedded_vocoder.yaml", tmp_path / "voc", tiny_vocoder)
    c = codec(length=512, vocoder=str(run), n_fft=64, hop=16, n_mels=16)
    mel = c.encode(torch.zeros(2, 1, 512))
    assert mel.shape == (2, 16, 32) and c.decode(mel).shape == (2, 1, 512)
    assert c.settings["vocoder"] == str(run)
    with pytest.raises(DomainError, match="hop 16 vs 64"):  # the codec's defaults: hop 64
        codec(length=512, vocoder=str(run), n_mels=16)

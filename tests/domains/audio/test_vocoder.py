"""The mel vocoder (issue 15): the one log-mel definition, the HiFi-GAN generator, mel/wave
pairs as the GAN's condition, a tiny train -> vocode -> score run, and the inputs it refuses."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from domains.audio.domain import AudioDomain
from domains.audio.melspec import MelSettings, embedded_settings, wave_to_logmel
from domains.audio.networks.hifigan import HiFiGANDiscriminator
from domains.audio.networks.vocoder import build_hifigan_vocoder
from domains.audio.vocoder import griffin_lim, load_vocoder, paired_features
from multigen import api
from multigen.domain import Domain, DomainError

from .conftest import tone

CONFIG = Path(__file__).resolve().parents[3] / "configs" / "audio" / "embedded_vocoder.yaml"
MEL = {"n_fft": 64, "hop": 16, "n_mels": 16}
TINY = [
    "data.params={n_per_class: 2, length: 512, mel: {n_fft: 64, hop: 16, n_mels: 16}}",
    "data.batch_size=4",
    "model.params={channels: 16, upsample_rates: [4, 4], resblock_kernels: [3]}",
    "discriminator.params={width: 0.03125, periods: [2, 3], scales: 2, per_head: true}",
    "train.steps=2",
    "train.log_every=1",
    "train.checkpoint_every=2",
    "train.tensorboard=false",
    "train.progress=false",
    "sample.n=2",
    "eval.n_samples=2",
]


@pytest.fixture(scope="module")
def vocoder_run(tmp_path_factory) -> Path:
    return api.train(CONFIG, tmp_path_factory.mktemp("voc") / "run", TINY)


def test_logmel_frames_and_settings():
    s = embedded_settings()
    assert (s.n_fft, s.hop, s.n_mels, s.sample_rate) == (256, 64, 64, 8000)
    mel = s.logmel(torch.randn(3, 4096) * 0.1)
    assert mel.shape == (3, 64, 64)  # T // hop frames
    assert wave_to_logmel(torch.randn(2, 1, 4000), s).shape == (2, 64, 62)
    silent = s.logmel(torch.zeros(1, 4096))
    assert torch.allclose(silent, torch.full_like(silent, float(np.log(s.log_floor))))
    assert MelSettings.from_dict(s.to_dict()) == s
    with pytest.raises(DomainError, match=r"hop 64 vs 128"):
        s.check_same(MelSettings(8000, 256, 128, 64), "vocoder", "latent run")
    with pytest.raises(DomainError, match="fmax"):
        MelSettings(8000, 256, 64, 64, fmax=5000.0)


def test_griffin_lim_baseline_is_close_to_the_clip():
    s = MelSettings(8000, 256, 64, 64)
    wave = torch.from_numpy(tone(440.0, 8000, 4096))[None]
    out = griffin_lim(s.logmel(wave), s, n_iter=16)
    assert out.shape == wave.shape
    assert (s.logmel(out) - s.logmel(wave)).abs().mean() < 1.0  # same spectrum, new phase


def test_generator_shapes_and_hop_check():
    info = {"mel": MelSettings(8000, 256, 64, 64).to_dict()}
    gen = build_hifigan_vocoder(info, channels=16, resblock_kernels=[3])
    out = gen(None, torch.randn(2, 64, 10))
    assert out.shape == (2, 1, 640) and out.abs().max() <= 1
    with pytest.raises(DomainError, match="product of upsample_rates"):
        build_hifigan_vocoder(info, upsample_rates=[4, 4])
    with pytest.raises(DomainError, match="data.params.mel"):
        build_hifigan_vocoder({"shape": [1, 4096]})
    with pytest.raises(DomainError, match=r"\[B, 64, frames\]"):
        gen(None, torch.randn(2, 32, 10))


def test_discriminator_heads_and_features():
    d = HiFiGANDiscriminator(periods=(2, 3), scales=2, width=0.03125, per_head=True).eval()
    x = torch.randn(2, 1, 512)  # eval: spectral norm's power iteration leaves its state alone
    logits, maps = d(x, features=True)
    assert logits.shape == (2, 4) and len(maps) == 2 * 5 + 2 * 7
    summed = HiFiGANDiscriminator(periods=(2, 3), scales=2, width=0.03125)
    summed.load_state_dict(d.state_dict())
    summed.eval()
    torch.testing.assert_close(summed(x), logits.sum(1))


def test_mel_pairs_feed_the_log_mel_as_condition():
    dom = AudioDomain()
    ds = dom.load_dataset("embedded", None, "train", n_per_class=1, length=512, mel=MEL)
    info = dom.describe(ds)
    assert info["mel"]["hop"] == 16 and info["num_classes"] == 0 and info["scale"] == 1.0
    assert info["cond_shape"] == [16, 32]
    batch = dom.collate([ds[0], ds[1]])
    assert batch.x.shape == (2, 1, 512) and batch.cond.shape == (2, 16, 32)
    torch.testing.assert_close(paired_features(batch.x, info), batch.cond)
    assert Domain.paired_features(dom, batch.x, {}) is batch.x  # other runs: the state itself
    with pytest.raises(DomainError, match="unknown key"):
        dom.load_dataset("embedded", None, "train", n_per_class=1, mel={"hops": 3})
    with pytest.raises(DomainError, match="scale"):
        dom.load_dataset("embedded", None, "train", n_per_class=1, mel=MEL, scale=0.5)


def test_train_vocode_score(vocoder_run: Path, tmp_path: Path):
    voc = load_vocoder(vocoder_run, "cpu")
    assert voc.settings == MelSettings(8000, 64, 16, 16)
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    for i, f in enumerate((300.0, 700.0)):
        sf.write(wavs / f"clip{i}.wav", tone(f, 8000, 2048), 8000)
    res = api.vocode(vocoder_run, wavs, out=tmp_path / "out")
    assert sorted(p.name for p in res.files) == ["clip0.wav", "clip1.wav"]
    assert set(res.scores) == {"mr_stft", "lsd"} and all(np.isfinite(list(res.scores.values())))
    assert sf.info(str(tmp_path / "out" / "clip0.wav")).frames == 2048
    mels = tmp_path / "mels"
    mels.mkdir()
    np.save(mels / "m.npy", voc.settings.logmel(torch.zeros(1, 800))[0].numpy())
    res = api.vocode(vocoder_run, mels, out=tmp_path / "out2")
    assert res.samples.waves.shape == (1, 800) and not res.scores
    assert voc(torch.zeros(16, 5)).shape == (1, 80)


def test_vocoder_refuses_bad_input(vocoder_run: Path, tmp_path: Path):
    voc = load_vocoder(vocoder_run, "cpu")
    with pytest.raises(DomainError, match=r"n_mels 16 vs 64.*hop 16 vs 64|hop 16 vs 64"):
        voc.check_settings(embedded_settings(), "latent run X")
    with pytest.raises(DomainError, match=r"\[n_mels=16, frames\]"):
        voc(torch.zeros(2, 64, 5))
    bad = tmp_path / "rate"
    bad.mkdir()
    sf.write(bad / "a.wav", tone(440.0, 16000, 2048), 16000)
    with pytest.raises(DomainError, match="16000 Hz.*8000 Hz"):
        api.vocode(vocoder_run, bad)
    shape = tmp_path / "shape"
    shape.mkdir()
    np.save(shape / "m.npy", np.zeros((64, 8), np.float32))
    with pytest.raises(DomainError, match="n_mels=16"):
        api.vocode(vocoder_run, shape)
    np.save(bad / "m.npy", np.zeros((16, 8), np.float32))
    with pytest.raises(DomainError, match="both"):
        api.vocode(vocoder_run, bad)
    with pytest.raises(DomainError, match="not a vocoder|no mel settings"):
        from domains.audio.vocoder import run_settings

        run_settings({"shape": [1, 512]})

"""DiffWave as a mel vocoder (issue 15): the log-mel condition's wiring (upsampler, the per-layer
projection folded into the dilated GEMM, alignment), mel pairs cut into segments, a tiny
train -> vocode run through the engine's EDM, decoding a latent run with it, and the mel
settings it refuses."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from torch.nn import functional as F

from domains.audio.domain import AudioDomain
from domains.audio.melspec import MelSettings
from domains.audio.networks import network_specs
from domains.audio.networks.diffwave import ResidualStack
from domains.audio.networks.diffwave_vocoder import DiffWaveVocoder, MelUpsampler, default_rates
from domains.audio.vocoder import load_vocoder
from multigen import api
from multigen.datainfo import DataInfo
from multigen.domain import DomainError

from .conftest import tone

CONFIG = (
    Path(__file__).resolve().parents[3] / "configs" / "audio" / "embedded_diffwave_vocoder.yaml"
)
MEL = {"n_fft": 64, "hop": 16, "n_mels": 16}
TINY = [
    "data.params={n_per_class: 2, length: 512, segment: 8, envelope: true, "
    "mel: {n_fft: 64, hop: 16, n_mels: 16}}",
    "data.batch_size=4",
    "model.params={residual_layers: 3, residual_channels: 8, dilation_cycle: 3, embed_dim: 16}",
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
    return api.train(CONFIG, tmp_path_factory.mktemp("dwvoc") / "run", TINY)


def _live(model: DiffWaveVocoder) -> DiffWaveVocoder:
    """DiffWave starts as the zero function (zero output layer): give it weights."""
    torch.nn.init.normal_(model.output_proj.weight, std=0.5)
    return model.eval()


def test_default_rates_multiply_to_the_hop():
    assert default_rates(64) == (8, 8) and default_rates(256) == (16, 16)
    assert default_rates(128) == (16, 8) and default_rates(100) == (10, 10)
    assert default_rates(7) == (7, 1)


def test_upsampler_stretches_each_band_to_the_sample_rate():
    up = MelUpsampler((8, 8))
    assert up(torch.randn(2, 5, 7)).shape == (2, 5, 7 * 64)
    assert MelUpsampler((3, 5))(torch.randn(1, 4, 6)).shape == (1, 4, 90)  # odd rates
    # at init: linear interpolation within each band, the mel at its own scale
    mel = torch.rand(2, 5, 7) + 1
    with torch.no_grad():
        torch.testing.assert_close(up(torch.ones(2, 5, 7))[..., 64:-64], torch.ones(2, 5, 320))
        centres = up(mel)[..., 32::64]  # frame k is centred on sample 64k + 32
        assert (
            float((centres - mel).abs().max())
            < 0.1 * float((mel[..., 1:] - mel[..., :-1]).abs().max()) + 1e-3
        )
    # one frame's upsampled footprint is centred on that frame's samples (k*hop + hop/2)
    with torch.no_grad():
        for stage in up.stages:
            stage.weight.fill_(1.0)
            stage.bias.zero_()
    impulse = torch.zeros(1, 1, 9)
    impulse[0, 0, 4] = 1.0
    out = up(impulse)[0, 0].detach()
    centre = float((out * torch.arange(out.numel())).sum() / out.sum())
    assert abs(centre - (4 * 64 + 32)) <= 4


def test_local_condition_is_one_gemm_equal_to_a_separate_projection():
    torch.manual_seed(0)
    stack = ResidualStack(layers=2, channels=4, cycle=2, embed=8, local=3)
    assert stack.w_dil.shape == (2, 8, 12 + 3)
    h, emb, local = torch.randn(2, 10, 4), torch.randn(2, 8), torch.randn(2, 10, 3)
    got = stack(h, emb, torch.float32, local)
    # the same layers written out: dilated conv over the taps plus a 1x1 conv of the condition
    steps = stack.step_proj(emb).view(2, 2, 1, 4)
    skip, x = 0, h
    for i, d in enumerate(stack.dilations):
        y = (x + steps[:, i]).transpose(1, 2)
        w = stack.w_dil[i]
        conv = F.conv1d(y, w[:, :12].reshape(8, 3, 4).permute(0, 2, 1), padding=d, dilation=d)
        z = conv + F.conv1d(local.transpose(1, 2), w[:, 12:, None]) + stack.b_dil[i][:, None]
        gate, filt = z.chunk(2, dim=1)
        o = F.linear((torch.sigmoid(gate) * torch.tanh(filt)).transpose(1, 2), stack.w_out[i],
                     stack.b_out[i])  # fmt: skip
        res, sk = o.chunk(2, dim=-1)
        x, skip = (x + res) / math.sqrt(2), skip + sk
    torch.testing.assert_close(got, skip / math.sqrt(2), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="local"):
        stack(h, emb, torch.float32)


def test_vocoder_network_shapes_and_mel_wiring():
    torch.manual_seed(0)
    net = _live(DiffWaveVocoder(n_mels=16, hop=16, residual_layers=3, residual_channels=8,
                                dilation_cycle=3, embed_dim=16, bf16=False))  # fmt: skip
    x, sigma = torch.randn(2, 1, 40 * 16), torch.zeros(2)
    mel = torch.randn(2, 16, 40) - 5
    out = net(x, sigma, mel)
    assert out.shape == x.shape
    # the output follows the mel, and only near the frame that changed: upsampler (±1 frame)
    # plus the residual stack's receptive field (±7 samples for dilations 1, 2, 4)
    moved = mel.clone()
    moved[:, :, 20] += 3.0
    diff = (net(x, sigma, moved) - out).abs()[0, 0]
    changed = torch.nonzero(diff > 1e-6).flatten()
    assert changed.numel() > 0
    assert int(changed.min()) >= 19 * 16 - 8 and int(changed.max()) < 22 * 16 + 8
    dropped = mel.clone()  # a dropped condition (NaN) is silence
    dropped[1] = float("nan")
    silent = mel.clone()
    silent[1] = math.log(1e-5)
    torch.testing.assert_close(net(x, sigma, dropped), net(x, sigma, silent))
    with pytest.raises(DomainError, match=r"log-mel condition \[B, 16, frames\]"):
        net(x, sigma, None)
    with pytest.raises(DomainError, match="39 mel frames make 624 samples"):
        net(x, sigma, mel[..., :39])
    with pytest.raises(DomainError, match="product of upsample_rates"):
        DiffWaveVocoder(16, 16, upsample_rates=[4, 2])
    build = network_specs()["diffwave_vocoder"].builder
    with pytest.raises(DomainError, match="data.params.mel"):
        build({"shape": [1, 512]})
    built = build({"shape": [1, 512], "mel": MelSettings(8000, 64, 16, 16).to_dict()},
                  residual_layers=2, residual_channels=4, dilation_cycle=2)  # fmt: skip
    assert built.upsampler.rates == [4, 4]


def test_segments_cut_clips_and_their_mels_alike():
    dom = AudioDomain()
    whole = dom.load_dataset("embedded", None, "train", n_per_class=1, length=512, mel=MEL)
    cut = dom.load_dataset("embedded", None, "train", n_per_class=1, length=512, mel=MEL,
                           segment=8)  # fmt: skip
    assert len(cut) == 4 * len(whole)  # 32 frames -> 4 pieces of 8
    wave, mel = cut[5]  # clip 1, piece 1
    assert wave.shape == (1, 128) and mel.shape == (16, 8)
    torch.testing.assert_close(wave[0], whole.waves[1, 128:256])
    torch.testing.assert_close(mel, whole.mels[1, :, 8:16])
    assert cut.labels[5] == whole.labels[1] and cut.names[5] == f"{whole.names[1]}_1"
    info = dom.describe(cut)
    assert info["shape"] == [1, 128] and info["cond_shape"] == [16, 8]
    held_out = dom.load_dataset("embedded", None, "test", n_per_class=1, length=512, mel=MEL,
                                segment=8)  # fmt: skip
    assert held_out.waves.shape[1] == 512  # what is vocoded and scored stays whole
    with pytest.raises(DomainError, match="segment.*longer than the clips"):
        dom.load_dataset("embedded", None, "train", n_per_class=1, length=512, mel=MEL,
                         segment=40)  # fmt: skip
    with pytest.raises(DomainError, match="segment is for mel pairs"):
        dom.load_dataset("embedded", None, "train", n_per_class=1, segment=8)


def test_envelope_states_decode_back_to_the_clips():
    from domains.audio.vocoder import mel_envelope

    dom = AudioDomain()
    s = MelSettings(8000, 64, 16, 16)
    steady = torch.from_numpy(tone(440.0, 8000, 512))[None]
    env = mel_envelope(s.logmel(steady), s)
    assert env.shape == (1, 512)
    inner = env[0, 64:-64]
    assert float(inner.max() / inner.min()) < 1.2  # a steady tone: a flat envelope
    gain = torch.linspace(1, 0.01, 512)
    faded = mel_envelope(s.logmel(steady * gain), s)[0]
    ratio = float(faded[64] / faded[-64]) / float(gain[64] / gain[-64])  # true ratio 6.4
    assert 0.8 < ratio < 1.25  # follows the loudness
    ds = dom.load_dataset("embedded", None, "train", n_per_class=1, length=512, mel=MEL,
                          envelope=True)  # fmt: skip
    info = dom.describe(ds)
    assert info["envelope"] is True
    batch = dom.collate([ds[i] for i in range(4)])
    torch.testing.assert_close(batch.x[:, 0] * mel_envelope(batch.cond, s), ds.waves[:4])
    torch.testing.assert_close(dom.decode(batch, info).waves, ds.waves[:4].clamp(-1, 1))
    assert abs(info["sigma_data"] - float((ds.waves / ds.envelope).std())) < 1e-6
    build = network_specs()["hifigan_vocoder"].builder
    with pytest.raises(DomainError, match="envelope.*diffusion vocoders"):
        build(info)
    with pytest.raises(DomainError, match="envelope must be true or false"):
        dom.load_dataset("embedded", None, "train", n_per_class=1, mel=MEL, envelope="yes")


def test_train_and_vocode(vocoder_run: Path, tmp_path: Path):
    voc = load_vocoder(vocoder_run, "cpu")
    assert voc.settings == MelSettings(8000, 64, 16, 16) and voc.generator is None
    mel = voc.settings.logmel(torch.from_numpy(tone(440.0, 8000, 512))[None])
    out = voc(torch.cat([mel, mel, mel]))
    assert out.shape == (3, 512) and torch.isfinite(out).all() and out.abs().max() <= 1
    # sample i uses seed + i however the mels are batched
    voc.batch_size = 2
    torch.testing.assert_close(voc(torch.cat([mel, mel, mel])), out)
    assert voc(torch.zeros(16, 5)).shape == (1, 80)  # any frame count
    fast = load_vocoder(vocoder_run, "cpu", sampler="ddpm", seed=3)
    assert fast.options.sampler == "ddpm" and fast.options.seed == 3
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    for i, f in enumerate((300.0, 700.0)):
        sf.write(wavs / f"clip{i}.wav", tone(f, 8000, 2048), 8000)
    res = api.vocode(vocoder_run, wavs, out=tmp_path / "out")
    assert sorted(p.name for p in res.files) == ["clip0.wav", "clip1.wav"]
    assert set(res.scores) == {"mr_stft", "lsd"} and all(np.isfinite(list(res.scores.values())))
    assert sf.info(str(tmp_path / "out" / "clip0.wav")).frames == 2048


def test_a_latent_run_decodes_with_the_diffwave_vocoder(vocoder_run: Path):
    from multigen_domains.audio.mel_codec import MelCodec

    info = DataInfo.of({"shape": [1, 512], "sample_rate": 8000, "scale": 1.0})
    c = MelCodec(info, vocoder=str(vocoder_run), n_fft=64, hop=16, n_mels=16)
    z = c.encode(torch.from_numpy(tone(440.0, 8000, 512)).reshape(1, 1, -1).repeat(2, 1, 1))
    assert z.shape == (2, 16, 32) and c.decode(z).shape == (2, 1, 512)


def test_mismatched_mel_settings_are_refused(vocoder_run: Path):
    from multigen_domains.audio.mel_codec import MelCodec

    info = DataInfo.of({"shape": [1, 512], "sample_rate": 8000, "scale": 1.0})
    with pytest.raises(DomainError, match="hop 16 vs 64") as err:  # the codec's default hop
        MelCodec(info, vocoder=str(vocoder_run), n_mels=16)
    assert "\n" not in str(err.value)
    with pytest.raises(DomainError, match="n_mels") as err:
        MelCodec(info, vocoder=str(vocoder_run), n_fft=64, hop=16, n_mels=32)
    assert "\n" not in str(err.value)
    with pytest.raises(DomainError, match="sampler 'nope'|unknown sampler|nope"):
        load_vocoder(vocoder_run, "cpu", sampler="nope")

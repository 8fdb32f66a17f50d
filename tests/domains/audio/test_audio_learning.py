"""Issue 15 fixes: waveforms in network scale (unit std), the patched U-Net, the WaveGAN's
output range and class conditioning reaching each network."""

from __future__ import annotations

import pytest
import torch

from multigen.domain import Batch, DomainError
from multigen_domains.audio import get_domain
from multigen_domains.audio.data import WaveDataset
from multigen_domains.audio.networks.unet1d import UNet1D, fold, unfold
from multigen_domains.audio.networks.wavegan import build_wavegan_generator
from multigen_domains.audio.scaling import ScaledWaves, data_scale


def test_training_items_have_unit_std_and_decode_back():
    dom = get_domain()
    ds = dom.load_dataset("embedded", None, "train", n_per_class=4, length=1024)
    info = dom.describe(ds)
    std = float(ds.waves.double().std())
    assert info["scale"] == pytest.approx(std, rel=1e-3)  # 4 significant digits
    items = torch.stack([ds[i][0] for i in range(len(ds))])
    assert float(items.double().std()) == pytest.approx(1.0, rel=1e-3)
    assert info["sigma_data"] == pytest.approx(1.0, rel=1e-3)
    # decode maps network scale back to the clips as read
    out = dom.decode(Batch(items), info)
    torch.testing.assert_close(out.waves, ds.waves, atol=1e-6, rtol=0)


def test_scale_option_and_runs_recorded_without_scale():
    dom = get_domain()
    ds = dom.load_dataset("embedded", None, "train", n_per_class=2, length=512, scale=1.0)
    torch.testing.assert_close(ds[0][0][0], ds.waves[0])
    info = dom.describe(ds)
    assert info["scale"] == 1.0 and info["sigma_data"] == pytest.approx(float(ds.waves.std()))
    with pytest.raises(DomainError, match="positive number"):
        dom.load_dataset("embedded", None, "train", n_per_class=2, scale=0)
    # a run recorded before the scale existed decodes its states as they are
    old = {k: v for k, v in info.items() if k != "scale"}
    x = torch.full((1, 1, 512), 0.25)
    assert float(dom.decode(Batch(x), old).waves.max()) == pytest.approx(0.25)


def test_silent_training_set_is_refused_by_name():
    ds = ScaledWaves(WaveDataset(torch.zeros(3, 256), None, 8000))
    with pytest.raises(DomainError, match="silent"):
        get_domain().describe(ds)
    with pytest.raises(DomainError, match="silence-only"):
        data_scale(torch.zeros(2, 10))


def test_wavegan_output_covers_full_scale_waveforms():
    info = {"shape": [1, 1024], "num_classes": 0, "scale": 0.25}
    g = build_wavegan_generator(info, latent_dim=8, width=4, layers=3)
    with torch.no_grad():
        for p in g.parameters():
            p.mul_(50)  # saturate the tanh
        x = g(torch.randn(4, 8))
    assert float(x.abs().max()) > 3.9  # |wave| up to 1 is |x| up to 1 / 0.25
    assert float(x.abs().max()) <= 4.0 + 1e-5


@pytest.mark.parametrize("t", [4096, 1000, 33])
def test_patched_unet_shapes_and_patch_one_is_the_plain_unet(t):
    torch.manual_seed(0)
    m = UNet1D(channels=8, mults=(1, 2), blocks=1, kernel=3, factor=2, patch=16, attention=True)
    assert m(torch.randn(2, 1, t), torch.tensor([1.0, 500.0])).shape == (2, 1, t)
    plain = UNet1D(channels=8, mults=(1, 2), blocks=1, kernel=3, factor=2)
    same = UNet1D(channels=8, mults=(1, 2), blocks=1, kernel=3, factor=2, patch=1)
    assert {k: v.shape for k, v in plain.state_dict().items()} == {
        k: v.shape for k, v in same.state_dict().items()
    }  # checkpoints of the plain U-Net still load


def test_fold_puts_each_patch_in_channels_and_unfold_inverts_it():
    x = torch.arange(12.0).view(1, 1, 12)
    h = fold(x, 4)
    assert h.shape == (1, 4, 3)
    assert h[0, :, 1].tolist() == [4.0, 5.0, 6.0, 7.0]  # patch 1 = samples 4..7
    assert torch.equal(unfold(h), x)


@pytest.mark.parametrize("patch", [1, 8])
def test_unet_class_condition_changes_the_output(patch):
    torch.manual_seed(0)
    m = UNet1D(channels=8, mults=(1, 2), blocks=1, kernel=3, num_classes=3, patch=patch)
    torch.nn.init.normal_(m.out[-1].weight)  # the zero-initialised output would hide it
    for mod in m.modules():
        if hasattr(mod, "c2"):
            torch.nn.init.normal_(mod.c2.weight, std=0.1)
    x, c = torch.randn(2, 1, 256), torch.tensor([5.0, 5.0])
    a, b = m(x, c, torch.tensor([0, 0])), m(x, c, torch.tensor([2, 2]))
    assert (a - b).abs().mean() > 1e-3 * a.abs().mean()
    torch.testing.assert_close(m(x, c, torch.tensor([-1, -1])), m(x, c, None))


def test_receptive_field_known_answer_and_embedded_configs_cover_the_clip():
    from multigen.config import load_config
    from multigen_domains.audio.networks.diffwave import receptive_field

    assert receptive_field(2, 2) == 1 + 2 * (1 + 2)
    assert receptive_field(30, 10) == 6139  # DiffWave-BASE: 3 cycles of 1..512
    assert receptive_field(12, 6) == 253
    for name in ("embedded_ddpm", "embedded_edm", "embedded_flow"):
        p = load_config(f"configs/audio/{name}.yaml").model.params
        field = receptive_field(p["residual_layers"], p["dilation_cycle"])
        assert field >= 4096, (name, field)  # the embedded clips' length


@pytest.mark.slow
def test_patched_unet_memorises_one_clip(tmp_path):
    """Known answer: at σ = 2 a denoiser that predicts silence (the best guess without
    knowing the clip) has error ||x0|| / ||σn|| = 1/2 on unit-std data; one that has
    memorised its single training clip recovers it, so its error falls well below that."""
    from benchmarks.audio_memorise import denoiser_errors
    from multigen.config import load_config
    from multigen.train.trainer import Trainer

    cfg = load_config({
        "domain": "audio",
        "data": {"name": "embedded", "params": {"n_per_class": 1, "classes": 1, "length": 1024},
                 "batch_size": 4},
        "model": {"name": "unet1d", "params": {"channels": 32, "mults": [1, 2], "kernel": 5,
                                               "patch": 8}},
        "method": {"name": "edm"},
        "train": {"steps": 300, "lr": 1e-3, "warmup": 20, "ema_decay": 0.9, "precision": "fp32",
                  "progress": False, "tensorboard": False, "checkpoint_every": 300},
    })  # fmt: skip
    tr = Trainer(cfg, get_domain(), tmp_path / "run")
    tr.fit()
    x0 = tr.dataset[0][0][None]
    err = denoiser_errors(tr.emas["model"].module.eval(), x0.expand(8, -1, -1), None, (2.0,))
    assert err["d_err@2"] < 0.25


def test_memorisation_measures_known_answers():
    """A shifted clip is the same sound (rel_l2 calls it unrelated, the phase-blind spectrum
    cosine does not); a clip with faint hiss is the same waveform but the hiss measure sees it."""
    from benchmarks.audio_memorise import closeness

    ds = get_domain().load_dataset("embedded", None, "train", n_per_class=1, length=2048)
    w = ds.waves
    same = closeness(w, w, 8000)
    assert same["rel_l2"] == 0 and same["spec_cos"] == pytest.approx(1) and same["hiss_x"] == 1
    shifted = closeness(w.roll(37, 1), w, 8000)
    assert shifted["rel_l2"] > 1 and shifted["spec_cos"] > 0.99
    g = torch.Generator().manual_seed(0)
    hiss = closeness(w + 0.01 * torch.randn(w.shape, generator=g), w, 8000)
    assert hiss["rel_l2"] < 0.1 and hiss["hiss_x"] > 2


def test_denoiser_errors_and_losses_per_sigma_known_answers():
    """A network that outputs zeros under EDM preconditioning (σ_data = 1) has the training
    loss 1 at every σ (the preconditioning's normalisation) and returns c_skip·x with
    c_skip = 1/(1+σ²), whose error relative to the noise, ||(c_skip - 1)·x0 + c_skip·σn|| /
    ||σn||, is 1/sqrt(1 + σ²) for unit-std x0 and n."""
    from benchmarks.audio_memorise import denoiser_errors
    from multigen.diffusion.precond import Denoiser, EDMPrecond

    class Zero(torch.nn.Module):
        def forward(self, x, c_noise, cond=None, mask=None):
            return torch.zeros_like(x)

    x0 = torch.randn(16, 1, 4096, generator=torch.Generator().manual_seed(3))
    out = denoiser_errors(Denoiser(Zero(), EDMPrecond(1.0)), x0, None, (0.01, 1.0, 5.0), True)
    for s in (0.01, 1.0, 5.0):
        assert out[f"loss@{s:g}"] == pytest.approx(1.0, abs=0.03)
        assert out[f"d_err@{s:g}"] == pytest.approx((1 + s * s) ** -0.5, abs=0.02)
    # the identity (a denoiser that removes nothing) has error 1 at every σ
    ident = denoiser_errors(lambda x, s, c: x, x0, None, (0.01, 1.0))
    assert ident == {"d_err@0.01": pytest.approx(1.0), "d_err@1": pytest.approx(1.0)}


def test_whitened_items_have_a_flat_spectrum_and_decode_back_exactly():
    dom = get_domain()
    ds = dom.load_dataset("embedded", None, "train", n_per_class=4, length=1024, whiten=True)
    info = dom.describe(ds)
    items = torch.stack([ds[i][0] for i in range(len(ds))])
    assert float(items.double().std()) == pytest.approx(1.0, rel=1e-3)
    assert info["sigma_data"] == pytest.approx(1.0, rel=1e-3)
    assert len(info["whiten"]) == 64 and max(info["whiten"]) == 1.0

    def band_db(x):  # the mean power of 16 equal bands above the lowest, in dB
        p = torch.fft.rfft(x.double(), dim=-1).abs().pow(2).mean(0)[32:]
        p = torch.stack([b.mean() for b in p.chunk(16)])
        return 10 * (p.max() / p.min()).log10()

    assert band_db(ds.waves) > 15  # the clips as read are coloured ...
    assert band_db(items[:, 0]) < 5  # ... the network sees them nearly white
    out = dom.decode(Batch(items), info)  # decode undoes the filter and the scale
    torch.testing.assert_close(out.waves, ds.waves, atol=2e-6, rtol=0)
    with pytest.raises(DomainError, match="whiten must be true or false"):
        dom.load_dataset("embedded", None, "train", n_per_class=1, whiten="yes")


def test_whitening_gains_known_answer_and_noise_shaping():
    from multigen_domains.audio.scaling import apply_gains, whitening_gains

    t = 512
    k = torch.arange(t // 2 + 1)
    # a power spectrum of 100 below 1/4 of Nyquist and 1 above: amplitudes 10 and 1
    amp = torch.where(k < t // 8, 10.0, 1.0).double()
    amp[0] = 0  # no DC
    waves = torch.fft.irfft(amp * torch.exp(1j * torch.rand(4, len(k)) * 6.28), n=t)
    g = whitening_gains(waves.float(), bands=8, floor_db=40)
    assert g[0] == pytest.approx(0.1, rel=0.05) and g[-1] == 1.0  # 1/sqrt(P), max 1
    # a 10 dB floor lifts the quiet band's power to 10: gains 1/10 and 1/sqrt(10)
    floored = whitening_gains(waves.float(), bands=8, floor_db=10)
    assert floored[0] == pytest.approx(10**-0.5, rel=0.05)
    # white noise a model leaves in network scale is shaped like the data on decoding: 20 dB
    # above the quiet band in the loud one, instead of level with it
    noise = torch.randn(64, t, generator=torch.Generator().manual_seed(0))
    shaped = torch.fft.rfft(apply_gains(noise, g, inverse=True).double()).abs().pow(2).mean(0)
    assert 10 * (shaped[5:25].mean() / shaped[-100:].mean()).log10() == pytest.approx(20, abs=2)
    torch.testing.assert_close(apply_gains(apply_gains(noise, g), g, inverse=True), noise,
                               atol=1e-5, rtol=0)  # fmt: skip
    with pytest.raises(DomainError, match="bands >= 2"):
        whitening_gains(waves, bands=1)


def test_band_excess_known_answers():
    """The same clips have no excess; ten times louder is +20 dB in every band; white noise
    added at a level far above the clips' top band shows there and not in their loud band."""
    from benchmarks.audio_quality_embedded import band_excess_db

    w = get_domain().load_dataset("embedded", None, "test", n_per_class=2).waves
    assert band_excess_db(w, w) == [0.0] * 8
    assert band_excess_db(10 * w, w) == [pytest.approx(20.0, abs=0.05)] * 8
    g = torch.Generator().manual_seed(0)
    noisy = band_excess_db(w + 0.01 * torch.randn(w.shape, generator=g), w)
    assert noisy[-1] > 30 and 0 <= noisy[1] < 3


def test_whitened_run_trains_samples_and_reloads_its_gains(tmp_path):
    from multigen import api
    from multigen.config import load_config
    from multigen.train.trainer import Trainer

    cfg = load_config({
        "domain": "audio",
        "data": {"name": "embedded", "params": {"n_per_class": 1, "length": 512, "whiten": True},
                 "batch_size": 4},
        "model": {"name": "unet1d", "params": {"channels": 8, "mults": [1, 2], "patch": 4}},
        "method": {"name": "edm"},
        "train": {"steps": 2, "progress": False, "tensorboard": False, "checkpoint_every": 2},
        "sample": {"steps": 2, "n": 2}, "eval": {"n_samples": 2},
    })  # fmt: skip
    Trainer(cfg, get_domain(), tmp_path / "run").fit()
    run = api.load_run(tmp_path / "run", device="cpu")
    gains = run.info.get("whiten")
    assert len(gains) == 64 and max(gains) == 1.0 and min(gains) < 0.5
    out = api.sample(run, n=2, seed=0).samples.waves
    assert out.shape == (2, 512) and bool(out.isfinite().all())

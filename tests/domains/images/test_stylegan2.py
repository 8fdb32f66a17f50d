"""StyleGAN2 generator/discriminator (issue 18): known answers for the modulated convolution
and the equalised learning rate, the style interface the engine uses (truncation, mixing,
path length), the papers' GPU sizes, bad input, and a tiny train -> sample -> evaluate run
with ADA, lazy R1 and path length."""

import json
import math
from pathlib import Path

import pytest
import torch
import yaml

from domains.images.networks import stylegan2 as sg
from multigen.adversarial import style
from multigen.domain import Batch, DomainError

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "images"
INFO = {"shape": [1, 16, 16], "num_classes": 10}
TINY = {"latent_dim": 16, "w_dim": 16, "channel_base": 128, "channel_max": 16}


def gens(n, offset=0):
    return [torch.Generator().manual_seed(offset + i) for i in range(n)]


def template(n, cond=None):
    return Batch(torch.zeros(n, 1, 16, 16), cond=cond)


# ---- known answers ---------------------------------------------------------------------
@pytest.mark.parametrize("fused", [False, True])
def test_demodulation_gives_unit_output_std(fused):
    """Unit-variance i.i.d. input, any weights and styles: each output channel's weights have
    unit L2 norm after demodulation, so the output variance is 1 (away from the padding)."""
    torch.manual_seed(0)
    x = torch.randn(4, 32, 40, 40)
    weight = torch.randn(16, 32, 3, 3) * 5
    styles = torch.rand(4, 32) * 3 + 0.1
    out = sg.modulated_conv2d(x, weight, styles, fused=fused)[:, :, 1:-1, 1:-1]
    std = out.transpose(0, 1).reshape(16, -1).std(dim=1)
    assert torch.allclose(std, torch.ones(16), atol=0.05)
    undemod = sg.modulated_conv2d(x, weight, styles, demodulate=False, fused=fused)
    assert undemod.std() > 10  # without demodulation the scale follows the weights


def test_fused_and_unfused_modulated_conv_agree():
    torch.manual_seed(1)
    x, w, s = torch.randn(3, 8, 6, 6), torch.randn(5, 8, 3, 3), torch.randn(3, 8)
    for demod in (True, False):
        a = sg.modulated_conv2d(x, w, s, demodulate=demod)
        b = sg.modulated_conv2d(x, w, s, demodulate=demod, fused=True)
        assert torch.allclose(a, b, atol=1e-5)


def test_equalised_learning_rate():
    """Weights are stored N(0, 1/lr_mul²) and scaled by lr_mul/√fan_in at run time: the
    effective weight has std 1/√fan_in, and the gradient reaching the stored weight is the
    effective gradient times the same constant (what equalises Adam's steps)."""
    torch.manual_seed(0)
    lin = sg.EqualLinear(400, 300, lr_mul=0.01)
    assert lin.weight.std().item() == pytest.approx(100, rel=0.02)
    assert lin.weight_gain == pytest.approx(0.01 / 20)
    assert (lin.weight * lin.weight_gain).std().item() == pytest.approx(1 / 20, rel=0.02)
    x = torch.randn(2000, 400)
    assert lin(x).std().item() == pytest.approx(1.0, rel=0.05)  # unit in, unit out
    y = lin(x[:3]).sum()
    y.backward()
    eff = (lin.weight.detach() * lin.weight_gain).requires_grad_(True)
    torch.nn.functional.linear(x[:3], eff, lin.bias.detach() * 0.01).sum().backward()
    assert torch.allclose(lin.weight.grad, eff.grad * lin.weight_gain, rtol=1e-5)
    conv = sg.EqualConv2d(16, 8, 3, activation=False)
    assert conv.weight_gain == pytest.approx(1 / math.sqrt(16 * 9))
    assert conv.weight.std().item() == pytest.approx(1.0, rel=0.1)


def test_lrelu_gain_keeps_second_moment():
    x = torch.randn(200_000)
    assert sg.lrelu(x).square().mean().item() == pytest.approx(1.04, rel=0.02)  # (1+0.04)


# ---- the networks ----------------------------------------------------------------------
def test_generator_shapes_and_style_interface():
    g = sg.build_generator(INFO, **TINY)
    assert isinstance(g, style.StyleGenerator)
    assert g.num_ws == 2 * 4 - 2  # 16x16: StyleGAN2's 2·log2(size) - 2
    assert g.latent_size == 16 + 16 + 2 * 64 + 2 * 256  # z + one noise map per conv
    cond = torch.arange(4) % 10
    z = g.sample_latent(template(4), gens(4))
    ws = g.mapping(z, cond)
    assert ws.shape == (4, g.num_ws, 16)
    x = g.synthesis(ws, z)
    assert x.shape == (4, 1, 16, 16) and torch.allclose(g(z, cond), x)


def test_generator_is_batch_invariant_and_uses_noise_and_class():
    g = sg.build_generator(INFO, **TINY).eval()
    for layer in g.convs:  # make the noise inputs matter
        layer.noise_strength.data.fill_(1.0)
    cond = torch.tensor([3, 3, 5])
    z = g.sample_latent(template(3), gens(3))
    assert torch.allclose(g(z, cond)[:1], g(z[:1], cond[:1]), atol=1e-4)
    other_noise = z.clone()
    other_noise[:, g.latent_dim :] = torch.randn_like(z[:, g.latent_dim :])
    assert not torch.allclose(g(z, cond), g(other_noise, cond))
    assert not torch.allclose(g(z, torch.tensor([3, 4, 5])), g(z, cond))


def test_w_avg_tracks_the_mapping_in_training_only():
    g = sg.build_generator(INFO, **TINY)
    z = g.sample_latent(template(8), gens(8))
    g.eval().mapping(z)
    assert torch.equal(g.w_avg, torch.zeros(16))
    w = g.train().mapping(z)[:, 0]
    assert torch.allclose(g.w_avg, 0.005 * w.mean(0), atol=1e-6)


def test_truncation_at_zero_gives_w_avg():
    g = sg.build_generator(INFO, **TINY).eval()
    g.w_avg.copy_(torch.randn(16))
    tpl = template(3, torch.tensor([1, 2, 3]))
    z = g.sample_latent(tpl, gens(3))
    ws = style.truncate(g.mapping(z, tpl.cond), g.w_avg, 0.0)
    assert torch.allclose(ws, g.w_avg.expand_as(ws))
    x = style.styled_sample(g, tpl, gens(3), 0.0, None, "'stylegan2_generator'")
    assert torch.allclose(x, g.synthesis(g.w_avg.expand(3, g.num_ws, 16), z), atol=1e-6)
    plain = style.styled_sample(g, tpl, gens(3), 1.0, None, "'g'")
    assert torch.allclose(plain, g(z, tpl.cond), atol=1e-6)


def test_style_mixing_at_sampling():
    g = sg.build_generator(INFO, **TINY).eval()
    tpl = template(2, torch.tensor([1, 2]))
    a = style.styled_sample(g, tpl, gens(2), None, 3, "'g'")
    b = style.styled_sample(g, tpl, gens(2), None, 5, "'g'")
    assert a.shape == (2, 1, 16, 16) and not torch.allclose(a, b)
    with pytest.raises(DomainError, match="choose a crossover layer from 1 to 5"):
        style.styled_sample(g, tpl, gens(2), None, 6, "'g'")


def test_discriminator_projection_and_minibatch_std():
    d = sg.build_discriminator(INFO, channel_base=128, channel_max=16)
    x = torch.randn(6, 1, 16, 16)  # 6 is not a multiple of the group of 4: groups of 2
    y = torch.tensor([0, 1, 2, 3, -1, 5])
    out = d(x, y)
    assert out.shape == (6,) and torch.isfinite(out).all()
    unlabelled = d(x, torch.full((6,), -1))
    assert torch.allclose(out[4], unlabelled[4]) and not torch.allclose(out[:4], unlabelled[:4])
    mb = sg.minibatch_stddev(torch.randn(8, 4, 2, 2), 4)
    assert mb.shape == (8, 5, 2, 2)
    same = sg.minibatch_stddev(torch.ones(8, 4, 2, 2), 4)
    assert torch.allclose(same[:, 4], torch.full((8, 2, 2), 1e-4))  # sqrt(1e-8)


@pytest.mark.parametrize(
    "preset,res,lo,hi",
    [("stylegan2", 1024, 29e6, 32e6), ("paper256", 256, 23e6, 26e6), ("cifar", 32, 19e6, 22e6)],
)
def test_paper_presets_build(preset, res, lo, hi):
    """The papers' GPU configurations are buildable (on the meta device: no memory)."""
    info = {"shape": [3, res, res]}
    with torch.device("meta"):
        g = sg.build_generator(info, preset=preset)
        d = sg.build_discriminator(info, preset=preset)
    assert lo < sum(p.numel() for p in g.parameters()) < hi
    assert lo * 0.9 < sum(p.numel() for p in d.parameters()) < hi * 1.1
    assert g.num_ws == 2 * int(math.log2(res)) - 2


def test_bad_input():
    with pytest.raises(DomainError, match="power of two"):
        sg.build_generator({"shape": [1, 12, 12]})
    with pytest.raises(DomainError, match="square"):
        sg.build_discriminator({"shape": [1, 16, 32]})
    with pytest.raises(DomainError, match="unknown params"):
        sg.build_generator(INFO, channels=3)
    with pytest.raises(DomainError, match="unknown preset"):
        sg.build_generator(INFO, preset="ffhq9000")


# ---- through the engine ----------------------------------------------------------------
def _tiny(tmp_path, **method):
    cfg = yaml.safe_load((CONFIGS / "digits_stylegan2_ada.yaml").read_text())
    cfg["model"]["params"] = dict(TINY)
    cfg["discriminator"]["params"] = {"channel_base": 128, "channel_max": 16}
    cfg["method"].update(r1_every=2, pl_weight=2.0, pl_every=2, style_mixing=0.5)
    cfg["method"].update(ada_interval=1, ada_kimg=0.05, **method)
    cfg["data"]["batch_size"] = 8
    cfg["train"].update(steps=4, log_every=1, progress=False, tensorboard=False, precision="fp32")
    cfg["sample"] = {"n": 8, "batch_size": 8}
    cfg["eval"] = {
        "n_samples": 12,
        "reference": "digits:train",
        "options": {"classifier_steps": 50, "kid_subsets": 2, "cache_dir": str(tmp_path / "c")},
    }
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_method_phases_and_lazy_correction(tmp_path):
    from multigen.config import load_config
    from multigen.methods import build_method
    from multigen.registry import get_domain

    run = load_config(_tiny(tmp_path))
    m = build_method(run, get_domain("images"), INFO)
    assert [(p.name, p.every) for p in m.phases()] == [("D", 1), ("Dreg", 2), ("G", 1), ("Greg", 2)]
    opts = m.optimizers()
    assert opts["generator"].lr == pytest.approx(2.5e-3 * 2 / 3)
    assert opts["discriminator"].betas == pytest.approx((0.0, 0.99 ** (2 / 3)))
    assert set(m.models) == {"generator", "discriminator", "augment", "path_length"}


def test_train_sample_evaluate(tmp_path, capsys):
    from multigen import api
    from multigen.cli import main

    run = api.train(_tiny(tmp_path, augment_p=0.5), out=tmp_path / "run")
    metrics = json.loads((run / "metrics.json").read_text())
    assert "fd_digitcnn" in metrics
    logs = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    steps = [r for r in logs if "loss_D" in r]
    assert all("ada_p" in r and "pl_mean" in r for r in steps)
    assert any("loss_Dreg" in r for r in steps) and any("loss_Greg" in r for r in steps)
    # p moves by 8 images / 50 = 0.16 a step, up while r_t > 0.6 and down otherwise
    p = [0.5] + [r["ada_p"] for r in steps]
    for before, after, r in zip(p, p[1:], steps):
        if after != before:
            assert (after > before) == (r["ada_rt"] > 0.6)
    assert p[-1] != 0.5

    res = api.sample(run, n=4, truncation=0.5, style_mixing=2)
    again = api.sample(run, n=2, truncation=0.5, style_mixing=2, batch_size=1)
    assert torch.equal(again.samples, res.samples[:2])
    assert not torch.equal(api.sample(run, n=4).samples, res.samples)
    assert main(["sample", str(run), "--n", "3", "--truncation", "0.7",
                 "--out", str(tmp_path / "s")]) == 0  # fmt: skip


def test_truncation_refused_without_mapping_network(tmp_path, capsys):
    from multigen import api
    from multigen.cli import main

    cfg = yaml.safe_load((CONFIGS / "digits_gan.yaml").read_text())
    cfg["model"]["params"] = {"latent_dim": 8, "channels": 8}
    cfg["discriminator"]["params"] = {"channels": 8}
    cfg["data"]["batch_size"] = 8
    cfg["train"].update(steps=1, progress=False, tensorboard=False)
    opts = {"classifier_steps": 20, "cache_dir": str(tmp_path / "c")}
    cfg["eval"] = {"n_samples": 4, "reference": "digits:train", "options": opts}
    path = tmp_path / "gan.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = api.train(path, out=tmp_path / "run")
    capsys.readouterr()
    for flag, value in (("--truncation", "0.7"), ("--style-mixing", "2")):
        assert main(["sample", str(run), "--n", "2", flag, value]) == 2
        err = capsys.readouterr().err.strip()
        assert "mapping network" in err and "dcgan_generator" in err and "\n" not in err

    for key, value in (("pl_weight", 2.0), ("style_mixing", 0.5)):
        bad = dict(cfg, method={**cfg["method"], key: value})
        path.write_text(yaml.safe_dump(bad))
        assert main(["train", str(path), "--out", str(tmp_path / key)]) == 2
        err = capsys.readouterr().err.strip()
        assert f"method.{key} needs a generator with a mapping network" in err


def test_augment_refused_for_non_image_domain(tmp_path):
    from multigen.config import load_config
    from multigen.methods import build_method
    from multigen.registry import get_domain
    from tests.train.helpers import tiny_config

    cfg = tiny_config("gan", steps=1)
    cfg["method"]["augment"] = "ada"
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(cfg))
    run = load_config(path)
    with pytest.raises(DomainError, match="does not take image augmentations"):
        build_method(run, get_domain("toy"), {"shape": [2]})


def test_resume_is_exact_with_ada_and_path_length(tmp_path):
    """ADA's p and statistics, the path-length mean and w_avg are buffers saved with the
    checkpoint, so a run stopped at step 3 and resumed equals an uninterrupted one."""
    from multigen import api
    from multigen.train import checkpoint as ckpt

    cfg = _tiny(tmp_path, augment_p=0.5)
    sets = ["train.checkpoint_every=3", "eval.n_samples=4"]
    full = api.train(cfg, out=tmp_path / "full", overrides=[*sets, "train.steps=5"])
    half = api.train(cfg, out=tmp_path / "half", overrides=[*sets, "train.steps=3"])
    api.train(cfg, out=half, overrides=[*sets, "train.steps=5"], resume=True)
    a = ckpt.load_weights(ckpt.latest_checkpoint(full))
    b = ckpt.load_weights(ckpt.latest_checkpoint(half))
    assert a.keys() == b.keys() and "model/augment.p" in a and "model/path_length.mean" in a
    for k in a:
        assert torch.equal(a[k], b[k]), k

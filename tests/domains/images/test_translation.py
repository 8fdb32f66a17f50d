"""Paired image-to-image pieces: the pairs, PSNR/SSIM known answers, the networks and the
refusals (domains/images/translation.py, networks/pix2pix.py, networks/sr3.py)."""

import math

import numpy as np
import pytest
import torch

from domains.images import translation as T
from domains.images.domain import ImageDomain
from domains.images.networks.pix2pix import build_discriminator, build_generator
from domains.images.networks.sr3 import build_sr3_unet
from multigen.config import load_config
from multigen.domain import DomainError
from multigen.methods import build_method

INFO = {"shape": [1, 16, 16], "source_shape": [1, 4, 4], "num_classes": 0, "cond_dim": 0}


# ---- PSNR / SSIM ---------------------------------------------------------------------------
def test_identical_images_psnr_inf_ssim_one():
    x = torch.randint(0, 256, (3, 1, 16, 16), generator=torch.Generator().manual_seed(0))
    assert torch.isinf(T.psnr(x, x)).all()
    assert torch.allclose(T.ssim(x, x), torch.ones(3, dtype=torch.float64))
    assert T.paired_scores(x.to(torch.uint8), x.to(torch.uint8))["psnr"] == math.inf


@pytest.mark.parametrize("offset", [1, 5, 20])
def test_psnr_of_constant_offset_is_closed_form(offset):
    # MSE = d², so PSNR = 20·log10(255/d): 48.13 dB for d = 1
    a = torch.full((2, 3, 8, 8), 100.0)
    b = a + offset
    assert T.psnr(a, b) == pytest.approx(20 * math.log10(255 / offset), abs=1e-9)
    if offset == 1:
        assert float(T.psnr(a, b)[0]) == pytest.approx(48.1308, abs=1e-4)


def test_psnr_hand_computed():
    # one of four pixels off by 255: MSE = 255²/4, PSNR = 10·log10(4) = 6.0206 dB
    a = torch.zeros(1, 1, 2, 2)
    b = a.clone()
    b[0, 0, 1, 1] = 255
    assert float(T.psnr(a, b)[0]) == pytest.approx(10 * math.log10(4), abs=1e-9)


def test_ssim_of_constant_images_is_the_luminance_term():
    # no variance: SSIM = (2·μa·μb + C1) / (μa² + μb² + C1), C1 = (0.01·255)²
    a, b = torch.full((1, 1, 16, 16), 100.0), torch.full((1, 1, 16, 16), 110.0)
    c1 = (0.01 * 255) ** 2
    want = (2 * 100 * 110 + c1) / (100**2 + 110**2 + c1)
    assert float(T.ssim(a, b)[0]) == pytest.approx(want, abs=1e-12)


def test_ssim_matches_scikit_image_gaussian_variant():
    metrics = pytest.importorskip("skimage.metrics")
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (24, 20)).astype(np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    ref = metrics.structural_similarity(
        a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, data_range=255
    )
    ours = T.ssim(torch.from_numpy(a)[None, None], torch.from_numpy(b)[None, None])
    assert float(ours[0]) == pytest.approx(ref, abs=1e-6)
    assert float(ours[0]) < 0.99  # the noise is visible to it


def test_metrics_refuse_mismatched_shapes():
    with pytest.raises(DomainError, match="one shape"):
        T.psnr(torch.zeros(1, 1, 8, 8), torch.zeros(1, 1, 16, 16))
    with pytest.raises(DomainError, match="one shape"):
        T.ssim(torch.zeros(1, 3, 8, 8), torch.zeros(1, 1, 8, 8))


# ---- the pairs -----------------------------------------------------------------------------
def test_downsample_is_block_average():
    img = torch.tensor([[10, 10, 0, 4], [10, 10, 8, 0], [1, 2, 255, 255], [3, 2, 255, 255]])
    out = T.downsample(img[None, None].to(torch.uint8), 2)
    assert out[0, 0].tolist() == [[10, 3], [2, 255]]
    with pytest.raises(DomainError, match="does not divide"):
        T.downsample(img[None, None].to(torch.uint8), 3)


def test_edge_map_is_the_outline():
    img = torch.zeros(1, 1, 9, 9, dtype=torch.uint8)
    img[..., 2:7, 2:7] = 200  # a filled 5x5 square
    edges = T.edge_map(img)[0, 0] // 255
    assert int(edges.sum()) == 16  # its border ring
    assert int(edges[3:6, 3:6].sum()) == 0 and int(edges[2, 2]) == 1
    assert int(T.edge_map(torch.full((1, 1, 5, 5), 50, dtype=torch.uint8)).sum()) == 0


def test_digit_pairs_are_deterministic_and_shaped():
    a = T.load_digits_pairs(None, "test", size=16, task="sr", factor=4)
    b = T.load_digits_pairs(None, "test", size=16, task="sr", factor=4)
    assert torch.equal(a.sources, b.sources) and torch.equal(a.images, b.images)
    assert a.sources.shape == (359, 1, 4, 4) and a.images.shape == (359, 1, 16, 16)
    target, source = a[0]
    assert torch.equal(source, a.sources[0].float() / 127.5 - 1)
    big = T.load_digits_pairs(None, "train", size=32, task="sr", factor=4)  # the 8 -> 32
    assert big.sources.shape[1:] == (1, 8, 8)
    edges = T.load_digits_pairs(None, "train", size=16, task="edges")
    assert edges.sources.shape == edges.images.shape
    assert set(edges.sources.unique().tolist()) == {0, 255}
    assert 0.1 < float(edges.sources.float().mean() / 255) < 0.4


def test_domain_describes_and_collates_pairs():
    domain = ImageDomain()
    ds = domain.load_dataset("digits_sr", split="test", size=16, factor=4)
    info = domain.describe(ds)
    assert info["source_shape"] == [1, 4, 4]
    assert info["pairs"] == {"dataset": "digits", "task": "sr", "size": 16, "factor": 4}
    batch = domain.collate([ds[0], ds[1]])
    assert batch.x.shape == (2, 1, 16, 16) and batch.cond.shape == (2, 1, 4, 4)
    # sampled without sources: test sources picked by the sample's own generator
    t1 = domain.template(info, 1, torch.Generator().manual_seed(3))
    t2 = domain.template(info, 1, torch.Generator().manual_seed(3))
    assert t1.cond.shape == (1, 1, 4, 4) and torch.equal(t1.cond, t2.cond)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"factor": 3}, "does not divide"),
        ({"factor": 1}, "factor must be an integer >= 2"),
    ],
)
def test_bad_pair_params_are_one_line(params, match):
    with pytest.raises(DomainError, match=match):
        ImageDomain().load_dataset("digits_sr", **params)
    with pytest.raises(DomainError, match="task must be one of"):
        T.load_digits_pairs(None, task="colour")


def test_bicubic_baseline_is_close_to_the_target():
    test = T.load_digits_pairs(None, "test", size=16, task="sr")
    up = T.bicubic_baseline(test.sources, 16)
    assert up.shape == test.images.shape
    s = T.paired_scores(up, test.images)
    blank = T.paired_scores(torch.zeros_like(test.images), test.images)
    assert s["psnr"] > blank["psnr"] + 5 and s["ssim"] > blank["ssim"]


# ---- networks ------------------------------------------------------------------------------
def test_pix2pix_networks_shapes_and_condition():
    gen = build_generator(INFO, channels=8).eval()
    disc = build_discriminator(INFO, channels=8)
    src = torch.rand(3, 1, 4, 4) * 2 - 1
    out = gen(None, src)
    assert out.shape == (3, 1, 16, 16) and out.abs().max() <= 1
    logits = disc(out, src)
    assert logits.ndim == 2 and logits.shape[0] == 3 and logits.shape[1] > 1  # patches
    with pytest.raises(DomainError, match="needs the source"):
        gen(None, None)
    with pytest.raises(DomainError, match="unknown params"):
        build_generator(INFO, width=8)
    with pytest.raises(DomainError, match="needs paired data"):
        build_discriminator({"shape": [1, 16, 16]})


def test_sr3_unet_null_source_equals_no_source():
    net = build_sr3_unet(INFO, channels=8, channel_mult=[1, 2], attn_resolutions=[])
    torch.nn.init.normal_(net.unet.conv_out.weight, std=0.1)  # not the zero init
    x, c = torch.randn(2, 1, 16, 16), torch.tensor([10.0, 500.0])
    src = torch.rand(2, 1, 4, 4)
    none = net(x, c, None)
    null = net(x, c, torch.full_like(src, float("nan")))
    assert torch.allclose(none, null)
    assert not torch.allclose(net(x, c, src), none)
    with pytest.raises(DomainError, match="needs paired data"):
        build_sr3_unet({"shape": [1, 16, 16]})


def test_l1_weight_needs_paired_data():
    cfg = load_config(
        "configs/images/digits_sr_pix2pix.yaml",
        ["data.conditional=false", "model.params={channels: 8}"],
    )
    with pytest.raises(DomainError, match=r"l1_weight .*\(data.conditional: true\)"):
        build_method(cfg, ImageDomain(), INFO)


def test_read_sources_refusals(tmp_path, write_image):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DomainError, match="no PNG/JPEG images found"):
        T.read_sources(tmp_path / "empty", INFO)
    with pytest.raises(DomainError, match="input not found"):
        T.read_sources(tmp_path / "nowhere", INFO)
    write_image(tmp_path / "ok" / "a.png", np.zeros((4, 4)))
    write_image(tmp_path / "ok" / "b.png", np.zeros((5, 4)))
    with pytest.raises(DomainError, match=r"b\.png: source images are 1 channel\(s\) of 5x4"):
        T.read_sources(tmp_path / "ok", INFO)
    write_image(tmp_path / "rgb" / "c.png", np.zeros((4, 4, 3)))
    with pytest.raises(DomainError, match=r"3 channel\(s\) of 4x4 pixels; this run translates 1"):
        T.read_sources(tmp_path / "rgb", INFO)
    with pytest.raises(DomainError, match="not trained on image pairs"):
        T.read_sources(tmp_path / "rgb", {"shape": [1, 16, 16]})
    images, names = T.read_sources(tmp_path / "ok" / "a.png", INFO)
    assert images.shape == (1, 1, 4, 4) and names == ["a"]

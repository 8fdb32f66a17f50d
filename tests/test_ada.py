"""Engine pieces of StyleGAN2-ADA (issue 18): adaptive augmentation, path length, lazy-reg
optimiser correction, truncation and style mixing helpers — known answers, no domain."""

import math

import pytest
import torch

from multigen.adversarial import augment as A
from multigen.adversarial import style
from multigen.domain import Batch, DomainError


def draws(b, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(b, A.N_UNIFORM, generator=g), torch.randn(b, A.N_NORMAL, generator=g)


# ---- augmentation ----------------------------------------------------------------------
def test_identity_at_p0():
    x = torch.randn(4, 3, 8, 8)
    aug = A.AdaptiveAugment(p=0.0)
    assert aug(x) is x
    u, n = draws(4)
    assert A.augment(x, 0.0, u, n) is x


@pytest.mark.parametrize("pipeline", list(A.PIPELINES))
def test_augment_differentiable(pipeline):
    x = torch.randn(6, 3, 8, 8, requires_grad=True)
    u, n = draws(6)
    y = A.augment(x, 1.0, u, n, A.PIPELINES[pipeline])
    assert y.shape == x.shape and torch.isfinite(y).all()
    (g,) = torch.autograd.grad((y * torch.randn_like(y)).sum(), x)
    assert torch.isfinite(g).all() and g.abs().sum() > 0


def test_blit_ops_are_exact_pixel_moves():
    """x-flip, 90° rotations and integer translations only move pixels (with reflection at
    the border): the multiset of values of a flipped/rotated image is unchanged."""
    x = torch.arange(64.0).reshape(1, 1, 8, 8).repeat(16, 1, 1, 1)
    u, n = draws(16, seed=3)
    y = A.augment(x, 1.0, u, n, ("xflip", "rotate90"))
    for i in range(16):
        assert torch.equal(y[i].flatten().sort().values, x[i].flatten().sort().values)
    flip = A.augment(x[:1], 1.0, torch.zeros(1, A.N_UNIFORM), torch.zeros(1, A.N_NORMAL),
                     ("xflip",))  # fmt: skip
    assert torch.allclose(flip, x[:1].flip(-1))  # u=0 < 0.5: flipped


def test_colour_ops_one_channel():
    """brightness adds n·0.2, contrast scales by 2^(n·0.5); saturation is a no-op for C=1."""
    x = torch.randn(2, 1, 4, 4)
    u = torch.zeros(2, A.N_UNIFORM)
    n = torch.zeros(2, A.N_NORMAL)
    n[:, 4], n[:, 5] = 1.0, 2.0
    y = A.augment(x, 1.0, u, n, ("brightness", "contrast", "saturation"))
    assert torch.allclose(y, (x + 0.2) * 2.0, atol=1e-6)


def test_augment_bad_input():
    u, n = draws(2)
    with pytest.raises(ValueError, match="NCHW"):
        A.augment(torch.zeros(2, 8), 0.5, u, n)
    with pytest.raises(ValueError, match="unknown augmentation"):
        A.augment(torch.zeros(2, 1, 4, 4), 0.5, u, n, ("warp",))
    with pytest.raises(ValueError, match="pipeline"):
        A.AdaptiveAugment("xyz")


def test_ada_p_rises_when_d_overfits_and_falls_otherwise():
    aug = A.AdaptiveAugment(p=0.0, target=0.6, interval=4, speed_kimg=1.0).train()
    for _ in range(5):  # D sure of every real: r_t = 1 > 0.6
        for _ in range(4):
            aug.observe(torch.full((50,), 3.0))
        aug.update()
    # each update moves p by 200 images / 1000 = 0.2
    assert float(aug.p) == pytest.approx(1.0) and float(aug.rt) == 1.0
    for _ in range(2):  # half the reals on each side: r_t = 0 < 0.6
        for _ in range(4):
            aug.observe(torch.tensor([1.0, -1.0] * 25))
        aug.update()
    assert float(aug.p) == pytest.approx(0.6) and float(aug.rt) == 0.0
    for _ in range(20):  # 0.05 down per update
        aug.observe(-torch.ones(50))
        aug.update()
    assert float(aug.p) == 0.0  # clamped at 0


def test_ada_ignores_eval_mode_and_fixed_p():
    aug = A.AdaptiveAugment(p=0.3, target=0.6, speed_kimg=0.001).eval()
    aug.observe(torch.ones(10))
    aug.update()
    assert float(aug.p) == pytest.approx(0.3) and float(aug.count) == 0
    fixed = A.AdaptiveAugment(p=0.3, target=None).train()
    fixed.observe(torch.ones(10))
    fixed.update()
    assert float(fixed.p) == pytest.approx(0.3)


def test_augment_uses_per_sample_generators():
    """Sample i's augmentation depends on its own generator only (batch-size invariance)."""
    x = torch.randn(4, 1, 8, 8)
    aug = A.AdaptiveAugment(p=0.8)
    gens = [torch.Generator().manual_seed(i) for i in range(4)]
    full = aug(x, gens)
    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    assert torch.allclose(aug(x[:2], gens), full[:2])


def test_config_pipelines_match():
    from multigen.method_config import GANMethod

    allowed = GANMethod.model_fields["augment_pipeline"].annotation.__args__
    assert set(allowed) == set(A.PIPELINES)


# ---- style space -----------------------------------------------------------------------
def test_lazy_adam_correction():
    lr, betas = style.lazy_adam(0.0025, (0.0, 0.99), 16)
    c = 16 / 17
    assert lr == pytest.approx(0.0025 * c) and betas[0] == 0.0
    assert betas[1] == pytest.approx(0.99**c)
    lr, betas = style.lazy_adam(0.002, (0.5, 0.9), 4)
    assert lr == pytest.approx(0.0016) and betas == pytest.approx((0.5**0.8, 0.9**0.8))


def test_path_length_of_linear_generator():
    """g(ws) = Σ_l ws[:, l] @ M_l: J_wᵀ y at layer l is M_l y, so the length is
    sqrt(mean_l ‖M_l y‖²), computed by hand here."""
    torch.manual_seed(0)
    B, L, D, P = 3, 4, 5, 6
    M = torch.randn(L, D, P, requires_grad=True)  # the generator's weights
    ws = torch.randn(B, L, D, requires_grad=True)
    y = torch.randn(B, P)

    def synth(w):
        return torch.einsum("bld,ldp->bp", w, M)

    got = style.path_lengths(synth, ws, y)
    Md = M.detach()
    want = torch.stack(
        [torch.stack([(Md[l] @ y[b]).square().sum() for l in range(L)]).mean().sqrt()
         for b in range(B)]
    )  # fmt: skip
    assert torch.allclose(got, want, rtol=1e-5)
    got.sum().backward()  # the graph is kept: the penalty trains the weights
    assert M.grad is not None and M.grad.abs().sum() > 0


def test_pl_direction_and_running_mean():
    y = style.pl_direction((1, 16, 16), torch.ones(2, 1, 16, 16))
    assert torch.allclose(y, torch.full_like(y, 1 / 16))
    state = style.PathLengthMean().train()
    m = state.update(torch.tensor([2.0, 4.0]), 0.01)
    assert float(m) == pytest.approx(0.03) and float(state.mean) == pytest.approx(0.03)
    state.eval().update(torch.tensor([100.0]), 0.5)
    assert float(state.mean) == pytest.approx(0.03)  # eval mode: unchanged


def test_truncation_and_mixing():
    ws = torch.randn(3, 6, 4)
    avg = torch.randn(4)
    assert torch.allclose(style.truncate(ws, avg, 0.0), avg.expand_as(ws))
    assert style.truncate(ws, avg, 1.0) is ws
    half = style.truncate(ws, avg, 0.5, cutoff=2)
    assert torch.allclose(half[:, :2], (ws[:, :2] + avg) / 2) and torch.equal(
        half[:, 2:], ws[:, 2:]
    )
    ws2 = torch.randn(3, 6, 4)
    mixed = style.mix_styles(ws, ws2, torch.tensor([2, 6, 1]))
    assert torch.equal(mixed[0, :2], ws[0, :2]) and torch.equal(mixed[0, 2:], ws2[0, 2:])
    assert torch.equal(mixed[1], ws[1]) and torch.equal(mixed[2, 1:], ws2[2, 1:])
    cut = style.mixing_cutoffs(torch.tensor([0.1, 0.95]), torch.tensor([0.999, 0.0]), 6, 0.9)
    assert cut.tolist() == [5, 6]


def test_style_options_need_a_mapping_network():
    from multigen.nn import Generator

    class Plain(Generator):
        pass

    class Opts:
        truncation, style_mixing = 0.7, None

    with pytest.raises(DomainError, match="mapping network") as err:
        style.check_style_options({"generator": Plain()}, Opts, "'dcgan_generator'")
    assert "\n" not in str(err.value)
    with pytest.raises(DomainError, match="has no generator"):
        style.check_style_options({"model": Plain()}, Opts, "method 'edm'")
    with pytest.raises(DomainError, match="mapping network"):
        style.styled_sample(Plain(), Batch(torch.zeros(1, 2)), [], 0.5, None, "'x'")


def test_lazy_correction_math_matches_the_paper_example():
    """StyleGAN2 App. B: the FFHQ config (lr 0.002, β = (0, 0.99), R1 every 16) gives
    lr 0.00188 and β₂ 0.9906."""
    lr, (b1, b2) = style.lazy_adam(0.002, (0.0, 0.99), 16)
    assert lr == pytest.approx(0.001882, abs=1e-6) and b2 == pytest.approx(
        math.exp(16 / 17 * math.log(0.99))
    )

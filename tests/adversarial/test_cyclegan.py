"""CycleGAN's engine pieces: the least-squares GAN loss, the cycle and identity losses on
hand-made tensors, the history pool, the swapped data description and the method's refusals
(multigen/adversarial/cyclegan.py, losses.py)."""

import pytest
import torch

from domains.images.domain import ImageDomain
from multigen.adversarial import losses as L
from multigen.adversarial.cyclegan import ImagePool, cycle_losses, reversed_info
from multigen.config import load_config
from multigen.domain import DataInfo, DomainError
from multigen.methods import build_method

CONFIG = "configs/images/digits_thin_bold_cyclegan.yaml"
INFO = {"shape": [1, 16, 16], "source_shape": [1, 16, 16], "unpaired": {"size": 16}}
TINY = ["model.params={channels: 4, dropout: 0.0}"]


def test_least_squares_known_answers():
    d_real, d_fake = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([0.0, 1.0, -0.5])
    # D: (D(x) - 1)² + D(G(z))² ; G: (D(G(z)) - 1)²
    assert L.d_loss("least_squares", d_real, d_fake).tolist() == [0.0, 2.0, 1.25]
    assert L.g_loss("least_squares", d_fake).tolist() == [1.0, 0.0, 2.25]
    assert "least_squares" in L.GAN_LOSSES
    # the optimal D of LSGAN with a = 0, b = 1 is p_r / (p_r + p_g): 1/2 where they agree
    u = torch.tensor([0.5], requires_grad=True)
    L.d_loss("least_squares", u, u).sum().backward()
    assert float(u.grad) == pytest.approx(0.0)


def test_cycle_and_identity_losses_by_hand():
    a = torch.zeros(2, 1, 2, 2)
    b = torch.ones(2, 1, 2, 2)
    rec_a = a.clone()
    rec_a[0, 0, 0, 0] = 0.8  # one of 8 elements off by 0.8: mean |.| = 0.1
    rec_b = b - 0.5  # every element off by 0.5
    cycle, identity = cycle_losses(a, b, rec_a, rec_b, None, None)
    assert float(cycle) == pytest.approx(0.1 + 0.5)
    assert float(identity) == 0.0
    idt_a, idt_b = a + 0.25, b.clone()
    idt_b[1] = -1.0  # half of the elements off by 2: mean 1
    cycle, identity = cycle_losses(a, b, a, b, idt_a, idt_b)
    assert float(cycle) == 0.0
    assert float(identity) == pytest.approx(0.25 + 1.0)


def test_pool_stores_then_swaps_half():
    pool = ImagePool(3, (1, 2, 2)).train()
    first = torch.arange(3.0).view(3, 1, 1, 1).expand(3, 1, 2, 2)
    out = pool.query(first, torch.zeros(3, 2))
    assert torch.equal(out, first) and int(pool.count) == 3  # filling: passed on
    new = torch.full((2, 1, 2, 2), 9.0)
    # row 0: u0 < 1/2 -> swapped with slot int(0.7·3) = 2; row 1: u0 >= 1/2 -> passed on
    out = pool.query(new, torch.tensor([[0.1, 0.7], [0.6, 0.0]]))
    assert out[0].unique().tolist() == [2.0] and out[1].unique().tolist() == [9.0]
    assert pool.images[2].unique().tolist() == [9.0] and pool.images[0].unique().tolist() == [0.0]
    pool.eval()  # an eval-mode query changes nothing
    before = pool.images.clone()
    pool.query(torch.full((1, 1, 2, 2), 5.0), torch.tensor([[0.0, 0.0]]))
    assert torch.equal(pool.images, before)
    assert torch.equal(ImagePool(0, (1, 2, 2)).query(new, torch.zeros(2, 2)), new)


def test_reversed_info_swaps_the_shapes():
    info = DataInfo.of({"shape": [3, 8, 8], "source_shape": [1, 8, 8], "unpaired": {}})
    back = reversed_info(info)
    assert back.shape == (1, 8, 8) and back["source_shape"] == [3, 8, 8] and back["reversed"]
    again = reversed_info(back)
    assert again.shape == (3, 8, 8) and not again["reversed"]
    with pytest.raises(DomainError, match="no B -> A direction"):
        reversed_info(DataInfo.of({"shape": [1, 8, 8]}))


def test_method_builds_four_networks_and_two_pools():
    method = build_method(load_config(CONFIG, TINY), ImageDomain(), INFO)
    assert set(method.models) == {
        "generator",
        "generator_ba",
        "discriminator",
        "discriminator_a",
        "pool_b",
        "pool_a",
    }
    assert [p.name for p in method.phases()] == ["G", "D"]
    opts = method.optimizers()
    assert opts["generator"].models == ("generator", "generator_ba")
    assert opts["generator"].betas == (0.5, 0.999) and opts["generator"].lr == 2e-4


def test_method_losses_are_finite_and_use_both_sides():
    method = build_method(load_config(CONFIG, TINY), ImageDomain(), INFO)
    from multigen.domain import Batch

    g = torch.Generator().manual_seed(0)
    batch = Batch(torch.rand(4, 1, 16, 16, generator=g) * 2 - 1, None, -torch.ones(4, 1, 16, 16))
    gens = [torch.Generator().manual_seed(i) for i in range(4)]
    g_loss = method._g_loss(method.models, batch, gens, 0)
    g_loss.backward()
    for name in ("generator", "generator_ba"):  # both directions get gradients
        grads = [p.grad for p in method.models[name].parameters() if p.grad is not None]
        assert grads and any(float(gr.abs().sum()) > 0 for gr in grads)
    d_loss = method._d_loss(method.models, batch, gens, 0)
    assert torch.isfinite(d_loss) and float(d_loss) > 0
    assert int(method.models["pool_b"].count) == 4  # this step's fakes went into the history


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        (["data.conditional=false"], "needs unpaired data"),
        (["discriminator.params={channels: 4, conditional: true}"], "set discriminator.params"),
        (["model.name=dcgan_generator", "model.params={}"], "not an image-to-image generator"),
        (["method.loss=wgan_gp"], None),  # refused by the config section itself
        (["method.cycle_weight=-1"], None),
        (["method.lambda_cycle=10"], None),  # an unknown key
    ],
)
def test_bad_configs_are_refused(overrides, match):
    from multigen.config import ConfigError

    if match is None:
        with pytest.raises((ConfigError, ValueError)):
            load_config(CONFIG, TINY + overrides)
        return
    with pytest.raises(DomainError, match=match):
        build_method(load_config(CONFIG, TINY + overrides), ImageDomain(), INFO)


def test_identity_loss_needs_one_channel_count():
    info = {**INFO, "source_shape": [3, 16, 16]}
    with pytest.raises(DomainError, match=r"A has 3 channel\(s\), B 1"):
        build_method(load_config(CONFIG, TINY), ImageDomain(), info)
    method = build_method(
        load_config(CONFIG, [*TINY, "method.identity_weight=0"]), ImageDomain(), info
    )
    assert method.models["generator_ba"](None, torch.zeros(1, 1, 16, 16)).shape == (1, 3, 16, 16)

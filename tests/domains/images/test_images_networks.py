import pytest
import torch

from multigen.domain import Batch, DomainError
from multigen.nn import Generator
from multigen_domains.images import get_domain

INFO16 = {"shape": [1, 16, 16], "num_classes": 10, "cond_dim": 0, "sigma_data": 0.5}
INFO32 = {"shape": [3, 32, 32], "num_classes": 0, "cond_dim": 0, "sigma_data": 0.5}


def build(name, info, **params):
    torch.manual_seed(0)
    return get_domain().networks[name].builder(info, **params)


def randomise_zero_layers(net):
    """The U-Net starts as the zero function; give its last layers weights to test wiring."""
    torch.manual_seed(1)
    for p in net.parameters():
        if torch.all(p == 0):
            torch.nn.init.normal_(p, std=0.05)
    return net


def test_unet_shapes_and_conditioning():
    net = randomise_zero_layers(build("unet", INFO16)).eval()
    x, c = torch.randn(4, 1, 16, 16), torch.rand(4)
    labels = torch.tensor([0, 1, 2, 3])
    out = net(x, c, labels)
    assert out.shape == x.shape
    assert not torch.allclose(out, net(x, c, torch.tensor([5, 6, 7, 8])), atol=1e-5)
    assert not torch.allclose(out, net(x, c * 3 + 1, labels), atol=1e-5)  # noise level matters
    # -1 labels are the learned null class, the same as no condition at all
    assert torch.allclose(net(x, c, torch.full((4,), -1)), net(x, c, None), atol=1e-6)


def test_unet_samples_are_independent_of_batch():
    net = randomise_zero_layers(build("unet", INFO16)).eval()
    x, c, y = torch.randn(5, 1, 16, 16), torch.rand(5), torch.arange(5)
    assert torch.allclose(net(x, c, y)[:2], net(x[:2], c[:2], y[:2]), atol=1e-5)


def test_unet_rgb32_custom_config_and_zero_init():
    net = build(
        "unet",
        INFO32,
        channels=16,
        channel_mult=[1, 2, 2, 2],
        num_res_blocks=1,
        attn_resolutions=[16, 8],
        heads=2,
        dropout=0.1,
    )
    x = torch.randn(2, 3, 32, 32)
    out = net(x, torch.rand(2))
    assert out.shape == x.shape and torch.all(out == 0)  # zero-initialised output layer
    n_attn = sum(type(m).__name__ == "Attention" for m in net.modules())
    assert n_attn == 2 * 1 + 2 * 2 + 1  # encoder + decoder at 16 and 8, plus the bottleneck
    out.sum().backward()
    assert net.conv_out.weight.grad.abs().sum() > 0


def test_unet_bad_params():
    with pytest.raises(DomainError, match="attn_resolutions"):
        build("unet", INFO16, attn_resolutions=[5])
    with pytest.raises(DomainError, match="unknown params"):
        build("unet", INFO16, chanels=32)
    with pytest.raises(DomainError, match="divisible"):
        build("unet", {**INFO16, "shape": [1, 12, 12]}, channel_mult=[1, 2, 2, 2])


@pytest.mark.parametrize("info", [INFO16, INFO32])
def test_dcgan_shapes(info):
    g = build("dcgan_generator", info, latent_dim=16, channels=16)
    d = build("dcgan_discriminator", info, channels=16)
    assert isinstance(g, Generator) and g.latent_dim == 16
    gens = [torch.Generator().manual_seed(i) for i in range(3)]
    z = g.sample_latent(Batch(torch.zeros(3, *info["shape"])), gens)
    cond = torch.tensor([0, 1, -1]) if info["num_classes"] else None
    x = g(z, cond)
    assert x.shape == (3, *info["shape"]) and x.abs().max() <= 1
    logits = d(x, cond)
    assert logits.shape == (3,)
    logits.sum().backward()


def test_dcgan_conditioning_and_projection():
    g = build("dcgan_generator", INFO16, latent_dim=16, channels=16).eval()
    d = build("dcgan_discriminator", INFO16, channels=16)
    z = torch.randn(2, 16)
    assert not torch.allclose(g(z, torch.tensor([1, 1])), g(z, torch.tensor([2, 2])))
    x = torch.randn(2, 1, 16, 16)
    assert not torch.allclose(d(x, torch.tensor([1, 1])), d(x, torch.tensor([2, 2])))
    assert torch.allclose(d(x, torch.tensor([-1, -1])), d(x, None))  # null: no projection


def test_dcgan_bad_size():
    with pytest.raises(DomainError, match="4·2\\^k"):
        build("dcgan_generator", {**INFO16, "shape": [1, 20, 20]})
    with pytest.raises(DomainError, match="unknown params"):
        build("dcgan_discriminator", INFO16, width=3)

"""Toy networks: shapes, conditioning, per-sample latents, parameter errors."""

import pytest
import torch

from multigen.domain import DomainError
from multigen.randomness import sample_generators


@pytest.fixture()
def info(toy):
    return toy.describe(toy.load_dataset("eight_gaussians", n=256))


def test_denoiser_shape_noise_and_condition_dependence(toy, info):
    torch.manual_seed(0)
    net = toy.networks["mlp"].builder(info, width=32, depth=2)
    x = torch.randn(6, 2)
    assert torch.all(net(x, torch.zeros(6)) == 0)  # zero-initialised output layer
    torch.nn.init.normal_(net.out.weight)
    a, b = net(x, torch.zeros(6)), net(x, torch.full((6,), 3.0))
    assert a.shape == (6, 2) and not torch.allclose(a, b)
    assert net(x.double(), torch.zeros(6)).dtype == torch.float64

    cond_info = dict(info, num_classes=8)
    cnet = toy.networks["mlp"].builder(cond_info, width=32, depth=2)
    torch.nn.init.normal_(cnet.out.weight)
    labels = torch.tensor([0, 1, 2, 3, -1, -1])
    y = cnet(x, torch.zeros(6), labels)
    y2 = cnet(x, torch.zeros(6), torch.tensor([4, 5, 6, 7, -1, -1]))
    assert not torch.allclose(y[:4], y2[:4]) and torch.allclose(y[4:], y2[4:])


def test_denoiser_learns_a_regression(toy, info):
    """A quick fit shows gradients reach every block: x -> -x given the noise level."""
    torch.manual_seed(0)
    net = toy.networks["mlp"].builder(info, width=32, depth=2, emb_dim=16)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(100):
        x = torch.randn(64, 2)
        loss = (net(x, torch.rand(64)) + x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert loss.item() < 0.05  # from 2.0 at the zero-initialised start


def test_generator_latents_are_per_sample(toy, info):
    gen = toy.networks["mlp_generator"].builder(info, latent_dim=8, width=32, depth=2)
    tpl = toy.template(info, 4, torch.Generator())
    z4 = gen.sample_latent(tpl, sample_generators([0, 1, 2, 3]))
    z2 = gen.sample_latent(toy.template(info, 2, torch.Generator()), sample_generators([2, 3]))
    assert z4.shape == (4, 8) and torch.equal(z4[2:], z2)
    assert gen(z4).shape == (4, 2)


def test_discriminator_logits_and_projection(toy, info):
    disc = toy.networks["mlp_discriminator"].builder(info, width=32, depth=2)
    assert disc(torch.randn(5, 2)).shape == (5,)
    cdisc = toy.networks["mlp_discriminator"].builder(dict(info, num_classes=3), width=32)
    x = torch.randn(3, 2)
    assert not torch.allclose(cdisc(x, torch.tensor([0, 1, 2])), cdisc(x, torch.tensor([1, 2, 0])))


def test_unknown_network_params_name_the_allowed_ones(toy, info):
    with pytest.raises(DomainError, match="unknown model params \\['hidden'\\].*width"):
        toy.networks["mlp"].builder(info, hidden=3)

import pytest
import torch

from multigen_domains.shapes import networks

INFO = {"shape": [64, 3], "num_classes": 3, "cond_dim": 0, "sigma_data": 0.5}


@pytest.mark.parametrize(
    "build, params",
    [
        (networks.build_pointnet, {"width": 32, "depth": 2}),
        (networks.build_transformer, {"width": 32, "depth": 2, "heads": 4}),
    ],
)
def test_denoisers_are_permutation_equivariant(build, params):
    torch.manual_seed(0)
    net = build(INFO, **params)
    for p in net.parameters():  # zero-initialised output layers would make this trivial
        torch.nn.init.normal_(p, std=0.2)
    x = torch.randn(2, 64, 3)
    c = torch.tensor([0.3, -1.2])
    cond = torch.tensor([1, -1])
    perm = torch.randperm(64)
    out = net(x, c, cond)
    assert out.shape == x.shape and out.abs().sum() > 0
    torch.testing.assert_close(net(x[:, perm], c, cond), out[:, perm], atol=1e-5, rtol=1e-4)
    # The noise level and the class both change the output.
    assert not torch.allclose(net(x, c + 1, cond), out)
    assert not torch.allclose(net(x, c, torch.tensor([2, -1])), out)


def test_gan_pair_shapes_and_invariance():
    torch.manual_seed(0)
    gen = networks.build_rgan(INFO, latent_dim=16, widths=[32, 64])
    disc = networks.build_pointnet_disc(INFO, widths=[16, 32])
    z = torch.randn(5, 16)
    labels = torch.tensor([0, 1, 2, -1, 0])
    x = gen(z, labels)
    assert x.shape == (5, 64, 3)
    logits = disc(x, labels)
    assert logits.shape == (5,)
    perm = torch.randperm(64)
    torch.testing.assert_close(disc(x[:, perm], labels), logits, atol=1e-5, rtol=1e-5)
    # Gradients reach the generator through the critic (needed by every GAN loss).
    logits.sum().backward()
    assert all(p.grad is not None for p in gen.parameters())

"""The point DiT: permutation equivariance, adaLN-Zero's zero start, masks, bad params, and
the shipped config end to end (train -> sample -> export -> evaluate)."""

import pytest
import torch

from multigen.domain import DomainError
from multigen.nn import AdaLNZeroBlock
from multigen_domains.shapes import get_domain
from multigen_domains.shapes.networks_transformer import PointDiT, build_point_dit
from tests.domains.shapes import test_shapes_e2e as e2e

INFO = {"shape": [64, 3], "num_classes": 3, "cond_dim": 0, "sigma_data": 0.5}


def _perturbed(net: torch.nn.Module) -> torch.nn.Module:
    """Leave adaLN-Zero's start (where every output is 0 and equivariance is trivial)."""
    torch.manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    return net


def test_permuting_the_points_permutes_the_output():
    torch.manual_seed(0)
    net = _perturbed(build_point_dit(INFO, width=32, depth=2, heads=4))
    x, c, cond = torch.randn(2, 64, 3), torch.tensor([0.3, -1.2]), torch.tensor([1, -1])
    out = net(x, c, cond)
    assert out.shape == x.shape and out.abs().min() > 0
    for seed in range(3):
        perm = torch.randperm(64, generator=torch.Generator().manual_seed(seed))
        torch.testing.assert_close(net(x[:, perm], c, cond), out[:, perm], atol=1e-5, rtol=1e-4)
    # not a per-point map: moving one point changes the others' outputs (attention mixes)
    y = x.clone()
    y[:, 0] += 1.0
    assert not torch.allclose(net(y, c, cond)[:, 1:], out[:, 1:], atol=1e-4)
    # the noise level and the class both change the output
    assert not torch.allclose(net(x, c + 1, cond), out)
    assert not torch.allclose(net(x, c, torch.tensor([2, -1])), out)


def test_starts_at_zero_output_with_identity_blocks():
    torch.manual_seed(0)
    net = PointDiT(num_classes=3, width=32, depth=3, heads=2)
    x = torch.randn(4, 50, 3)
    assert torch.equal(net(x, torch.randn(4), torch.tensor([0, 1, 2, -1])), torch.zeros_like(x))
    tokens, c = torch.randn(4, 50, 32), torch.randn(4, 32)
    for block in net.blocks:
        assert isinstance(block, AdaLNZeroBlock)  # the engine's block, shared with the DiT
        assert torch.equal(block(tokens, c), tokens)


def test_padded_points_do_not_reach_the_real_ones():
    net = _perturbed(PointDiT(width=32, depth=2, heads=2))
    x, c = torch.randn(2, 20, 3), torch.zeros(2)
    mask = torch.ones(2, 20)
    mask[:, 15:] = 0
    out = net(x, c, mask=mask)
    y = x.clone()
    y[:, 15:] = 100 * torch.randn(2, 5, 3)  # change only the padding
    torch.testing.assert_close(net(y, c, mask=mask)[:, :15], out[:, :15], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(net(x[:, :15], c), out[:, :15], atol=1e-5, rtol=1e-4)


def test_the_domain_builds_it_and_bad_params_are_one_line():
    net = get_domain().networks["point_dit"].builder(INFO, width=32, depth=1, heads=2)
    assert isinstance(net, PointDiT)
    with pytest.raises(DomainError, match=r"point_dit: unknown params \['depht'\]; allowed"):
        build_point_dit(INFO, depht=2)
    with pytest.raises(DomainError, match="point_dit: width 30 is not divisible by heads 4"):
        build_point_dit(INFO, width=30, heads=4)


def test_config_trains_samples_and_evaluates(tmp_path, cache):
    run = e2e._run(
        tmp_path,
        "configs/shapes/embedded_point_dit.yaml",
        ["model.params={width: 32, depth: 2, heads: 2}", "eval.options.metrics=[cd]"],
    )
    from multigen.config import load_config

    assert load_config(run / "config.yaml").model.name == "point_dit"

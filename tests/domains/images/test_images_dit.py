"""DiT: the paper's parameter counts, adaLN-Zero's identity start, patch round trip,
conditioning, bad sizes, and a few training steps end to end."""

import json
from pathlib import Path

import pytest
import torch

from multigen.domain import DomainError
from multigen_domains.images.networks.dit import DiT, build_dit, sincos_positions

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "images"


@pytest.mark.parametrize("size,millions", [("S", 33), ("B", 130)])
def test_paper_sizes_have_the_papers_parameter_counts(size, millions):
    # DiT-S/2 and DiT-B/2 on 32x32x4 latents with 1000 classes: 33M and 130M (Table 1).
    # Built on the meta device (no memory); the paper's model also predicts Σ (2C outputs).
    with torch.device("meta"):
        net = DiT(4, 32, num_classes=1000, size=size, patch=2)
    count = sum(p.numel() for p in net.parameters()) / 1e6
    assert abs(count - millions) < 0.02 * millions, count


def test_adaln_zero_starts_at_zero_output_and_identity_blocks():
    torch.manual_seed(0)
    net = DiT(1, 16, num_classes=10, size="tiny", patch=4)
    x, c_noise = torch.randn(3, 1, 16, 16), torch.randn(3)
    assert torch.equal(net(x, c_noise, torch.tensor([1, 2, -1])), torch.zeros(3, 1, 16, 16))
    tokens, c = torch.randn(3, 16, 128), torch.randn(3, 128)
    for block in net.blocks:  # gates are 0: each block passes its input through unchanged
        assert torch.equal(block(tokens, c), tokens)


def test_patches_round_trip_and_conditioning_matters():
    torch.manual_seed(0)
    net = DiT(3, 8, num_classes=5, size="tiny", patch=2, width=32, depth=2, heads=2)
    with torch.no_grad():  # leave adaLN-Zero's start, where every output is 0
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x, c_noise = torch.randn(2, 3, 8, 8), torch.zeros(2)
    out = net(x, c_noise, torch.tensor([0, 0]))
    assert out.shape == x.shape
    assert not torch.allclose(out, net(x, c_noise, torch.tensor([3, 3])))
    # attention mixes tokens: changing one corner patch changes the opposite corner's output
    y = x.clone()
    y[:, :, :2, :2] += 1.0
    assert not torch.allclose(
        net(y, c_noise, torch.tensor([0, 0]))[:, :, 6:, 6:], out[:, :, 6:, 6:]
    )


def test_tokens_go_back_to_the_patch_they_came_from():
    net = DiT(2, 8, size="tiny", patch=4, width=32, depth=1, heads=2)
    g, p = net.grid, net.patch
    # the patch embedding puts patch (row, col) at token row * g + col ...
    for row in range(g):
        for col in range(g):
            x = torch.zeros(1, 2, 8, 8)
            x[:, :, row * p : (row + 1) * p, col * p : (col + 1) * p] = 1.0
            tokens = (net.embed(x) - net.embed(torch.zeros_like(x))).flatten(2).transpose(1, 2)
            moved = tokens.abs().sum(-1)[0].nonzero().flatten().tolist()
            assert moved == [row * g + col]
    # ... and unpatchify puts token row * g + col back at patch (row, col)
    tokens = torch.arange(g * g, dtype=torch.float32).reshape(1, g * g, 1).expand(1, g * g, 32)
    image = net.unpatchify(tokens)
    for row in range(g):
        for col in range(g):
            block = image[0, :, row * p : (row + 1) * p, col * p : (col + 1) * p]
            assert (block == row * g + col).all()


def test_sincos_positions_are_distinct_and_bounded():
    pos = sincos_positions(64, 4)
    assert pos.shape == (16, 64) and pos.abs().max() <= 1
    assert torch.cdist(pos, pos).fill_diagonal_(1).min() > 0.1  # every position differs


def test_bad_sizes_are_one_line():
    info = {"shape": [1, 16, 16], "num_classes": 10}
    with pytest.raises(DomainError, match="not divisible by patch 3"):
        build_dit(info, patch=3)
    with pytest.raises(DomainError, match="unknown size 'M'"):
        build_dit(info, size="M")
    with pytest.raises(DomainError, match="unknown params \\['depht'\\]"):
        build_dit(info, depht=2)
    with pytest.raises(DomainError, match="not divisible by heads"):
        build_dit(info, width=30, heads=4)


def test_dit_config_trains_samples_and_scores(tmp_path):
    from multigen import api

    opts = {"classifier_steps": 50, "kid_subsets": 2, "cache_dir": str(tmp_path / "cache")}
    run = api.train(
        CONFIGS / "digits_dit_edm.yaml",
        out=tmp_path / "run",
        overrides=[
            "train.steps=2",
            "train.progress=false",
            "train.tensorboard=false",
            "data.batch_size=8",
            "model.params={size: tiny, patch: 4, width: 32, depth: 2, heads: 2}",
            "sample.n=8",
            "sample.steps=2",
            "eval.n_samples=8",
            f"eval.options={json.dumps(opts)}",
        ],
    )
    res = api.sample(run, n=4, steps=2, seed=0, cond=3)
    assert res.samples.shape == (4, 1, 16, 16)


def test_weights_saved_before_the_blocks_moved_to_the_engine_still_load():
    # the output layer was ada_out/out on the DiT itself; it is now the shared head
    torch.manual_seed(0)
    net = DiT(1, 8, size="tiny", patch=2, width=32, depth=1, heads=2)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    old = {
        k.replace("head.ada.", "ada_out.").replace("head.out.", "out."): v
        for k, v in net.state_dict().items()
    }
    assert "ada_out.weight" in old and "out.bias" in old
    other = DiT(1, 8, size="tiny", patch=2, width=32, depth=1, heads=2)
    other.load_state_dict(old)  # strict: every key found
    x, c_noise = torch.randn(2, 1, 8, 8), torch.randn(2)
    assert torch.equal(other(x, c_noise), net(x, c_noise))

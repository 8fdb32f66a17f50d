"""Text conditioning (multigen.text): tokenizer, encoder, cross-attention, the data
description's text field, and the image networks that read captions."""

import pytest
import torch

from multigen.datainfo import DataInfo
from multigen.domain import DomainError
from multigen.nn import AdaLNZeroBlock, drop_condition, null_condition
from multigen.text import CrossAttention, TextConditioning, TextEncoder, Tokenizer, words
from multigen_domains.images.networks.dit import DiT
from multigen_domains.images.networks.unet import UNet

CAPTIONS = ["a red ball", "a big red box", "two boxes"]


def test_tokenizer_known_ids_and_round_trip():
    tok = Tokenizer.fit(CAPTIONS, examples=["a red box"])
    assert tok.vocab == ("<pad>", "a", "ball", "big", "box", "boxes", "red", "two")
    assert tok.max_len == 4
    assert tok.ids("A red  BOX") == [1, 6, 4, 0]
    ids = tok.encode(["two boxes", "a big red ball"])
    assert ids.tolist() == [[7, 5, 0, 0], [1, 3, 6, 2]]
    assert tok.decode(ids[1]) == "a big red ball"
    assert Tokenizer.from_info({"text": tok.to_info()}) == tok
    assert words("a 3, left") == ["a", "3", ",", "left"]


def test_tokenizer_refuses_unknown_long_and_empty_prompts():
    tok = Tokenizer.fit(CAPTIONS)
    with pytest.raises(DomainError, match=r"\['green'\].*not in this run's vocabulary"):
        tok.ids("a green ball")
    with pytest.raises(DomainError, match="at most 4"):
        tok.ids("a big red ball box")
    with pytest.raises(DomainError, match="empty caption"):
        tok.ids("   ")
    with pytest.raises(DomainError, match="not trained on captions"):
        Tokenizer.from_info({"shape": [1, 8, 8]})


def test_data_info_text_makes_a_run_conditional():
    tok = Tokenizer.fit(CAPTIONS)
    info = DataInfo.of({"shape": [1, 8, 8], "text": tok.to_info()})
    assert info.conditional
    plain = info.without_conditions()
    assert not plain.conditional and "text" not in plain.to_dict()


def test_null_caption_is_a_row_of_minus_one_and_dropout_makes_it():
    ids = torch.tensor([[1, 2, 0], [3, 0, 0]])
    assert null_condition(ids).tolist() == [[-1, -1, -1]] * 2
    dropped = drop_condition(ids, 0.5, uniform=torch.tensor([0.9, 0.1]))
    assert dropped.tolist() == [[1, 2, 0], [-1, -1, -1]]


def test_encoder_hides_padding_and_reads_word_order():
    torch.manual_seed(0)
    enc = TextEncoder(vocab_size=8, max_len=5, width=16, depth=2, heads=4).eval()
    ids = torch.tensor([[1, 6, 3, 0, 0], [3, 6, 1, 0, 0], [-1] * 5])
    tokens, pad, pooled = enc(ids)
    assert tokens.shape == (3, 5, 16) and pooled.shape == (3, 16)
    assert pad.tolist()[0] == [False, False, False, True, True]
    assert pad.tolist()[2] == [False, True, True, True, True]  # null: one "no caption" token
    assert torch.isfinite(tokens).all() and torch.isfinite(pooled).all()
    # same words in another order: another caption (learned positions)
    assert not torch.allclose(pooled[0], pooled[1], atol=1e-4)
    # a caption's features do not depend on the rest of the batch
    alone = enc(ids[:1])[2]
    torch.testing.assert_close(alone, pooled[:1], atol=1e-5, rtol=1e-5)


def test_cross_attention_starts_as_identity_and_ignores_padded_context():
    torch.manual_seed(0)
    layer = CrossAttention(width=8, context_width=6, heads=2)
    x, ctx = torch.randn(2, 5, 8), torch.randn(2, 3, 6)
    pad = torch.tensor([[False, False, True], [False, True, True]])
    torch.testing.assert_close(layer(x, ctx, pad), x)  # zero output projection
    torch.nn.init.normal_(layer.attn.out_proj.weight)
    out = layer(x, ctx, pad)
    assert not torch.allclose(out, x)
    ctx2 = ctx.clone()
    ctx2[0, 2] += 100.0  # a padded token
    ctx2[1, 1:] -= 50.0
    torch.testing.assert_close(layer(x, ctx2, pad), out)
    ctx2[0, 0] += 1.0  # a real token
    assert not torch.allclose(layer(x, ctx2, pad)[0], out[0])


def test_adaln_block_without_context_is_unchanged():
    block = AdaLNZeroBlock(16, 4)
    assert block.cross is None
    assert set(block.state_dict()) == set(AdaLNZeroBlock(16, 4, context_width=0).state_dict())
    assert any(k.startswith("cross.") for k in AdaLNZeroBlock(16, 4, context_width=8).state_dict())


def _perturb(net: torch.nn.Module) -> None:
    """Move every zero-initialised output layer off zero, so outputs depend on inputs."""
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))


@pytest.mark.parametrize("kind", ["unet", "dit"])
def test_image_networks_read_captions(kind):
    tok = Tokenizer.fit(CAPTIONS)
    text = tok.to_info()
    torch.manual_seed(0)
    if kind == "unet":
        net = UNet(1, 8, channels=8, channel_mult=(1, 2), num_res_blocks=1,
                   attn_resolutions=(4,), text=text, text_width=16)  # fmt: skip
    else:
        net = DiT(1, 8, size="tiny", patch=2, width=32, depth=2, heads=4, text=text,
                  text_width=16)  # fmt: skip
    _perturb(net)
    net.eval()
    x, sigma = torch.randn(3, 1, 8, 8), torch.full((3,), 0.3)
    ids = tok.encode(["a red ball", "two boxes", "a red ball"])
    out = net(x[:1].expand(3, -1, -1, -1), sigma, ids)
    assert out.shape == (3, 1, 8, 8)
    torch.testing.assert_close(out[0], out[2])  # same caption, same input
    assert not torch.allclose(out[0], out[1], atol=1e-5)  # another caption
    # no caption = the null caption row
    torch.testing.assert_close(net(x, sigma, None), net(x, sigma, torch.full((3, 4), -1)))


def test_text_conditioning_pools_to_the_network_width():
    tok = Tokenizer.fit(CAPTIONS)
    cond = TextConditioning(tok.to_info(), dim=24, width=16)
    pooled, (tokens, pad) = cond(tok.encode(["a red ball"]), 1, torch.device("cpu"))
    assert pooled.shape == (1, 24) and tokens.shape == (1, 4, 16) and pad.shape == (1, 4)

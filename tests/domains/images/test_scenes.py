"""Captioned digit scenes (domains/images/scenes.py) and text-to-image end to end."""

import pytest
import torch

from multigen.cli import main
from multigen.domain import DomainError
from multigen_domains.images import scenes

api = pytest.importorskip("multigen.api")

from tests.train.helpers import CONFIGS, quick_overrides  # noqa: E402


def test_parse_reads_both_word_orders():
    want = scenes.Scene(3, 7, "large", "small")
    assert scenes.parse("a large 3 left of a small 7") == want
    assert scenes.parse("A small 7 right of a large 3") == want
    assert want.caption(from_right=True) == "a small 7 right of a large 3"
    for bad in ("a large 3 above a small 7", "a large 37 left of a small 7", "a 3 left of a 7"):
        with pytest.raises(DomainError, match="is not of the form"):
            scenes.parse(bad)


def test_ten_held_out_pairs_one_per_digit_and_side():
    held = [(a, b) for a in range(10) for b in range(10) if scenes.held_out(a, b)]
    assert len(held) == 10
    assert sorted(a for a, _ in held) == list(range(10))
    assert sorted(b for _, b in held) == list(range(10))


def test_training_scenes_leave_the_held_out_pairs_out():
    ds = scenes.make_scenes("train", 300)
    assert not any(scenes.held_out(s.left, s.right) for s in ds.scenes)
    test = scenes.make_scenes("test", 300)
    assert any(scenes.held_out(s.left, s.right) for s in test.scenes)
    assert ds.images.shape == (300, 1, 16, 16) and ds.images.dtype == torch.uint8
    # every caption tokenises with the data set's tokenizer; captions describe their scene
    assert [scenes.parse(c) for c in ds.captions] == ds.scenes
    assert ds.tokens.shape == (300, ds.tokenizer.max_len)
    x, ids = ds[0]
    assert x.min() >= -1 and x.max() <= 1 and ds.tokenizer.decode(ids) == ds.captions[0]


def test_render_puts_a_small_digit_in_the_centre_of_its_cell():
    ink = torch.ones(8, 8)
    img = scenes.render(scenes.Scene(1, 2, "large", "small"), ink, ink, 16)
    assert img[4:12, 0:8].eq(1).all() and img[:4].eq(0).all() and img[12:].eq(0).all()
    right = img[:, 8:]
    ys, xs = torch.nonzero(right > 0.5, as_tuple=True)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (5, 9, 1, 5)  # 5x5, centred
    cells = scenes._cells(img[None, None])
    assert scenes.ink_extent(torch.cat(cells)).tolist() == [8, 5]


def test_compositional_scores_on_real_scenes_and_swapped_captions():
    ds = scenes.make_scenes("test", 300)
    real = ds.images.float() / 255
    ok = scenes.compositional_scores(real, ds.captions)
    assert ok["sizes"] == 1.0
    assert ok["digits"] > 0.85 and ok["all"] == ok["digits"]
    swapped = [
        scenes.Scene(s.right, s.left, s.left_size, s.right_size).caption() for s in ds.scenes
    ]
    assert scenes.compositional_scores(real, swapped)["digits"] < 0.2
    resized = [scenes.Scene(s.left, s.right, "small", "small").caption() for s in ds.scenes]
    share_small = sum(s.left_size == s.right_size == "small" for s in ds.scenes) / len(ds)
    assert scenes.compositional_scores(real, resized)["sizes"] == pytest.approx(share_small)
    blank = torch.zeros(4, 1, 16, 16)
    assert scenes.compositional_scores(blank, ds.captions[:4])["all"] == 0.0
    with pytest.raises(DomainError, match="4 images for 3 captions"):
        scenes.compositional_scores(blank, ds.captions[:3])


def test_train_sample_with_prompts_end_to_end(tmp_path):
    run = tmp_path / "run"
    api.train(
        CONFIGS / "images" / "digit_scenes_text.yaml",
        out=run,
        overrides=[
            *quick_overrides(steps=2, batch=8, samples=4, eval_samples=8, sample_steps=2),
            "data.params={size: 16, n: 64}",
            "model.params={channels: 8, channel_mult: [1, 2], num_res_blocks: 1, "
            "attn_resolutions: [], text_width: 16, text_depth: 1}",
            'eval.options={"classifier_steps": 20, "kid_subsets": 2}',
        ],
    )
    prompts = ["a large 3 left of a small 7", "a small 0 right of a large 0"]
    res = api.sample(run, out=tmp_path / "s", prompt=prompts, n=4, steps=2, guidance=2.0)
    assert len(res.files) == 5 and res.batch.cond.shape == (4, 8)  # 4 PNGs + grid.png
    assert (tmp_path / "s" / "prompts.txt").read_text().splitlines() == prompts * 2
    with pytest.raises(DomainError, match=r"\['huge'\]"):
        api.sample(run, prompt="a huge 3 left of a small 7", n=1, steps=2)
    with pytest.raises(DomainError, match="either cond or prompt"):
        api.sample(run, prompt=prompts[0], cond=3, n=1, steps=2)
    with pytest.raises(DomainError, match="conditioned on captions"):
        api.sample(run, cond=3, n=1, steps=2)
    # the CLI: --prompt repeated; a word outside the vocabulary exits 2 with one line
    out = tmp_path / "cli"
    argv = ["sample", str(run), "--n", "4", "--steps", "2", "--out", str(out)]
    assert main([*argv, "--prompt", prompts[0], "--prompt", prompts[1]]) == 0
    assert (out / "prompts.txt").read_text().splitlines() == prompts * 2
    assert main([*argv, "--prompt", "a huge 3"]) == 2
    # evaluate reads prompts.txt beside the samples and adds the compositional score
    from multigen.registry import get_domain

    dom = get_domain("images")
    got = dom.evaluate(dom.load_samples(out), "digit_scenes:test", kid_subsets=2)
    assert {"compositional_all", "compositional_digits", "compositional_sizes"} <= set(got)
    (out / "prompts.txt").write_text(prompts[0] + "\n")
    with pytest.raises(DomainError, match="1 prompts for 4 images"):
        dom.load_samples(out)
    # no prompt: the data's example captions, one per sample
    res = api.sample(run, n=2, steps=2)
    assert res.batch.cond.shape == (2, 8) and (res.batch.cond > 0).any()


def test_networks_that_do_not_read_captions_are_refused():
    from multigen_domains.images.networks.dcgan import build_generator

    info = {"shape": [1, 16, 16], "text": scenes.make_scenes("test", 4).tokenizer.to_info()}
    with pytest.raises(DomainError, match="does not read captions"):
        build_generator(info)

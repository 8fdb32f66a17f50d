"""Paired image-to-image end to end, a few steps per method: train (the shipped configs with
tiny networks) -> translate a folder through the CLI and the API -> PSNR/SSIM/FD; and the
one-line refusals of `multigen translate`."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from domains.images import translation as T
from multigen import api
from multigen.cli import main

CONFIGS = Path(__file__).resolve().parents[3] / "configs" / "images"
TINY = {
    "pix2pix": [
        "model.params={channels: 8}",
        "discriminator.params={channels: 8}",
    ],
    "diffusion": [
        "model.params={channels: 8, channel_mult: [1, 2], num_res_blocks: 1, attn_resolutions: []}",
        "method.cond_drop=0.2",
    ],
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("translation")
    opts = {"classifier_steps": 30, "kid_subsets": 5, "cache_dir": str(root / "cache")}
    out = {}
    for method, extra in TINY.items():
        out[method] = api.train(
            CONFIGS / f"digits_sr_{method}.yaml",
            out=root / method,
            overrides=[
                "train.steps=3",
                "train.progress=false",
                "train.tensorboard=false",
                "data.batch_size=8",
                "sample.n=4",
                "sample.steps=3",
                "eval.n_samples=8",
                f"eval.options={json.dumps(opts)}",
                *extra,
            ],
        )
    return out


@pytest.fixture(scope="module")
def sources(tmp_path_factory):
    """Six test sources written as PNG files, in a sub-folder too, with their targets."""
    test = T.load_digits_pairs(None, "test", size=16, task="sr")
    root = tmp_path_factory.mktemp("sources")
    names = ["a", "b", "c", "sub/d", "sub/e", "sub/f"]
    T.write_named(test.sources[:6], names, root)
    return root, names, test.images[:6]


@pytest.mark.parametrize("method", ["pix2pix", "diffusion"])
def test_train_translate_evaluate(method, runs, sources, tmp_path, capsys):
    run = runs[method]
    metrics = json.loads((run / "metrics.json").read_text())
    assert "fd_digitcnn" in metrics  # the trainer's final samples translate test sources
    root, names, targets = sources
    out = tmp_path / "out"
    assert main(["translate", str(run), str(root), "--out", str(out), "--steps", "3"]) == 0
    assert "6 translations" in capsys.readouterr().out
    files = sorted(str(p.relative_to(out).with_suffix("")) for p in out.rglob("*.png"))
    assert files == sorted(names)
    res = api.translate(run, root, steps=3, batch_size=4)
    assert res.samples.shape == (6, 1, 16, 16) and res.samples.dtype == torch.uint8
    again = api.translate(run, root, steps=3, batch_size=6)  # batch-size invariant
    assert torch.equal(res.samples, again.samples)
    written = api.get_domain("images").load_samples(out / "sub")
    assert torch.equal(written.images, res.samples[3:])  # the CLI wrote the same outputs
    scores = T.paired_scores(res.samples, targets)
    assert np.isfinite(scores["psnr"]) and -1 <= scores["ssim"] <= 1
    target_dir = tmp_path / "targets"
    T.write_named(targets, names, target_dir)
    scored = api.translate(run, root, steps=3, targets=target_dir)
    assert scored.scores == pytest.approx(scores)
    assert T.paired_scores(targets, targets)["ssim"] == pytest.approx(1.0)
    if method == "diffusion":  # the source matters: another source, another output
        other = api.translate(run, root / "sub", steps=3)
        assert not torch.equal(other.samples, res.samples[:3])


def test_translate_bad_input_is_one_line(runs, tmp_path, write_image, capsys):
    run = str(runs["pix2pix"])
    write_image(tmp_path / "big" / "x.png", np.zeros((16, 16)))
    write_image(tmp_path / "rgb" / "y.png", np.zeros((4, 4, 3)))
    (tmp_path / "empty").mkdir()
    write_image(tmp_path / "small" / "z.png", np.zeros((4, 4)))
    cases = [
        ([str(tmp_path / "big")], "x.png: source images are 1 channel(s) of 16x16 pixels"),
        ([str(tmp_path / "rgb")], "3 channel(s) of 4x4 pixels; this run translates 1"),
        ([str(tmp_path / "empty")], "no PNG/JPEG images found"),
        ([str(tmp_path / "missing")], "input not found"),
        ([], "needs the folder of source images"),
        ([str(tmp_path / "rgb"), "--n", "3"], "takes no n"),
        ([str(tmp_path / "small"), "--targets", str(tmp_path / "empty")], "no target for"),
        ([str(tmp_path / "small"), "--targets", str(tmp_path / "nope")], "targets folder not"),
    ]
    for extra, message in cases:
        assert main(["translate", run, *extra, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and message in err, err


def test_translate_refuses_unpaired_runs(tmp_path, capsys):
    run = api.train(
        CONFIGS / "digits_flow.yaml",
        out=tmp_path / "flow",
        overrides=[
            "train.steps=1",
            "train.progress=false",
            "train.tensorboard=false",
            "data.batch_size=4",
            "data.conditional=false",
            "model.params={channels: 8, channel_mult: [1], num_res_blocks: 1, "
            "attn_resolutions: []}",
            "sample.n=2",
            "sample.steps=2",
            "eval.n_samples=4",
            'eval.options={"classifier_steps": 5}',
        ],
    )
    assert main(["translate", str(run), str(tmp_path)]) == 2
    assert "trained without conditions" in capsys.readouterr().err

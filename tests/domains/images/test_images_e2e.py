"""Train -> sample -> evaluate through multigen.api for every method, a few steps each."""

import json

import pytest
import torch

api = pytest.importorskip("multigen.api")

from tests.train.helpers import CONFIGS as BASE  # noqa: E402
from tests.train.helpers import TINY_UNET, quick_overrides  # noqa: E402

CONFIGS = BASE / "images"


@pytest.fixture(scope="module")
def eval_opts(tmp_path_factory):
    return {
        "classifier_steps": 100,
        "kid_subsets": 5,
        "cache_dir": str(tmp_path_factory.mktemp("cache")),
    }


def overrides(method: str, opts: dict) -> list[str]:
    common = [
        *quick_overrides(steps=3, batch=16, samples=8, eval_samples=12, sample_steps=3),
        f"eval.options={json.dumps(opts)}",
    ]
    if method == "gan":
        return common + [
            "model.params={latent_dim: 16, channels: 8}",
            "discriminator.params={channels: 8}",
        ]
    return common + [f"model.params={TINY_UNET}"]


@pytest.mark.parametrize("method", ["ddpm", "edm", "flow", "gan"])
def test_train_sample_evaluate(method, tmp_path, eval_opts):
    run = api.train(
        CONFIGS / f"digits_{method}.yaml",
        out=tmp_path / "run",
        overrides=overrides(method, eval_opts),
    )
    metrics = json.loads((run / "metrics.json").read_text())
    assert "fd_digitcnn" in metrics and (run / "samples" / "grid.png").is_file()

    res = api.sample(run, n=6, steps=3, seed=0, out=tmp_path / "s")
    assert res.samples.shape == (6, 1, 16, 16) and res.samples.dtype == torch.uint8
    assert len(list((tmp_path / "s").glob("sample_*.png"))) == 6

    again = api.sample(run, n=2, steps=3, seed=0)  # batch-size invariance of sample 0, 1
    assert torch.equal(again.samples, res.samples[:2])

    scores = api.evaluate("images", tmp_path / "s", "digits:test", **eval_opts)
    for key in ("fd_digitcnn", "kid_digitcnn", "precision_digitcnn", "recall_digitcnn"):
        assert key in scores and scores[key] == scores[key]  # present and not NaN
    assert scores["n_samples"] == 6

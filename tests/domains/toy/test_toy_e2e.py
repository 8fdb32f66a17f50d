"""End to end through multigen.api: train a few steps -> sample -> export -> evaluate, per method.

Needs the engine (multigen.api); small networks and 30 steps keep each case to seconds.
"""

import json
import math

import numpy as np
import pytest

api = pytest.importorskip("multigen.api")

from tests.train.helpers import CONFIGS as BASE  # noqa: E402
from tests.train.helpers import quick_overrides  # noqa: E402

CONFIGS = BASE / "toy"
FAST = [
    *quick_overrides(steps=30, batch=64, samples=64, eval_samples=64),
    "train.checkpoint_every=30",
    "data.params={n: 512}",
]
SMALL_NET = {
    "ddpm": ["model.params={width: 32, depth: 1}"],
    "edm": ["model.params={width: 32, depth: 1}"],
    "flow": ["model.params={width: 32, depth: 1}"],
    "gan": ["model.params={width: 32, depth: 1}", "discriminator.params={width: 32, depth: 1}"],
}
SAMPLERS = {
    "ddpm": ["ddpm", "ddim", "euler", "heun", "dpmpp_2m"],
    "edm": ["heun", "dpmpp_2m"],
    "flow": ["euler", "heun"],
    "gan": [None],
}
MIXTURE_KEYS = {"energy_distance", "swd", "loglik", "hq_fraction", "modes_covered", "mode_kl"}


@pytest.mark.parametrize("method", ["ddpm", "edm", "flow", "gan"])
def test_train_sample_evaluate(method, tmp_path):
    run = api.train(
        CONFIGS / f"eight_gaussians_{method}.yaml",
        out=tmp_path / "run",
        overrides=FAST + SMALL_NET[method],
    )
    metrics = json.loads((run / "metrics.json").read_text())
    assert MIXTURE_KEYS <= set(metrics) and metrics["modes_total"] == 8
    for sampler in SAMPLERS[method]:
        out = tmp_path / f"s_{sampler}"
        res = api.sample(run, n=16, sampler=sampler, steps=4, seed=3, out=out)
        assert res.samples.shape == (16, 2) and np.isfinite(res.samples.numpy()).all()
        assert {f.name for f in res.files} == {"samples.npy", "samples.csv", "samples.png"}
        scores = api.evaluate("toy", samples=out, reference="eight_gaussians:test", n=500)
        assert MIXTURE_KEYS <= set(scores)
        assert all(math.isfinite(v) for v in scores.values())
    # a sample depends on its seed only, not on the batch it was drawn in
    a = api.sample(run, n=6, seed=10, steps=4).samples
    b = api.sample(run, n=2, seed=14, steps=4).samples
    np.testing.assert_allclose(a[4:].numpy(), b.numpy(), atol=1e-5)


def test_evaluate_cli_on_plain_files(tmp_path, capsys):
    from multigen.cli import main

    ref = api.get_domain("toy").reference("grid25", n=300)
    np.save(tmp_path / "mine.npy", ref.points)
    code = main(
        [
            "evaluate", "--domain", "toy", "--samples", str(tmp_path / "mine.npy"),
            "--reference", "grid25:test", "--out", str(tmp_path / "m.json"),
        ]
    )  # fmt: skip
    assert code in (0, None)
    scores = json.loads((tmp_path / "m.json").read_text())
    assert scores["modes_covered"] == 25 and scores["hq_fraction"] > 0.95
    np.save(tmp_path / "bad.npy", np.zeros((4, 3)))
    code = main(["evaluate", "--domain", "toy", "--samples", str(tmp_path / "bad.npy"),
                 "--reference", "grid25"])  # fmt: skip
    assert code not in (0, None) and "bad.npy" in capsys.readouterr().err


def test_data_prepare_cli(tmp_path):
    from multigen.cli import main

    code = main(["data", "prepare", "toy/two_moons", "--out", str(tmp_path / "moons")])
    assert code in (0, None)
    assert (tmp_path / "moons" / "train.npy").is_file() and (
        tmp_path / "moons" / "test.npy"
    ).is_file()


def test_every_toy_config_validates():
    from multigen.config import load_config

    dom = api.get_domain("toy")
    files = sorted(CONFIGS.glob("*.yaml"))
    assert {"demo.yaml", "demo_fast.yaml", "eight_gaussians_gan.yaml"} <= {f.name for f in files}
    for f in files:
        cfg = load_config(f)
        assert cfg.domain == "toy" and cfg.data.name in dom.datasets, f
        assert cfg.model.name in dom.networks, f
        if cfg.discriminator is not None:
            assert dom.networks[cfg.discriminator.name].role == "discriminator", f

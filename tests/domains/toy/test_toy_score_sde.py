"""Score SDEs end to end on toy data: train a few steps -> sample with the reverse-SDE
samplers -> evaluate -> likelihood, and the bad inputs each give one line."""

import json
import math

import numpy as np
import pytest

from multigen import api
from multigen.cli import main
from multigen.domain import DomainError
from tests.train.helpers import CONFIGS as BASE
from tests.train.helpers import quick_overrides

CONFIGS = BASE / "toy"
FAST = [
    *quick_overrides(steps=30, batch=64, samples=64, eval_samples=64, sample_steps=10),
    "train.checkpoint_every=30",
    "data.params={n: 512}",
    "model.params={width: 32, depth: 1}",
]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("sde")
    out = {}
    for method in ("vesde", "vpsde"):
        out[method] = api.train(
            CONFIGS / f"eight_gaussians_{method}.yaml", out=root / method, overrides=FAST
        )
    out["gan"] = api.train(
        CONFIGS / "eight_gaussians_gan.yaml",
        out=root / "gan",
        overrides=[*FAST, "discriminator.params={width: 32, depth: 1}"],
    )
    return out


@pytest.mark.parametrize("method", ["vesde", "vpsde"])
def test_train_sample_evaluate_likelihood(runs, method, tmp_path):
    run = runs[method]
    metrics = json.loads((run / "metrics.json").read_text())
    assert math.isfinite(metrics["energy_distance"]) and metrics["modes_total"] == 8
    for sampler, kw, nfe in (
        ("euler_maruyama", {}, 6),
        ("pc", {"snr": 0.1, "corrector_steps": 2}, 18),
        ("pc_em", {}, 12),
        ("heun", {}, 11),  # the PF-ODE samplers work on score-SDE runs too
    ):
        res = api.sample(run, n=16, sampler=sampler, steps=6, seed=3, **kw)
        assert res.samples.shape == (16, 2) and np.isfinite(res.samples.numpy()).all()
        assert res.nfe == nfe
    # a sample depends on its seed only, not on the batch it was drawn in (pc included)
    a = api.sample(run, n=6, seed=10, steps=4, sampler="pc").samples
    b = api.sample(run, n=2, seed=14, steps=4, sampler="pc").samples
    np.testing.assert_allclose(a[4:].numpy(), b.numpy(), atol=1e-5)

    exact = api.likelihood(run, n=40, exact=True, steps=4)
    hutch = api.likelihood(run, n=40, probes=2, steps=4)
    other = api.likelihood(run, data="eight_gaussians:test", n=40, steps=4)
    for res in (exact, hutch, other):
        assert math.isfinite(res["nll"]) and res["n"] == 40 and res["dim"] == 2
        assert res["bits_per_dim"] == pytest.approx(res["nll"] / (2 * math.log(2)))
        assert res["dequantized"] == 0 and res["nfe"] == 16
    # one probe per point in 2-D: the estimate scatters around the exact trace's figure
    assert abs(hutch["nll"] - exact["nll"]) < 5 * hutch["nll_se"] + 0.5
    lo, hi = api.load_run(run).method.process.sigma_range()
    assert exact["sigma_min"] == pytest.approx(lo) and exact["sigma_max"] == pytest.approx(hi)


def test_encode_inverts_decode(runs):
    loaded = api.load_run(runs["vesde"])
    res = api.sample(loaded, n=8, steps=3)
    back = loaded.domain.encode(res.samples, loaded.info)
    np.testing.assert_allclose(back.x.numpy(), res.batch.x.numpy(), atol=1e-5)


def test_likelihood_cli(runs, tmp_path, capsys):
    out = tmp_path / "nll.json"
    rc = main(["likelihood", str(runs["vpsde"]), "--n", "20", "--steps", "3", "--out", str(out)])
    assert rc == 0
    scores = json.loads(out.read_text())
    assert scores["n"] == 20 and math.isfinite(scores["bits_per_dim"])
    assert "bits_per_dim" in capsys.readouterr().out


def one_line_error(argv, capsys, *needles):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.startswith("error: ") and len(err.splitlines()) == 1, err
    for needle in needles:
        assert needle in err, err
    return err


def test_bad_input_is_one_line(runs, capsys):
    ve, gan = str(runs["vesde"]), str(runs["gan"])
    one_line_error(["likelihood", gan], capsys, "method 'gan'", "diffusion")
    one_line_error(["likelihood", ve, "--probes", "0"], capsys, "probes")
    one_line_error(["likelihood", ve, "--probe", "normal"], capsys, "rademacher")
    one_line_error(["likelihood", ve, "--sigma-min", "100"], capsys, "sigma_min")
    one_line_error(["likelihood", ve, "--exact", "--data", "nope:test"], capsys, "nope")
    one_line_error(["sample", ve, "--sampler", "pc", "--snr", "0"], capsys, "snr")
    with pytest.raises(DomainError, match="unknown likelihood option: 'probs'.*'probes'"):
        api.likelihood(ve, probs=2)  # a misspelt keyword names the close match
    one_line_error(
        ["sample", ve, "--sampler", "pc", "--corrector-steps", "-1"], capsys, "corrector"
    )
    one_line_error(["sample", ve, "--sampler", "heun", "--snr", "0.1"], capsys, "snr", "pc, pc_em")
    with pytest.raises(DomainError, match="unknown sample option"):
        api.sample(ve, n=2, snr_typo=0.1)

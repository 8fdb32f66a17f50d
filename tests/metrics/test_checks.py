"""Scores every domain must satisfy (multigen/metrics/checks.py): finite or refused, the
same way in every domain and in the end-of-run scoring; a warning when N is too small."""

import json
import math
import warnings

import numpy as np
import pytest

from multigen import api
from multigen.cli import main
from multigen.config import load_config
from multigen.domain import DomainError
from multigen.metrics.checks import (
    MIN_SAMPLES,
    SmallSampleWarning,
    frechet_note,
    minimum_notes,
    require_finite_scores,
)
from multigen.metrics.frechet import frechet_distance_features
from multigen.registry import domain_names, get_domain
from multigen.train.trainer import Trainer
from tests.train.helpers import tiny_config


def test_require_finite_scores_names_the_metrics():
    assert require_finite_scores({"a": 1.0}) == {"a": 1.0}
    for bad in (math.nan, math.inf, -math.inf):
        with pytest.raises(DomainError, match=r"x=(nan|inf|-inf)") as err:
            require_finite_scores({"a": 1.0, "x": bad}, "here")
        assert str(err.value).startswith("here: ") and "a=" not in str(err.value)


@pytest.mark.parametrize("name", sorted(domain_names()))
def test_every_domain_refuses_non_finite_metrics_in_evaluate(name, monkeypatch):
    """The refusal is in api.evaluate, not in each domain: a domain whose evaluate returns NaN
    (here forced) is refused like the images domain always was."""
    dom = get_domain(name)
    monkeypatch.setattr(dom, "evaluate", lambda s, r, **o: {"n_samples": 500.0, "m": math.nan})
    with pytest.raises(DomainError, match="m=nan"):
        api.evaluate(dom, object(), object())


def test_toy_all_nan_samples_are_refused_by_the_cli(tmp_path, capsys):
    samples = tmp_path / "nan.npy"
    np.save(samples, np.full((200, 2), np.nan))
    out = tmp_path / "m.json"
    argv = ["evaluate", "--domain", "toy", "--samples", str(samples)]
    code = main([*argv, "--reference", "eight_gaussians:test", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "energy_distance=nan" in err[0]
    assert not out.exists()  # no NaN reaches the JSON


def test_toy_partly_nan_samples_still_score(tmp_path):
    pts = np.random.default_rng(0).normal(size=(200, 2))
    pts[:50] = np.nan  # a partly diverged sampler: counted, not fatal
    scores = api.evaluate("toy", pts, "eight_gaussians:test")
    assert scores["nonfinite_fraction"] == pytest.approx(0.25)
    assert all(math.isfinite(v) for v in scores.values())


def test_small_sample_rules():
    assert frechet_note(10, 10, 64) is not None and "64" in frechet_note(10, 10, 64)
    assert frechet_note(65, 1000, 64) is None
    assert minimum_notes({"n_samples": float(MIN_SAMPLES), "fd": 1.0}, {}) == []
    notes = minimum_notes({"n_samples": 3.0, "n_reference": 128.0, "fd": 1.0, "v": 1.0}, {"v": 2})
    assert len(notes) == 1 and "3 samples" in notes[0] and f"fd need {MIN_SAMPLES}" in notes[0]
    assert "v need" not in notes[0]  # 3 >= its stated minimum of 2
    rng = np.random.default_rng(0)
    with pytest.warns(SmallSampleWarning, match="singular"):
        frechet_distance_features(rng.normal(size=(5, 8)), rng.normal(size=(50, 8)))
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallSampleWarning)
        frechet_distance_features(rng.normal(size=(20, 8)), rng.normal(size=(50, 8)))


def test_cli_evaluate_warns_when_n_is_small(tmp_path, capsys):
    samples = tmp_path / "few.npy"
    np.save(samples, np.random.default_rng(0).normal(size=(3, 2)))
    argv = ["evaluate", "--domain", "toy", "--samples", str(samples)]
    assert main([*argv, "--reference", "eight_gaussians:test"]) == 0
    out = capsys.readouterr().out
    assert "warning: scores from 3 samples" in out


def test_non_finite_scoring_never_writes_metrics_or_best(tmp_path, monkeypatch):
    cfg = tiny_config("flow", steps=4, checkpoint_every=2)
    cfg["train"]["best_metric"] = "energy_distance"
    run = tmp_path / "run"
    trainer = Trainer(load_config(cfg), get_domain("toy"), run)
    trainer.fit()
    monkeypatch.setattr(trainer.domain, "evaluate", lambda s, r, **o: {"energy_distance": math.nan})
    with pytest.raises(DomainError, match="energy_distance=nan"):
        trainer.finish()
    assert not (run / "metrics.json").exists()
    assert not (run / "checkpoints" / "best").exists() and trainer.best is None
    # and a NaN that reached _mark_best some other way is never chosen
    last = sorted((run / "checkpoints").glob("step_*"))[-1]
    trainer._mark_best(last, {"energy_distance": math.nan})
    assert not (run / "checkpoints" / "best").exists()
    assert json.loads((last / "meta.json").read_text())["evaluated"] is False

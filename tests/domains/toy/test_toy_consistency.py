"""Consistency models end to end on toy data (train a few steps -> sample in 1 and 2 calls ->
evaluate), for distillation from the shipped DDPM and for training from scratch, and their
answers to bad input: one line, exit status 2."""

import json
import math

import pytest
import yaml

from multigen import api
from multigen.cli import main
from multigen.domain import DomainError

FAST = [
    "train.steps=12",
    "train.progress=false",
    "train.tensorboard=false",
    "train.checkpoint_every=12",
    "train.log_every=4",
    "sample.n=100",
    "eval.n_samples=100",
    "data.params={n: 512}",
    "data.batch_size=64",
    "model.params={width: 32, depth: 1}",
]
CD = "configs/toy/eight_gaussians_consistency_cd.yaml"
CT = "configs/toy/eight_gaussians_consistency_ct.yaml"


@pytest.fixture(scope="module", params=["cd", "ct"])
def run(request, tmp_path_factory):
    config = CD if request.param == "cd" else CT
    out = tmp_path_factory.mktemp(request.param) / "run"
    return api.train(config, out=out, overrides=FAST)


def test_train_sample_evaluate(run):
    metrics = json.loads((run / "metrics.json").read_text())
    assert math.isfinite(metrics["energy_distance"]) and metrics["nonfinite_fraction"] == 0
    for steps in (1, 2):
        res = api.sample(run, n=100, steps=steps, sampler="consistency")
        assert res.nfe == steps and res.batch.x.shape == (100, 2)
        scores = api.evaluate("toy", res.samples, "eight_gaussians:test")
        assert math.isfinite(scores["energy_distance"])


def test_a_finished_run_loads_without_its_teacher(run):
    cfg = yaml.safe_load((run / "config.yaml").read_text())
    assert cfg["method"]["name"] == "consistency"
    # loading the run for sampling never needs the teacher
    loaded = api.load_run(run)
    assert loaded.method.teacher is None


def test_bad_sampler_and_steps_one_line(run, capsys):
    assert main(["sample", str(run), "--sampler", "heun", "--n", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert "does not apply to method 'consistency'" in err and len(err.splitlines()) == 1
    assert main(["sample", str(run), "--steps", "3", "--n", "4"]) == 2
    err = capsys.readouterr().err.strip()
    assert "1 to 2 steps" in err and len(err.splitlines()) == 1


def _write(tmp_path, method: dict, **top) -> str:
    cfg = yaml.safe_load(open(api.CONFIG_DIR / "toy" / "eight_gaussians_consistency_cd.yaml"))
    cfg["method"].update(method)
    cfg.update(top)
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return str(path)


@pytest.mark.parametrize(
    "method,needle",
    [
        ({"teacher": "runs/no_such_teacher"}, "method.teacher runs/no_such_teacher: run folder"),
        ({"teacher": "zoo:digits-edm"}, "is a 'images' model; this run is 'toy'"),
        ({"teacher": None}, "mode 'distill' needs method.teacher"),
        ({"sigma_min": 0.002}, "must lie within it"),
        ({"sample_sigmas": [0.5, 0.9]}, "must descend strictly"),
    ],
)
def test_bad_teacher_one_line(tmp_path, capsys, method, needle):
    path = _write(tmp_path, method)
    sets = [a for s in FAST for a in ("--set", s)]
    assert main(["train", path, "--out", str(tmp_path / "r"), *sets]) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "r" / "checkpoints").exists()


def test_config_steps_beyond_the_levels(tmp_path):
    path = _write(tmp_path, {}, sample={"sampler": "consistency", "steps": 50})
    with pytest.raises(DomainError, match="sample.steps: a consistency model samples in 1 to 2"):
        api.train(path, out=tmp_path / "r", overrides=FAST)


def test_teacher_of_another_shape(tmp_path, capsys):
    """An images student on 8x8 digits cannot follow the 16x16 digits teacher."""
    cfg = {
        "domain": "images",
        "data": {"name": "digits", "params": {"size": 8}, "batch_size": 8, "conditional": True},
        "model": {"name": "unet", "params": {"channels": 8, "channel_mult": [1],
                                             "num_res_blocks": 1, "attn_resolutions": []}},
        "method": {"name": "consistency", "mode": "distill", "teacher": "zoo:digits-edm"},
        "train": {"steps": 1, "progress": False, "tensorboard": False},
        "sample": {"sampler": "consistency", "steps": 1, "n": 4},
        "eval": {"n_samples": 4},
    }  # fmt: skip
    path = tmp_path / "img.yaml"
    path.write_text(yaml.safe_dump(cfg))
    assert main(["train", str(path), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip()
    assert "makes states of shape [1, 16, 16]" in err and len(err.splitlines()) == 1

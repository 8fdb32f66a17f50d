"""The CLI end to end on the toy domain, and its answers to bad input: one line naming the
thing, exit status 2, no traceback, nothing half written."""

import json
import subprocess
import sys

import pytest
import torch
import yaml

from multigen.cli import main
from multigen.domain import DomainError
from tests.train.helpers import tiny_config


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    cfg = root / "tiny.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config("edm", steps=4)))
    assert main(["train", str(cfg), "--out", str(root / "run"), "--set", "train.steps=5"]) == 0
    return root / "run"


def test_train_writes_run_folder(run_dir):
    assert json.loads((run_dir / "metrics.json").read_text())["energy_distance"] >= 0
    assert yaml.safe_load((run_dir / "config.yaml").read_text())["train"]["steps"] == 5


def test_sample_and_evaluate(run_dir, tmp_path, capsys):
    out = tmp_path / "s"
    assert (
        main(
            [
                "sample",
                str(run_dir),
                "--n",
                "40",
                "--sampler",
                "dpmpp_2m",
                "--steps",
                "5",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "40 samples (5 NFE)" in capsys.readouterr().out
    report = tmp_path / "m.json"
    assert (
        main(
            [
                "evaluate",
                "--domain",
                "toy",
                "--samples",
                str(out),
                "--reference",
                "eight_gaussians:test",
                "--out",
                str(report),
            ]
        )
        == 0
    )
    scores = json.loads(report.read_text())
    assert set(scores) >= {"energy_distance", "swd", "hq_fraction"}


def test_info_lists_domains(capsys):
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    assert "domain toy" in text and "dpmpp_2m" in text


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["sample", "/nonexistent/run"], "run folder not found: /nonexistent/run"),
        (["train", "/nonexistent.yaml"], "config file not found"),
        (
            ["evaluate", "--domain", "toy", "--samples", "/nope.npy", "--reference", "x"],
            "samples not found",
        ),
        (
            ["evaluate", "--domain", "sound", "--samples", "x", "--reference", "y"],
            "unknown domain 'sound'; choose one of",
        ),
        (["data", "prepare", "no_such_set"], "no preparable dataset"),
    ],
)
def test_bad_input_one_line(argv, needle, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "Traceback" not in err and len(err.splitlines()) == 1


def test_sample_bad_options(run_dir, tmp_path, capsys):
    assert main(["sample", str(run_dir), "--n", "0", "--out", str(tmp_path / "z")]) == 2
    assert (
        "sample options: n: Input should be greater than or equal to 1" in capsys.readouterr().err
    )
    assert not (tmp_path / "z").exists()
    assert main(["sample", str(run_dir), "--sampler", "plms"]) == 2
    assert "choose one of" in capsys.readouterr().err


def test_sample_options_reach_the_sampler(run_dir):
    """--schedule/--eta reach the sampler (different draws); torch.compile changes nothing."""
    from multigen import api

    run = api.load_run(run_dir, device="cpu")
    base = api.sample(run, n=16, sampler="ddim", steps=6, seed=3).batch.x
    stochastic = api.sample(run, n=16, sampler="ddim", steps=6, seed=3, eta=1.0).batch.x
    assert not torch.allclose(base, stochastic)
    compiled = api.sample(run, n=16, sampler="ddim", steps=6, seed=3, compile=True).batch.x
    torch.testing.assert_close(compiled, base, atol=1e-4, rtol=1e-4)
    with pytest.raises(DomainError, match="unknown schedule 'fast'; choose one of: default, kar"):
        api.sample(run, n=4, schedule="fast")
    with pytest.raises(DomainError, match="eta: Input should be greater than or equal to 0"):
        api.sample(run, n=4, sampler="ddim", eta=-1.0)
    with pytest.raises(DomainError, match="eta does not apply to sampler 'euler'.*ddim, dpm"):
        api.sample(run, n=4, sampler="euler", eta=1.0)
    with pytest.raises(DomainError, match="churn does not apply to sampler 'ddim'.*take it: heun"):
        api.sample(run, n=4, sampler="ddim", churn=10.0)
    # eta reaches dpmpp_2m_sde (its own default is 1): eta 0 is the deterministic dpmpp_2m
    sde0 = api.sample(run, n=16, sampler="dpmpp_2m_sde", steps=6, seed=3, eta=0.0).batch.x
    ode = api.sample(run, n=16, sampler="dpmpp_2m", steps=6, seed=3).batch.x
    sde = api.sample(run, n=16, sampler="dpmpp_2m_sde", steps=6, seed=3).batch.x
    torch.testing.assert_close(sde0, ode)
    assert not torch.allclose(sde, ode)


def test_churn_is_refused_for_flow_matching(tmp_path):
    from multigen import api

    cfg = tmp_path / "flow.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config("flow", steps=2)))
    run = api.train(cfg, tmp_path / "run")
    with pytest.raises(DomainError, match="churn does not apply to sampler 'heun' of method 'fl"):
        api.sample(run, n=4, sampler="heun", churn=5.0)
    # --schedule reaches the sampler: Karras levels differ from the flow's uniform t grid
    base = api.sample(run, n=8, steps=6, seed=3).batch.x
    karras = api.sample(run, n=8, steps=6, seed=3, schedule="karras").batch.x
    assert not torch.allclose(base, karras)


def test_config_typo_exit_code(tmp_path):
    cfg = tiny_config()
    cfg["train"]["stepz"] = 1
    path = tmp_path / "typo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    done = subprocess.run(
        [sys.executable, "-m", "multigen.cli", "train", str(path)], capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "unknown key 'train.stepz'" in done.stderr and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["evaluate", "--domain", "toy", "--samples", "x.npy", "--option", "k"], "KEY=VALUE"),
        (["evaluate", "--domain", "toy", "--samples", "x.npy", "--option", "a=["], "YAML"),
        (["benchmark", "qm9_conditional", "--option", "=1"], "KEY=VALUE"),
    ],
)
def test_bad_option_pairs_are_one_line(argv, needle, capsys):
    # evaluate and protocol benchmarks parse --option KEY=VALUE the same way (options.py)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and len(err.splitlines()) == 1

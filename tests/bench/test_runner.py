"""Runner behaviour on bad input: a failing cell is recorded and the matrix goes on, a
missing external program skips only its cells, --resume retries only what did not finish,
and Ctrl-C leaves finished cells saved."""

import json

import pytest
import yaml

from multigen.bench.runner import Runner
from multigen.cli import main

TINY = ["data.params={n: 400}", "data.batch_size=32"]


def suite_file(tmp_path, **extra):
    spec = {
        "name": "t",
        "train_steps": 4,
        "nfe": [2],
        "n_samples": 16,
        "gallery": 2,
        "threads": 1,
        "auto_domains": False,
        "variants": ["flow", "gan"],
        "domains": {
            "toy": {
                "reference": "eight_gaussians:test",
                "set": TINY,
                "methods": {
                    "flow": {
                        "config": "configs/toy/eight_gaussians_flow.yaml",
                        "set": ["model.params={width: 16, depth: 1}"],
                    },
                    # a generator network the toy domain does not have: training fails
                    "gan": {
                        "config": "configs/toy/eight_gaussians_gan.yaml",
                        "set": ["model.name=no_such_generator"],
                    },
                },
            },
            "toy_tool": {
                "domain": "toy",
                "requires": ["multigen-no-such-program"],
                "methods": {"flow": {"config": "configs/toy/eight_gaussians_flow.yaml"}},
            },
        },
    }
    spec.update(extra)
    path = tmp_path / "suite.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def cells(out):
    return {p.stem: json.loads(p.read_text()) for p in (out / "cells").glob("*.json")}


def test_failure_is_recorded_and_missing_program_skips(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["benchmark", str(suite_file(tmp_path)), "--out", str(out)]) == 0
    got = cells(out)
    assert got["toy__flow__nfe0002"]["status"] == "ok"
    gan = got["toy__gan__nfe0001"]
    assert gan["status"] == "failed" and gan["phase"] == "train"
    assert "no_such_generator" in gan["error"] and "mlp_generator" in gan["error"]
    skipped = [c for k, c in got.items() if k.startswith("toy_tool__")]
    assert skipped and all(c["status"] == "skipped" for c in skipped)
    assert "multigen-no-such-program" in skipped[0]["reason"]
    res = json.loads((out / "results.json").read_text())
    assert (res["ok"], res["failed"], res["skipped"]) == (1, 1, 2)
    assert "failed (train)" in (out / "results.md").read_text()
    # the gallery holds the domain's own export of the first samples
    assert any(f.endswith("samples.png") for f in got["toy__flow__nfe0002"]["gallery"])

    capsys.readouterr()
    assert main(["benchmark", str(suite_file(tmp_path)), "--out", str(out), "--resume"]) == 0
    log = capsys.readouterr().out
    assert "[toy/flow] all 1 cells finished earlier" in log
    assert "[toy/gan] failed before sampling" in log  # failed cells are tried again

    # a changed training config makes the stored cells stale: retrained and re-run
    changed = suite_file(tmp_path, set=["train.lr=0.002"])
    assert main(["benchmark", str(changed), "--out", str(out), "--resume"]) == 0
    log = capsys.readouterr().out
    assert "[toy/flow] training 4 steps" in log and "all 1 cells finished earlier" not in log


def test_ctrl_c_keeps_finished_cells(tmp_path, monkeypatch, capsys):
    calls = []
    original = Runner.run_cell

    def interrupt_second(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return original(self, *args, **kwargs)

    monkeypatch.setattr(Runner, "run_cell", interrupt_second)
    path = suite_file(tmp_path, nfe=[2, 4], variants=["flow"])
    out = tmp_path / "out"
    assert main(["benchmark", str(path), "--domains", "toy", "--out", str(out)]) == 130
    assert list(cells(out)) == ["toy__flow__nfe0002"]
    assert json.loads((out / "results.json").read_text())["interrupted"] is True
    assert "--resume" in capsys.readouterr().out

    monkeypatch.setattr(Runner, "run_cell", original)
    assert main(["benchmark", str(path), "--domains", "toy", "--out", str(out), "--resume"]) == 0
    assert set(cells(out)) == {"toy__flow__nfe0002", "toy__flow__nfe0004"}


@pytest.mark.parametrize(
    "argv, words",
    [
        (["benchmark", "nosuch"], ["unknown benchmark suite", "smoke", "cpu", "gpu"]),
        (["benchmark", "smoke", "--domains", "nosuch"], ["unknown domain", "toy", "images"]),
        (["benchmark", "smoke", "--methods", "nosuch"], ["unknown method", "edm_heun", "dpmpp"]),
        # a protocol benchmark took --set/--scale/... and ignored them
        (["benchmark", "qm9_conditional", "--set", "a=1", "--scale", "2"], ["--set, --scale"]),
        (["benchmark", "qm9_conditional", "--domains", "toy"], ["suites only", "--option"]),
    ],
)
def test_unknown_names_list_the_valid_ones(argv, words, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    for w in words:
        assert w in err
    assert not (tmp_path / "o").exists()

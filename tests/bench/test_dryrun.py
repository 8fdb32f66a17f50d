"""--dry-run: configs load, data and networks build, one step runs, nothing is benchmarked;
a paper-sized config whose data files are absent still starts (on the embedded data) and
says so."""

import json

import pytest
import yaml

from multigen.cli import main


def test_dry_run_substitutes_missing_data(tmp_path, capsys):
    spec = {
        "name": "dry",
        "train_steps": 100000,
        "nfe": [1],
        "n_samples": 8,
        "threads": 1,
        "auto_domains": False,
        "variants": ["gan"],
        "domains": {
            "images": {
                "set": [
                    "data.name=folder",
                    f"data.path={tmp_path / 'cifar10'}",
                    "data.params={size: 32, channels: 3}",
                ],
                "methods": {
                    "gan": {
                        "config": "configs/images/digits_gan.yaml",
                        "set": [
                            "model.params={latent_dim: 8, channels: 8, norm: batch}",
                            "discriminator.params={channels: 8, projection: true}",
                        ],
                    }
                },
            }
        },
    }
    path = tmp_path / "dry.yaml"
    path.write_text(yaml.safe_dump(spec))
    out = tmp_path / "out"
    assert main(["benchmark", str(path), "--dry-run", "--out", str(out)]) == 0
    (job,) = json.loads((out / "dryrun.json").read_text())["jobs"]
    assert job["status"] == "ok"
    assert "not present" in job["data_note"] and "'digits'" in job["data_note"]
    assert job["parameters"]["generator"] > 0 and job["parameters"]["discriminator"] > 0
    assert job["train_steps_paper"] == 100000
    assert not (out / "cells").exists()  # a dry run benchmarks nothing
    assert "1/1 jobs start" in capsys.readouterr().out


@pytest.mark.slow
def test_gpu_suite_starts_on_cpu(tmp_path):
    """Every paper-sized (domain, method) of the gpu suite builds and takes a step (minutes)."""
    out = tmp_path / "gpu"
    main(["benchmark", "gpu", "--dry-run", "--threads", "1", "--out", str(out)])
    jobs = json.loads((out / "dryrun.json").read_text())["jobs"]
    failed = {f"{j['domain']}/{j['method']}": j.get("error") for j in jobs if j["status"] != "ok"}
    assert not failed

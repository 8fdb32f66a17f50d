"""Data parallelism under torchrun with 2 CPU processes (gloo): ranks stay identical and
match a 1-process run with the same global batch."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_worker.py")


def launch(out: Path, nproc: int, method: str) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, str(WORKER), str(out), method]
    if nproc > 1:
        cmd[1:1] = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    if done.returncode != 0 and "SIGABRT" in done.stderr:
        # Known intermittent abort of a gloo rank in long full-suite runs (cause not found
        # yet; never seen when the test runs alone): one retry, then fail with both logs.
        first = done.stderr
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
        if done.returncode != 0:
            done.stderr = first[:3000] + "\n=== retry ===\n" + done.stderr
    # the workers' own errors come first, torchrun's summary last: keep both
    assert done.returncode == 0, done.stderr[:4000] + "\n...\n" + done.stderr[-1500:]


@pytest.mark.parametrize("method", ["edm", "gan"])
def test_two_processes_match_one(tmp_path, method):
    launch(tmp_path / "one", 1, method)
    launch(tmp_path / "two", 2, method)
    single = load_file(str(tmp_path / "one" / "rank0.safetensors"))
    r0 = load_file(str(tmp_path / "two" / "rank0.safetensors"))
    r1 = load_file(str(tmp_path / "two" / "rank1.safetensors"))
    for k in single:
        assert torch.equal(r0[k], r1[k]), f"ranks differ at {k}"
        # Gradient averaging reorders float sums: equal within float32 round-off.
        assert torch.allclose(single[k], r0[k], atol=1e-5, rtol=1e-4), k

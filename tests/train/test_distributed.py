"""Data parallelism under torchrun with 2 CPU processes (gloo): ranks stay identical and
match a 1-process run with the same global batch."""

import os
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

WORKER = Path(__file__).with_name("ddp_worker.py")


ABORT_LOG = Path(__file__).resolve().parents[2] / ".cache" / "ddp_abort.log"


def launch(out: Path, nproc: int, method: str) -> None:
    # faulthandler: a rank that aborts prints its Python stack (where gloo/c10d gave up)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1"}
    cmd = [sys.executable, str(WORKER), str(out), method]
    if nproc > 1:
        cmd[1:1] = ["-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=240)
    if done.returncode != 0 and "SIGABRT" in done.stderr:
        # An intermittent SIGABRT of a gloo rank was seen in 2 of 3 full-suite runs (Nov 27,
        # before the worker's barrier-before-teardown); not reproduced since in 86 launches
        # (alone, with the full suite's environment, under CPU load), nor on Dec 2 in 60
        # launches made to provoke it (40 exiting without barrier or destroy_process_group,
        # 20 destroying without a barrier; load 5-6): the suspected teardown race is not
        # confirmed, and with no failing run there is no stack to read. Keep the evidence:
        # the whole stderr (with the faulthandler stack) goes to ABORT_LOG and a warning,
        # then one retry; a second abort fails with both logs.
        first = done.stderr
        ABORT_LOG.parent.mkdir(parents=True, exist_ok=True)
        with open(ABORT_LOG, "a") as fh:
            fh.write(f"=== {time.strftime('%Y-%m-%d %H:%M:%S')} {cmd}\n{first}\n")
        warnings.warn(
            f"gloo rank SIGABRT (stderr kept in {ABORT_LOG}); retrying once", stacklevel=2
        )
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

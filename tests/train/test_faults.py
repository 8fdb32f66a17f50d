"""Faults a long run meets: kill -9 at any moment (inside checkpoint writes included) and a
full disk. Every killed run resumes to the same weights as an uninterrupted one; a full disk
is one line naming the checkpoint, with the last good checkpoint intact."""

import errno
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
import yaml

from multigen.cli import main
from multigen.train import checkpoint as ckpt
from multigen.train.lock import LOCK_NAME

from .helpers import tiny_config

KILL_TRIALS = 20
KILL_STEPS = 150  # with a checkpoint every step, most of a run is steps and checkpoint writes
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}


def write_config(path: Path, steps: int, **train) -> Path:
    # a checkpoint every step: a kill lands inside a checkpoint write often
    cfg = tiny_config("ddpm", steps=steps, checkpoint_every=1, keep_last=2, **train)
    path.write_text(yaml.safe_dump(cfg))
    return path


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "multigen.cli", *args]


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    last = ckpt.latest_checkpoint(run)
    assert last is not None
    return ckpt.load_weights(last)


def leftovers(run: Path) -> list[str]:
    """Temporary files a resumed run should have cleaned up (or never left)."""
    names = [p.name for p in (run / "checkpoints").glob(".*")]
    names += [p.name for p in run.glob(".*.tmp")]
    return names


def kill_and_resume(config: Path, run: Path, delay: float) -> str:
    """Start training, SIGKILL it after ``delay`` s, then resume until it finishes.
    Returns where the kill landed (for the failure message)."""
    child = subprocess.Popen(
        cli("train", str(config), "--out", str(run)),
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(delay)
    child.send_signal(signal.SIGKILL)
    child.wait()
    last = ckpt.latest_checkpoint(run)
    landed = f"killed after {delay:.2f} s at {last.name if last else 'no checkpoint'}"
    args = ["train", str(config), "--out", str(run)] + (["--resume"] if last else [])
    done = subprocess.run(cli(*args), env=ENV, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{landed}: resume failed: {done.stderr[-2000:]}"
    return landed


def reference_run(config: Path, run: Path) -> tuple[float, float]:
    """Train uninterrupted; returns (seconds until the first checkpoint, whole run)."""
    start = time.perf_counter()
    child = subprocess.Popen(
        cli("train", str(config), "--out", str(run)),
        env=ENV,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    first = None
    while child.poll() is None:
        if first is None and ckpt.latest_checkpoint(run) is not None:
            first = time.perf_counter() - start
        time.sleep(0.05)
    assert child.returncode == 0
    span = time.perf_counter() - start
    return (first if first is not None else 0.3), span


@pytest.mark.slow
def test_kill_9_at_random_moments_always_resumes_exactly(tmp_path):
    config = write_config(tmp_path / "c.yaml", steps=KILL_STEPS)
    ref = tmp_path / "ref"
    # kills land between the first checkpoint and the end: steps, checkpoint writes, pruning
    # of old checkpoints, the final sampling and scoring (start-up has nothing to lose)
    first, span = reference_run(config, ref)
    expected = final_weights(ref)
    rng = random.Random(19)
    for trial in range(KILL_TRIALS):
        run = tmp_path / f"t{trial}"
        landed = kill_and_resume(config, run, rng.uniform(0.8 * first, span))
        got = final_weights(run)
        assert got.keys() == expected.keys(), landed
        for k in expected:
            assert torch.equal(got[k], expected[k]), f"trial {trial} ({landed}): {k} differs"
        assert (run / "metrics.json").is_file(), landed
        assert not leftovers(run), f"{landed}: left {leftovers(run)}"
        assert not (run / LOCK_NAME).exists(), landed
        shutil.rmtree(run)


def fake_full_disk(*args, **kwargs):
    """safetensors' writer on a full disk: part of the file, then ENOSPC."""
    Path(args[1]).write_bytes(b"\0" * 100)
    raise OSError(errno.ENOSPC, "No space left on device", args[1])


def test_full_disk_during_checkpoint_is_one_line_and_keeps_last_good(tmp_path, monkeypatch, capsys):
    config = write_config(tmp_path / "c.yaml", steps=2)
    run = tmp_path / "run"
    assert main(["train", str(config), "--out", str(run)]) == 0
    good = ckpt.latest_checkpoint(run)
    before = ckpt.load_weights(good)
    capsys.readouterr()
    monkeypatch.setattr(ckpt, "save_file", fake_full_disk)
    write_config(config, steps=4)
    assert main(["train", str(config), "--out", str(run), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err
    assert "No space left on device" in err[0] and good.name in err[0], err[0]
    assert "step_00000003" in err[0]  # names the checkpoint it could not write
    assert ckpt.latest_checkpoint(run) == good
    after = ckpt.load_weights(good)
    assert all(torch.equal(before[k], after[k]) for k in before)
    assert not leftovers(run)
    monkeypatch.undo()  # space freed: the run continues from the intact checkpoint
    assert main(["train", str(config), "--out", str(run), "--resume"]) == 0
    assert ckpt.read_meta(ckpt.latest_checkpoint(run))["step"] == 4


def test_stale_temporaries_are_removed_by_the_next_save(tmp_path):
    config = write_config(tmp_path / "c.yaml", steps=2)
    run = tmp_path / "run"
    assert main(["train", str(config), "--out", str(run)]) == 0
    (run / "checkpoints" / ".tmp_killed").mkdir()  # what a kill inside a write leaves
    (run / "checkpoints" / ".tmp_killed" / "weights.safetensors").write_bytes(b"\0")
    (run / "checkpoints" / ".old_best_x").mkdir()
    write_config(config, steps=3)
    assert main(["train", str(config), "--out", str(run), "--resume"]) == 0
    assert not leftovers(run)


REAL_DISK_FULL = """
import os, sys
from pathlib import Path
from multigen.cli import main
cfg, more, run = sys.argv[1], sys.argv[2], Path(sys.argv[3])
assert main(["train", cfg, "--out", str(run)]) == 0
# fill the small filesystem, then ask for more steps
with open(run.parent / "filler", "wb") as fh:
    try:
        while True:
            fh.write(b"\\0" * 65536)
            fh.flush()
    except OSError:
        pass
code = main(["train", more, "--out", str(run), "--resume"])
print("EXIT", code, flush=True)
"""


def test_real_full_disk_on_a_small_tmpfs(tmp_path):
    """The same on a real 4 MiB tmpfs (a private mount namespace; skipped where unshare is not
    allowed)."""
    if not shutil.which("unshare"):
        pytest.skip("needs unshare (util-linux) for a private tmpfs")
    probe = subprocess.run(
        ["unshare", "-rm", "sh", "-c", f"mount -t tmpfs -o size=1m tmpfs {tmp_path}"],
        capture_output=True,
    )
    if probe.returncode != 0:
        pytest.skip("unshare cannot mount a private tmpfs here (no user namespaces)")
    conf = tmp_path / "conf"
    conf.mkdir()
    write_config(conf / "c.yaml", steps=2)
    write_config(conf / "c2.yaml", steps=4)
    disk = tmp_path / "disk"
    disk.mkdir()
    script = tmp_path / "fill.py"
    script.write_text(REAL_DISK_FULL)
    run = disk / "run"
    inner = (
        f"mount -t tmpfs -o size=4m tmpfs {disk} && "
        f"{sys.executable} {script} {conf / 'c.yaml'} {conf / 'c2.yaml'} {run}; "
        f"ls -a {run / 'checkpoints'}; "
        f'{sys.executable} -c "from multigen.train import checkpoint as c; from pathlib '
        f"import Path; p = c.latest_checkpoint(Path('{run}')); c.load_weights(p); "
        f"c.load_state(p); print('INTACT', p.name)\""
    )
    done = subprocess.run(
        ["unshare", "-rm", "sh", "-c", inner], env=ENV, capture_output=True, text=True, timeout=600
    )
    out, err = done.stdout, done.stderr
    assert "EXIT 2" in out, out + err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and "No space left on device" in lines[0], err[-3000:]
    assert "INTACT step_00000002" in out, out + err[-3000:]
    assert ".tmp_" not in out  # no half-written temporary folder left

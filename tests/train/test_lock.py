"""One trainer per run folder: a live owner refuses a second one by pid; a lock left by a
killed process is taken over."""

import os
import signal
import subprocess
import sys

import pytest

from multigen import api, cli
from multigen.train.lock import LOCK_NAME, RunLocked, acquire, release, run_lock
from tests.train.helpers import tiny_config

HOLDER = """
import sys, time
from multigen.train.lock import acquire
fd, _ = acquire(sys.argv[1])
print("locked", flush=True)
time.sleep(600)
"""


def hold_in_child(run_dir):
    child = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(run_dir)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "locked"
    return child


def test_second_holder_is_refused_with_owner_pid(tmp_path):
    child = hold_in_child(tmp_path / "run")
    try:
        with pytest.raises(RunLocked, match=f"pid {child.pid}"):
            acquire(tmp_path / "run")
    finally:
        child.kill()
        child.wait()


def test_stale_lock_of_killed_process_is_taken_over(tmp_path, capsys):
    run = tmp_path / "run"
    child = hold_in_child(run)
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert (run / LOCK_NAME).is_file()  # the file stays behind; the kernel dropped the lock
    with run_lock(run):
        assert f"left by pid {child.pid}" in capsys.readouterr().out
        with pytest.raises(RunLocked, match=f"pid {os.getpid()}"):
            acquire(run)  # and now it is ours
    assert not (run / LOCK_NAME).exists()  # released cleanly


def test_release_removes_the_file_and_relock_works(tmp_path):
    fd, stale = acquire(tmp_path)
    assert stale == {}
    release(tmp_path, fd)
    assert not (tmp_path / LOCK_NAME).exists()
    fd, stale = acquire(tmp_path)
    assert stale == {}
    release(tmp_path, fd)


def test_refused_run_leaves_no_folder(tmp_path):
    run = tmp_path / "new"
    with pytest.raises(ValueError), run_lock(run):
        raise ValueError("config problem")
    assert not run.exists()


def test_cli_train_refused_while_another_trains(tmp_path, capsys):
    import yaml

    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config("flow", steps=2)))
    run = tmp_path / "run"
    child = hold_in_child(run)
    try:
        assert cli.main(["train", str(cfg), "--out", str(run)]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and f"pid {child.pid}" in err[0] and str(run) in err[0]
        assert not (run / "checkpoints").exists()  # the refused trainer wrote nothing
    finally:
        child.kill()
        child.wait()
    api.train(tiny_config("flow", steps=2), out=run)  # the holder is gone: trains
    assert (run / "metrics.json").is_file()
    assert not (run / LOCK_NAME).exists()

"""One training process per run folder: ``RUN/.lock`` held with ``flock`` while it trains.

The kernel drops an ``flock`` when its process ends however it ends (kill -9 included), so a
lock left by a dead process is free by construction: the next ``multigen train`` takes it
over and says whose it was. A live owner is named by pid and host in the refusal.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from multigen.domain import DomainError

LOCK_NAME = ".lock"


class RunLocked(DomainError):
    """Another live process is training into the same run folder."""


def _owner(fd: int) -> dict:
    try:
        os.lseek(fd, 0, os.SEEK_SET)
        return json.loads(os.read(fd, 4096).decode() or "{}")
    except (OSError, ValueError):
        return {}


def _same_file(fd: int, path: Path) -> bool:
    """The path still names the file we locked (a releasing owner unlinks it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    return os.fstat(fd).st_ino == st.st_ino and os.fstat(fd).st_dev == st.st_dev


def acquire(run_dir: str | Path) -> tuple[int, dict]:
    """Lock ``run_dir`` for this process; returns the open descriptor and the previous
    owner's record when a stale lock was taken over (empty otherwise)."""
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _owner(fd)
            os.close(fd)
            who = f"pid {owner.get('pid', '?')}"
            if owner.get("host"):
                who += f" on {owner['host']}"
            if owner.get("started"):
                who += f", started {owner['started']}"
            raise RunLocked(
                f"{run_dir} is in use by another multigen train ({who}); wait for it to "
                "finish, stop it, or choose another --out"
            ) from None
        if not _same_file(fd, path):  # lost a race with a releasing owner: try again
            os.close(fd)
            continue
        stale = _owner(fd)
        record = {
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        os.ftruncate(fd, 0)
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, json.dumps(record).encode())
        os.fsync(fd)
        return fd, stale


def release(run_dir: str | Path, fd: int) -> None:
    """Remove the lock file (while still holding it, so no one locks a dead file) and unlock."""
    try:
        if _same_file(fd, Path(run_dir) / LOCK_NAME):
            Path(run_dir, LOCK_NAME).unlink(missing_ok=True)
    finally:
        os.close(fd)


@contextmanager
def run_lock(run_dir: str | Path, main: bool = True) -> Iterator[None]:
    """Hold the run folder's lock for the body (only the main process of a torchrun job
    locks; ``main`` is false on the other ranks)."""
    if not main:
        yield
        return
    created = not Path(run_dir).exists()
    fd, stale = acquire(run_dir)
    if stale.get("pid") and stale.get("pid") != os.getpid():
        print(
            f"taking over the lock of {run_dir} left by pid {stale['pid']} "
            f"({stale.get('host', '?')}), which is no longer running",
            flush=True,
        )
    try:
        yield
    finally:
        release(run_dir, fd)
        if created and not any(Path(run_dir).iterdir()):
            Path(run_dir).rmdir()  # a run refused before it wrote anything leaves no folder

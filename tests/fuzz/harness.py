"""The fuzzing contract, shared by tests/fuzz and benchmarks/reliability.py.

Every reader, given any bytes, either returns finite data or raises one of the suite's user
errors (DomainError, ConfigError, CheckpointError: status 2 from the CLI) whose message names
the file and fits on one line. Each case runs under a time limit and an address-space cap,
so a hang or an allocation driven by a declared size is caught as a violation, not suffered.
"""

from __future__ import annotations

import contextlib
import math
import resource
import signal
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from multigen.config import ConfigError
from multigen.domain import DomainError
from multigen.train.checkpoint import CheckpointError

USER_ERRORS = (DomainError, ConfigError, CheckpointError)
TIME_LIMIT_S = 30  # far above any honest read of these small inputs
MEMORY_CAP = 3 * 2**30  # extra address space a case may take


class Violation(AssertionError):
    """A reader broke the contract."""


class Hang(BaseException):  # BaseException: a reader's `except Exception` cannot swallow it
    pass


@contextlib.contextmanager
def limits(seconds: int = TIME_LIMIT_S, extra_bytes: int = MEMORY_CAP) -> Iterator[None]:
    def alarm(signum, frame):
        raise Hang(f"no answer within {seconds} s")

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    used = _address_space()
    cap = used + extra_bytes if used else resource.RLIM_INFINITY
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    old = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(seconds)
    resource.setrlimit(resource.RLIMIT_AS, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _address_space() -> int:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _nonfinite(out: Any, depth: int = 0) -> bool:
    """Whether any float array reachable from ``out`` holds NaN/inf."""
    if depth > 3:
        return False
    if isinstance(out, torch.Tensor):
        return out.is_floating_point() and not bool(torch.isfinite(out).all())
    if isinstance(out, np.ndarray):
        return out.dtype.kind in "fc" and not bool(np.isfinite(out).all())
    if isinstance(out, float):
        return not math.isfinite(out)
    if isinstance(out, list | tuple):
        return any(_nonfinite(x, depth + 1) for x in out[:64])
    if isinstance(out, dict):
        return any(_nonfinite(x, depth + 1) for x in list(out.values())[:64])
    fields = getattr(out, "__dict__", None)
    if fields:
        return any(_nonfinite(x, depth + 1) for x in fields.values())
    return False


def check(read: Callable[[Path], Any], path: Path, names: tuple[str, ...] = ()) -> str:
    """Run one case; returns ``"ok"`` or ``"refused"``, raises :class:`Violation`."""
    named = names or (path.name,)
    try:
        with limits():
            out = read(path)
    except USER_ERRORS as exc:
        msg = str(exc)
        if not any(n in msg for n in named):
            raise Violation(f"error does not name {named[0]}: {type(exc).__name__}: {msg}") from exc
        lines = msg.strip().splitlines()
        # a config lists one line per problem, each naming the file; others say one thing
        several = isinstance(exc, ConfigError) and all(any(n in ln for n in named) for ln in lines)
        if len(lines) > 1 and not several:
            raise Violation(f"error is not one line: {msg!r}") from exc
        return "refused"
    except Hang as exc:
        raise Violation(f"hang: {exc}") from None
    except MemoryError as exc:
        raise Violation(f"out of memory (a declared size was trusted): {exc}") from None
    except RecursionError as exc:
        raise Violation(f"recursion: {exc}") from None
    except Exception as exc:  # anything else is a traceback for the user
        if "can't allocate memory" in str(exc) or "not enough memory" in str(exc):
            raise Violation(f"out of memory (a declared size was trusted): {exc}") from None
        raise Violation(f"{type(exc).__name__}: {str(exc)[:300]}") from exc
    if _nonfinite(out):
        raise Violation("returned NaN or infinite values without a word")
    return "ok"


class Tally:
    """Outcomes per reader (for the benchmark's table)."""

    def __init__(self) -> None:
        self.counts: dict[str, Counter] = {}
        self.failures: dict[str, list[str]] = {}

    def add(self, reader: str, outcome: str) -> None:
        self.counts.setdefault(reader, Counter())[outcome] += 1

    def fail(self, reader: str, message: str) -> None:
        self.add(reader, "violation")
        self.failures.setdefault(reader, []).append(message)


# ---- mutations -----------------------------------------------------------------------------


def mutate(seed: bytes, ops: list[tuple[str, int, bytes]]) -> bytes:
    """Apply mutation ops to a valid file's bytes. An op is (kind, position, payload)."""
    data = bytearray(seed)
    for kind, pos, payload in ops:
        at = pos % (len(data) + 1)
        if kind == "truncate":
            del data[at:]
        elif kind == "overwrite":
            data[at : at + len(payload)] = payload
        elif kind == "insert":
            data[at:at] = payload
        elif kind == "tail":  # keep the header, random bytes behind it
            data[at:] = payload
        elif kind == "number":  # text formats: replace the number at/after pos
            data = bytearray(_replace_number(bytes(data), at, payload))
        elif kind == "empty":
            data = bytearray()
    return bytes(data)


NUMBERS = [
    b"nan",
    b"inf",
    b"-inf",
    b"NaN",
    b"1e308",
    b"-1",
    b"0",
    b"99999999999",
    b"100000000000",
    b"4294967297",
    b"2147483648",
    b"1e400",
    b"3.5",
    b"-0",
    b"",
    b"x",
]


def _replace_number(data: bytes, at: int, payload: bytes) -> bytes:
    i = at
    while i < len(data) and not (chr(data[i]).isdigit()):
        i += 1
    if i >= len(data):
        return data
    j = i
    while j < len(data) and (chr(data[j]).isdigit() or data[j] in b".eE+-"):
        j += 1
    return data[:i] + payload + data[j:]

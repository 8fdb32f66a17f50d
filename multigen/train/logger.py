"""Run logging: JSONL lines, TensorBoard events when installed, and progress a user sees.

Progress goes to stdout: a rich bar with ETA in a terminal; when stdout is redirected (a
log file, CI, ``nohup``) a rich bar only renders at the end, so plain lines are printed
instead — one per ``log_every`` and at least one a minute.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    h, rem = divmod(seconds, 3600)
    m, s = divmod(rem, 60)
    return f"{h}h{m:02d}m{s:02d}s" if h else (f"{m}m{s:02d}s" if m else f"{s}s")


def interactive() -> bool:
    return sys.stdout.isatty()


class Progress:
    """Progress of one phase (``train``, ``sample``…) over ``total`` units.

    In a terminal: a rich bar. Otherwise: a plain line on :meth:`update` with ``force`` or
    when ``every_s`` seconds have passed since the last line, and one at :meth:`close`.
    """

    def __init__(
        self, label: str, total: int, unit: str = "", start: int = 0, every_s: float = 60.0
    ):
        self.label, self.total, self.unit, self.start = label, total, unit, start
        self.every_s = every_s
        self.done = self.printed = start
        self.status = ""
        self.t0 = self.last_line = time.perf_counter()
        self.bar = None
        if interactive():
            from rich.progress import (
                BarColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as RichProgress

            self.bar = RichProgress(
                TextColumn(f"[bold]{label}[/]"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TextColumn("{task.fields[status]}"),
                TimeElapsedColumn(),
                TextColumn("ETA"),
                TimeRemainingColumn(),
                transient=False,
            )
            self.bar.start()
            self.task = self.bar.add_task(label, total=total, completed=start, status="")

    def eta(self) -> float | None:
        rate = (self.done - self.start) / max(time.perf_counter() - self.t0, 1e-9)
        return (self.total - self.done) / rate if rate > 0 else None

    def line(self) -> str:
        pct = 100.0 * self.done / max(self.total, 1)
        eta = self.eta()
        unit = f" {self.unit}" if self.unit else ""
        parts = [f"{self.label} {self.done}/{self.total}{unit} ({pct:.0f}%)"]
        if self.status:
            parts.append(self.status)
        parts.append(f"elapsed {_duration(time.perf_counter() - self.t0)}")
        if eta is not None and self.done < self.total:
            parts.append(f"ETA {_duration(eta)}")
        return "  ".join(parts)

    def update(self, done: int, status: str | None = None, force: bool = False) -> None:
        self.done = done
        if status is not None:
            self.status = status
        if self.bar is not None:
            self.bar.update(self.task, completed=done, status=self.status)
            return
        now = time.perf_counter()
        if force or now - self.last_line >= self.every_s:
            print(self.line(), flush=True)
            self.last_line, self.printed = now, done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        elif self.done != self.printed:
            print(self.line(), flush=True)
            self.printed = self.done


def say(message: str) -> None:
    """A one-line notice (resuming, precision, phases), flushed at once."""
    print(message, flush=True)


class RunLogger:
    def __init__(self, run_dir: Path, active: bool, tensorboard: bool, progress: bool, total: int):
        self.active = active
        self.show = active and progress
        self.path = Path(run_dir) / "log.jsonl"
        self.total = total
        self.writer = None
        self.bar: Progress | None = None
        if not active:
            return
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(Path(run_dir) / "tb"))
            except ImportError:  # TensorBoard is an optional extra
                self.writer = None

    def say(self, message: str) -> None:
        if self.show:
            say(message)

    def start(self, step: int) -> None:
        if self.show:
            self.bar = Progress("train", self.total, "steps", start=step)

    def advance(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(step)

    def log(self, step: int, values: dict[str, Any]) -> None:
        if not self.active:
            return
        record = {"step": step, "time": time.time(), **values}
        with open(self.path, "a") as fh:
            fh.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for k, v in values.items():
                if isinstance(v, int | float):
                    self.writer.add_scalar(k, v, step)
        if self.bar is not None:
            shown = [f"{k}={v:.4g}" for k, v in values.items() if k.startswith("loss")]
            if "samples_per_s" in values:
                shown.append(f"{values['samples_per_s']:.0f} samples/s")
            if shown:
                self.bar.update(step, " ".join(shown), force=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None

"""Run logging: JSONL lines, TensorBoard events when installed, a rich progress bar."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class RunLogger:
    def __init__(self, run_dir: Path, active: bool, tensorboard: bool, progress: bool, total: int):
        self.active = active
        self.path = Path(run_dir) / "log.jsonl"
        self.total = total
        self.writer = None
        self.bar = None
        self.task = None
        if not active:
            return
        Path(run_dir).mkdir(parents=True, exist_ok=True)
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.writer = SummaryWriter(str(Path(run_dir) / "tb"))
            except ImportError:  # TensorBoard is an optional extra
                self.writer = None
        if progress:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(
                TextColumn("[bold]train[/]"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TextColumn("{task.fields[status]}"),
                TimeRemainingColumn(),
                transient=False,
            )

    def start(self, step: int) -> None:
        if self.bar is not None:
            self.bar.start()
            self.task = self.bar.add_task("train", total=self.total, completed=step, status="")

    def advance(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(self.task, completed=step)

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
                self.bar.update(self.task, status=" ".join(shown))

    def close(self) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
        if self.writer is not None:
            self.writer.close()
            self.writer = None

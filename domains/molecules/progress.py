"""A rich progress bar on stderr for long preparation steps (or nothing when disabled)."""

from __future__ import annotations

from collections.abc import Callable


class progress_bar:
    """``with progress_bar(label, total, enabled) as advance: ... advance()`` per item."""

    def __init__(self, label: str, total: int, enabled: bool = True, every: int = 100):
        self.label, self.total, self.enabled, self.every = label, total, enabled, every
        self.bar = None

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda n=1: None
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        self.bar = Progress(
            TextColumn(self.label),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
        )
        self.bar.start()
        task = self.bar.add_task("work", total=self.total)
        count = [0]

        def advance(n: int = 1) -> None:
            count[0] += n
            if count[0] % self.every < n or count[0] >= self.total:
                self.bar.update(task, completed=count[0])

        return advance

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.stop()

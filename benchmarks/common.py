"""Shared helpers for benchmark scripts: machine facts and result files (JSON + Markdown)."""

from __future__ import annotations

import json
import platform
import time
from datetime import date
from pathlib import Path

import torch

from multigen.precision import cpu_bf16_features

RESULTS = Path(__file__).resolve().parent / "results"


def matmul_gflops(dtype: torch.dtype = torch.float32, n: int = 2048, repeats: int = 5) -> float:
    """The machine's measured dense matmul rate (the ceiling networks are compared against)."""
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else the architecture."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    return {
        "date": date.today().isoformat(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu": cpu_model(),
        "cpu_bf16": list(cpu_bf16_features()),  # bf16 figures hold on CPUs with these
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def write_results(
    name: str, data: dict, table: list[dict], title: str, notes: str = "", echo: bool = False
) -> None:
    """Write ``results/<name>.json`` (everything) and ``results/<name>.md`` (the table); with
    ``echo``, also print the notes and the rows."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps({"machine": machine(), **data}, indent=2))
    cols = list(table[0]) if table else []
    lines = [f"# {title}", "", f"{machine()}", ""]
    if notes:
        lines += [notes, ""]
    lines.append("| " + " | ".join(cols) + " |")
    lines.append("|" + "---|" * len(cols))
    for row in table:
        cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in row.values()]
        lines.append("| " + " | ".join(cells) + " |")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    if echo:
        print(notes)
        for row in table:
            print(row)

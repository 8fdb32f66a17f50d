"""Per-domain PNG plots: quality vs NFE, and quality vs wall-clock with its Pareto front."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullFormatter  # noqa: E402

from multigen.metrics.checks import BOOKKEEPING  # noqa: E402

from .tables import sort_key  # noqa: E402

# Metric name fragments where larger is better; everything else is read as lower-is-better.
HIGHER = (
    "precision",
    "recall",
    "coverage",
    "stability",
    "valid",
    "unique",
    "novel",
    "accuracy",
    "inception",
    "is",
    "mis",
    "hq_fraction",
    "modes_covered",
    "loglik",
    "density",
    "snn",
)


def quality_metric(
    quality: dict[str, Any] | None, cells: list[dict[str, Any]]
) -> tuple[str | None, str]:
    """The suite's declared metric, else the domain's first reported metric."""
    names = [k for c in cells for k in c.get("metrics", {}) if k not in BOOKKEEPING]
    if quality and quality.get("metric") in names:
        return quality["metric"], quality.get("better", "lower")
    if not names:
        return None, "lower"
    name = names[0]
    better = "higher" if any(name == h or name.startswith(h + "_") for h in HIGHER) else "lower"
    return name, better


def _value(cell: dict[str, Any], metric: str) -> float | None:
    v = cell.get("metrics", {}).get(metric)
    if not isinstance(v, int | float) or not math.isfinite(v):
        return None
    return float(v)


def pareto(points: list[tuple[float, float]], better: str) -> list[tuple[float, float]]:
    """Non-dominated (cost, quality) points, sorted by cost: cheaper or better than all others."""
    sign = 1 if better == "lower" else -1
    front, best = [], math.inf
    for cost, q in sorted(points, key=lambda p: (p[0], sign * p[1])):
        if sign * q < best:
            front.append((cost, q))
            best = sign * q
    return front


def _finish_axes(ax: Any, values: list[float]) -> None:
    """Log axes where the numbers span orders of magnitude; no cluttered minor labels."""
    x0, x1 = ax.dataLim.intervalx
    if x0 > 0 and x1 / x0 < 10:  # less than a decade: a log axis would have no labels
        ax.set_xscale("linear")
    else:
        ax.xaxis.set_minor_formatter(NullFormatter())
    pos = [v for v in values if v > 0]
    if pos and len(pos) == len(values) and max(pos) / min(pos) > 50:
        ax.set_yscale("log")


def _variants(cells: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for c in sorted(cells, key=sort_key):
        groups.setdefault(c["variant"], []).append(c)
    return groups


def plot_domain(
    domain: str,
    cells: list[dict[str, Any]],
    data_row: dict[str, Any] | None,
    quality: dict[str, Any] | None,
    out_dir: Path,
) -> list[Path]:
    ok = [c for c in cells if c.get("status") == "ok"]
    metric, better = quality_metric(quality, ok)
    if metric is None:
        return []
    floor = _value(data_row, metric) if data_row and data_row.get("status") == "ok" else None
    ylabel = f"{metric} ({better} is better)"
    out_dir.mkdir(parents=True, exist_ok=True)
    files = []

    values = [v for c in ok if (v := _value(c, metric)) is not None]
    values += [floor] if floor is not None else []
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for name, group in _variants(ok).items():
        pts = [(c["nfe"], _value(c, metric)) for c in group if _value(c, metric) is not None]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, marker="o", label=name)
    if floor is not None:
        ax.axhline(floor, color="k", ls="--", lw=1, label="data (held-out)")
    ax.set_xscale("log")
    _finish_axes(ax, values)
    ax.set_xlabel("NFE (network evaluations per sample)")
    ax.set_ylabel(ylabel)
    ax.set_title(f"{domain}: quality vs NFE")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    files.append(out_dir / f"{domain}_quality_vs_nfe.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.2), sharey=True)
    costs = {
        "sampling s / sample": lambda c: c["sample_seconds"] / max(c["n_samples"], 1),
        "train + sampling wall-clock (s)": lambda c: (
            (c.get("train") or {}).get("seconds", 0.0) + c["sample_seconds"]
        ),
    }
    for ax, (label, cost) in zip(axes, costs.items(), strict=True):
        all_pts = []
        for name, group in _variants(ok).items():
            pts = [(cost(c), _value(c, metric)) for c in group if _value(c, metric) is not None]
            if pts:
                xs, ys = zip(*pts)
                ax.scatter(xs, ys, label=name, s=28)
                all_pts += pts
        front = pareto(all_pts, better)
        if front:
            fx, fy = zip(*front)
            ax.step(fx, fy, where="post", color="k", lw=1.2, label="Pareto front")
        if floor is not None:
            ax.axhline(floor, color="k", ls="--", lw=1, label="data (held-out)")
        ax.set_xscale("log")
        _finish_axes(ax, values)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{domain}: quality vs wall-clock")
    fig.tight_layout()
    files.append(out_dir / f"{domain}_pareto.png")
    fig.savefig(files[-1], dpi=110)
    plt.close(fig)
    return files

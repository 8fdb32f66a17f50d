"""One table per domain (rows: the data floor, then every cell), shared by Markdown and HTML."""

from __future__ import annotations

import math
from typing import Any

from multigen.metrics.checks import BOOKKEEPING

MAX_METRICS = 8

VARIANT_ORDER = ["ddpm_ancestral", "ddim", "edm_heun", "dpmpp", "flow", "gan"]


def fmt(v: Any) -> str:
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        if math.isnan(v):
            return "nan"
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        a = abs(v)
        if a != 0 and (a >= 1e5 or a < 1e-3):
            return f"{v:.3g}"
        return f"{v:.4g}"
    return str(v)


def metric_columns(cells: list[dict[str, Any]], quality: str | None) -> list[str]:
    names: list[str] = []
    for c in cells:
        for k in c.get("metrics", {}):
            if k not in names and k not in BOOKKEEPING:
                names.append(k)
    if quality in names:
        names.remove(quality)
        names.insert(0, quality)
    return names[:MAX_METRICS]


def sort_key(cell: dict[str, Any]) -> tuple:
    v = cell.get("variant", "")
    order = VARIANT_ORDER.index(v) if v in VARIANT_ORDER else len(VARIANT_ORDER)
    return (order, v, cell.get("nfe") or cell.get("nfe_budget") or 0)


def domain_table(
    cells: list[dict[str, Any]], data_row: dict[str, Any] | None, quality: str | None
) -> tuple[list[str], list[list[str]], list[str]]:
    """Headers, rows and a status per row (``data``, ``ok``, ``failed``, ``skipped``)."""
    cells = sorted(cells, key=sort_key)
    sources = cells + ([data_row] if data_row and data_row.get("status") == "ok" else [])
    metrics = metric_columns(sources, quality)
    headers = ["method", "train", "sampler", "NFE", *metrics]
    headers += ["train s", "samples/s", "peak MiB (+phase)", "status"]
    rows, kinds = [], []
    if data_row and data_row.get("status") == "ok":
        m = data_row["metrics"]
        rows.append(
            [f"data ({data_row.get('split')} split)", "–", "–", "–"]
            + [fmt(m.get(k)) for k in metrics]
            + ["–", "–", "–", "floor"]
        )
        kinds.append("data")
    for c in cells:
        m = c.get("metrics", {})
        train = c.get("train") or {}
        peak = _peak(train, c)
        status = c["status"]
        if status == "failed":
            status = f"failed ({c.get('phase')}): {c.get('error', '')[:120]}"
        elif status == "skipped":
            status = f"skipped: {c.get('reason', '')}"
        elif status == "not_run":
            status = "not run (interrupted or pending)"
        rows.append(
            [
                c["variant"],
                c["train_method"],
                c["sampler"],
                fmt(c.get("nfe", c.get("nfe_budget"))),
                *[fmt(m.get(k)) for k in metrics],
                fmt(train.get("seconds")),
                fmt(c.get("samples_per_s")),
                peak,
                status,
            ]
        )
        kinds.append(c["status"])
    return headers, rows, kinds


def _peak(train: dict[str, Any], cell: dict[str, Any]) -> str:
    """Peak memory of training or sampling, whichever is larger, with the phase's growth."""
    pairs = [
        (train.get("peak_memory_mib"), train.get("peak_memory_delta_mib")),
        (cell.get("sample_peak_memory_mib"), cell.get("sample_peak_memory_delta_mib")),
    ]
    pairs = [p for p in pairs if p[0] is not None]
    if not pairs:
        return "–"
    peak, delta = max(pairs, key=lambda p: p[0])
    return f"{peak:.0f}" + (f" (+{delta:.0f})" if delta is not None else "")


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(esc(x) for x in r) + " |" for r in rows]
    return "\n".join(lines)


def best_cells(
    cells: list[dict[str, Any]], metric: str | None, better: str
) -> list[dict[str, Any]]:
    """Per training method, the ok cell with the best quality (ties: fewer NFE first)."""
    best: dict[str, dict[str, Any]] = {}
    sign = -1.0 if better == "higher" else 1.0
    for c in sorted(cells, key=sort_key):
        v = (c.get("metrics") or {}).get(metric) if metric else None
        if c.get("status") != "ok" or not isinstance(v, int | float) or math.isnan(v):
            continue
        method = c.get("train_method", "")
        old = best.get(method)
        if old is None or sign * v < sign * old["metrics"][metric]:
            best[method] = c
    return [best[m] for m in sorted(best, key=lambda m: sort_key(best[m]))]


def summary_table(summary: dict[str, Any], domains: list[str]) -> tuple[list[str], list[list[str]]]:
    """One row per (domain, training method): its best cell by the domain's quality metric,
    beside the data floor; answers "which method, at what NFE" at a glance."""
    headers = ["domain", "quality metric", "data floor", "method", "best at", "quality"]
    headers += ["samples/s", "train s"]
    rows = []
    for d in domains:
        metric, better = summary["quality_metric"][d]
        cells = [c for c in summary["cells"] if c["domain"] == d]
        floor = ((summary["data_rows"].get(d) or {}).get("metrics") or {}).get(metric)
        for c in best_cells(cells, metric, better):
            rows.append(
                [
                    d,
                    f"{metric} ({better} better)",
                    fmt(floor),
                    c.get("train_method", ""),
                    f"{c.get('variant')} @ {c.get('nfe')} NFE",
                    fmt(c["metrics"][metric]),
                    fmt(c.get("samples_per_s")),
                    fmt((c.get("train") or {}).get("seconds")),
                ]
            )
    return headers, rows

"""Collect the stored cells of an output folder into results.json, results.md, PNG plots
and report.html. Works from the files alone, so an interrupted or resumed run reports too."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from .plots import plot_domain, quality_metric
from .record import machine, versions, write_json
from .suite import ANCHORS_FILE, Suite
from .tables import domain_table, markdown_table, summary_table


def load_cells(out: Path) -> list[dict[str, Any]]:
    cells = []
    for path in sorted((out / "cells").glob("*.json")):
        try:
            cells.append(json.loads(path.read_text()))
        except (OSError, json.JSONDecodeError):
            continue  # a half-written file cannot exist (atomic writes), but be safe
    return cells


def load_data_rows(out: Path) -> dict[str, dict[str, Any]]:
    rows = {}
    for path in sorted((out / "data").glob("*.json")):
        try:
            rows[path.stem] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
    return rows


def load_anchors() -> dict[str, Any]:
    path = ANCHORS_FILE
    return yaml.safe_load(path.read_text()) if path.is_file() else {}


def pending_cells(suite: Suite, stored: set[str]) -> list[dict[str, Any]]:
    """Planned cells with no stored result (interrupted, or still running elsewhere)."""
    from .runner import cell_id

    out = []
    for d, v, k in suite.cells():
        cid = cell_id(d, v.name, k)
        if cid not in stored:
            out.append(
                {
                    "id": cid,
                    "suite": suite.name,
                    "domain": d,
                    "variant": v.name,
                    "train_method": v.train,
                    "sampler": v.sampler or "generator",
                    "nfe_budget": k,
                    "status": "not_run",
                }
            )
    return out


def write_outputs(
    out: Path, suite: Suite, wall_seconds: float | None = None, interrupted: bool = False
) -> dict[str, Any]:
    from .report import write_report

    out = Path(out)
    cells = [c for c in load_cells(out) if c.get("suite") == suite.name]
    cells += pending_cells(suite, {c["id"] for c in cells})
    data_rows = load_data_rows(out)
    domains = list(dict.fromkeys([*suite.domains, *(c["domain"] for c in cells)]))
    quality = {
        d: (
            suite.domains[d].quality.model_dump()
            if d in suite.domains and suite.domains[d].quality
            else None
        )
        for d in domains
    }
    plots: dict[str, list[str]] = {}
    for d in domains:
        dcells = [c for c in cells if c["domain"] == d]
        files = plot_domain(d, dcells, data_rows.get(d), quality[d], out / "plots")
        plots[d] = [str(f.relative_to(out)) for f in files]
    statuses = ("ok", "failed", "skipped", "not_run")
    counts = {s: sum(c["status"] == s for c in cells) for s in statuses}
    summary = {
        "suite": suite.name,
        "description": suite.description,
        "source": str(suite.source),
        "overrides": suite.overrides,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "interrupted": interrupted,
        "wall_seconds_this_invocation": wall_seconds,
        "machine": machine(),
        "versions": versions(),
        **counts,
        "quality_metric": {
            d: quality_metric(quality[d], [c for c in cells if c["domain"] == d]) for d in domains
        },
        "data_rows": data_rows,
        "plots": plots,
        "cells": cells,
    }
    write_json(out / "results.json", summary)
    (out / "results.md").write_text(results_markdown(summary, domains, quality))
    write_report(out, summary, domains, quality, load_anchors())
    return summary


def results_markdown(summary: dict[str, Any], domains: list[str], quality: dict[str, Any]) -> str:
    m, v = summary["machine"], summary["versions"]
    lines = [
        f"# Benchmark `{summary['suite']}`",
        "",
        summary["description"].strip(),
        "",
        f"{summary['created']} · {m.get('gpu') or 'CPU'} · {m['cpu_count']} cores · "
        f"load {m.get('load_avg_1m', '?')} · torch {v['torch']} · python {v['python']}",
        "",
        f"Cells: {summary['ok']} ok, {summary['failed']} failed, {summary['skipped']} skipped, "
        f"{summary['not_run']} not run"
        + (" (interrupted)" if summary["interrupted"] else "")
        + ". Each training method is trained once per domain with the same number of steps; "
        "the data row scores real held-out data against the same reference (the floor).",
        "",
    ]
    if summary.get("overrides"):
        sets = ", ".join(f"`{x}`" for x in summary["overrides"])
        lines += [f"Command-line overrides for every config: {sets}.", ""]
    headers, rows = summary_table(summary, domains)
    if rows:
        lines += [
            "## Summary: the best cell of each training method",
            "",
            markdown_table(headers, rows),
            "",
        ]
    for d in domains:
        cells = [c for c in summary["cells"] if c["domain"] == d]
        metric, better = summary["quality_metric"][d]
        headers, rows, _ = domain_table(cells, summary["data_rows"].get(d), metric)
        lines += [f"## {d}", ""]
        steps = sorted({(c.get("train") or {}).get("steps") for c in cells} - {None})
        if steps:
            lines += [f"Training budget: {', '.join(map(str, steps))} steps per method.", ""]
        if metric:
            lines += [f"Quality metric for the plots: `{metric}` ({better} is better).", ""]
        lines += [markdown_table(headers, rows), ""]
        for p in summary["plots"].get(d, []):
            lines += [f"![{d}]({p})", ""]
    return "\n".join(lines)


def publish(out: Path, dest: Path, name: str) -> list[Path]:
    """Copy the shareable outputs (tables, JSON, plots, report; not runs or sample files) to
    ``dest/<name>.md``, ``dest/<name>.json`` and ``dest/<name>/`` for committing."""
    import shutil

    out, dest = Path(out), Path(dest)
    folder = dest / name
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "plots").mkdir(parents=True)
    for png in sorted((out / "plots").glob("*.png")):
        shutil.copy2(png, folder / "plots" / png.name)
    shutil.copy2(out / "report.html", folder / "report.html")
    md = (out / "results.md").read_text().replace("](plots/", f"]({name}/plots/")
    (dest / f"{name}.md").write_text(md)
    shutil.copy2(out / "results.json", dest / f"{name}.json")
    return [dest / f"{name}.md", dest / f"{name}.json", folder]

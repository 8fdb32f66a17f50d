"""Benchmarks that are not sweeps: a paper's own protocol (EDM's conditional QM9 table, say),
run by ``multigen benchmark NAME`` like a suite.

A domain package registers one under the ``multigen.benchmarks`` entry-point group as
``NAME = "module:function"``; the engine never imports it by name. The function takes the
output folder and keyword options (``--option KEY=VALUE``) and returns a :class:`Protocol`
result: a title, one table (rows of column -> value), notes and any extra data. This module
writes ``results.json`` and ``results.md`` into the output folder and publishes them as the
suites' results are published.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from multigen.domain import DomainError
from multigen.fileio import atomic_write_text
from multigen.options import keyword_names, refuse_unknown

from .record import machine, versions
from .tables import fmt, markdown_table

GROUP = "multigen.benchmarks"


@dataclass
class ProtocolResult:
    title: str
    table: list[dict[str, Any]]
    notes: str = ""
    data: dict[str, Any] = field(default_factory=dict)


def protocol_names() -> list[str]:
    return sorted({ep.name for ep in entry_points(group=GROUP)})


def _function(name: str):
    found = [ep for ep in entry_points(group=GROUP) if ep.name == name]
    return found[0].load() if found else None


def is_protocol(name: str) -> bool:
    return name in protocol_names()


def check_options(name: str, fn, options: dict[str, Any]) -> None:
    """Refuse options the protocol's function does not take, listing the ones it does."""
    refuse_unknown(f"option(s) of benchmark {name}", options, keyword_names(fn, skip=("out",)))


def run_protocol(name: str, out: Path, options: dict[str, Any]) -> ProtocolResult:
    fn = _function(name)
    if fn is None:
        raise DomainError(f"unknown benchmark protocol {name!r}; known: {protocol_names()}")
    check_options(name, fn, options)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    result: ProtocolResult = fn(out=out, **options)
    env = {**machine(), **versions()}
    record = {
        "benchmark": name,
        "title": result.title,
        "options": options,
        "environment": env,
        "table": result.table,
        "notes": result.notes,
        **result.data,
    }
    atomic_write_text(out / "results.json", json.dumps(record, indent=2, default=str))
    cols = list(dict.fromkeys(k for row in result.table for k in row))
    rows = [[fmt(row.get(c)) for c in cols] for row in result.table]
    env_line = " · ".join(f"{k} {v}" for k, v in env.items() if v not in (None, ""))
    md = [f"# {result.title}", "", env_line, ""]
    md += [result.notes, ""] if result.notes else []
    md += [markdown_table(cols, rows), ""]
    atomic_write_text(out / "results.md", "\n".join(md))
    return result


def publish_protocol(out: Path, dest: Path, name: str) -> list[Path]:
    """Copy ``results.{md,json}`` to ``dest/<name>.{md,json}`` for committing."""
    dest.mkdir(parents=True, exist_ok=True)
    paths = [dest / f"{name}.md", dest / f"{name}.json"]
    shutil.copy2(out / "results.md", paths[0])
    shutil.copy2(out / "results.json", paths[1])
    return paths

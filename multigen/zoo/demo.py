"""``multigen demo``: sample and score every zoo model, train one small model end to end, and
write ``report.md`` + an offline ``report.html`` (pictures inlined) — a few minutes on 2 cores.
(``multigen demo --train-all`` trains every domain instead: ``multigen.train_all``.)
"""

from __future__ import annotations

import base64
import html
import json
import time
import warnings
from pathlib import Path
from typing import Any

from multigen.fileio import atomic_write_text
from multigen.metrics.checks import SmallSampleWarning
from multigen.zoo import store

PICTURES = ("grid.png", "samples.png", "samples_grid.png")  # what the domains' exporters draw


def _say(message: str) -> None:
    print(message, flush=True)


def _picture(folder: Path) -> Path | None:
    return next((folder / p for p in PICTURES if (folder / p).is_file()), None)


def sample_entry(name: str, out: Path) -> dict[str, Any]:
    """Sample one zoo model, export its files, score them beside its card."""
    from multigen.api import evaluate_run, load_run

    card = store.read_card(store.ZOO_DIR / name)
    run = load_run(f"zoo:{name}")
    n = card["check"]["n"]  # the card's own check size and seed: comparable to its value
    start = time.perf_counter()
    with warnings.catch_warnings():  # a small draw on purpose: the report says so
        warnings.simplefilter("ignore", SmallSampleWarning)
        scores = evaluate_run(run, n=n, seed=card["check"]["seed"], export=out / name)
    return {
        "name": name,
        "card": card,
        "n": n,
        "seconds": time.perf_counter() - start,
        "scores": scores,
        "picture": _picture(out / name),
    }


def train_one(out: Path, fast: bool) -> dict[str, Any]:
    """Train the toy demo model from scratch (the whole pipeline: train, sample, score)."""
    import shutil

    from multigen.api import demo_config, train
    from multigen.train.checkpoint import latest_checkpoint

    run_dir = out / "train_toy"
    if latest_checkpoint(run_dir):
        shutil.rmtree(run_dir)  # a demo always starts fresh
    start = time.perf_counter()
    train(demo_config("toy", fast), out=run_dir)
    seconds = time.perf_counter() - start
    metrics = json.loads((run_dir / "metrics.json").read_text())
    return {
        "run": run_dir,
        "seconds": seconds,
        "metrics": metrics,
        "picture": _picture(run_dir / "samples"),
    }


def run(out: str | Path = "demo_out", domains: list[str] | None = None, fast: bool = False):
    """The zoo demo; returns ``{name: scores}`` (the trained toy model as ``train:toy``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = [
        n
        for n in store.names()
        if not domains or store.read_card(store.ZOO_DIR / n)["domain"] in domains
    ]
    total = len(names) + 1
    start = time.perf_counter()
    entries = []
    for i, name in enumerate(names, 1):
        _say(f"[{i}/{total}] zoo:{name}: sampling and scoring …")
        entries.append(sample_entry(name, out / "zoo"))
        e = entries[-1]
        key = e["card"]["evaluation"]["headline"]
        ev = e["card"]["evaluation"]
        _say(
            f"[{i}/{total}] zoo:{name}: {e['n']} samples drawn and scored in "
            f"{e['seconds']:.1f} s: {key} {e['scores'][key]:.4g} (its card: "
            f"{e['card']['check']['metrics'][key]:.4g}); card at n={ev['n']}: "
            f"{ev['metrics'][key]:.4g} vs data floor {ev['floor'][key]:.4g} "
            f"[{time.perf_counter() - start:.0f} s]"
        )
    _say(f"[{total}/{total}] training a toy model from scratch (flow matching, 8 Gaussians) …")
    trained = train_one(out, fast)
    _say(f"[{total}/{total}] trained, sampled and scored in {trained['seconds']:.0f} s")
    wall = time.perf_counter() - start
    write_reports(out, entries, trained, wall, fast)
    results = {f"zoo:{e['name']}": e["scores"] for e in entries}
    results["train:toy"] = trained["metrics"]
    atomic_write_text(out / "report.json", json.dumps({"wall_s": wall, **results}, indent=2))
    return results


def _rows(entry: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(metric, now, card check, floor) for the metrics worth a reader's eye."""
    card = entry["card"]
    ev, chk = card["evaluation"], card["check"]
    return [
        (
            k + (" ★" if k == ev["headline"] else ""),
            f"{v:.4g}",
            f"{chk['metrics'][k]:.4g}" if k in chk["metrics"] else "–",
            f"{chk['floor'][k]:.4g}" if k in chk["floor"] else "–",
        )
        for k, v in entry["scores"].items()
        if not _bookkeeping(k)
    ]


def _bookkeeping(metric: str) -> bool:
    """Sizes, error bars and the reference's own scores: true, but not what a reader compares."""
    return (
        metric.startswith("n_")
        or metric.endswith(("_std", "_reference", "_total"))
        or metric == "nonfinite_fraction"
    )


def write_reports(out: Path, entries, trained, wall: float, fast: bool) -> None:
    md = [
        "# multigen demo",
        "",
        f"Sampled and scored {len(entries)} pretrained models from the zoo and trained one toy "
        f"model from scratch in {wall:.0f} s. Each zoo model's card: "
        "`multigen pretrained show NAME`; samples are in `zoo/<name>/`.",
        "",
    ]
    for e in entries:
        c = e["card"]
        md += [
            f"## zoo:{e['name']} — {c['title']}",
            "",
            f"{c['summary']} {c['method']} · {c['network']['name']} "
            f"({c['network']['parameters']:,} parameters) · trained "
            f"{c['training']['steps']:,} steps"
            + (
                f" in {c['training']['wall_clock_s'] / 60:.0f} min"
                if c["training"]["wall_clock_s"]
                else ""
            )
            + f" · {e['n']} samples at {c['sampling']['nfe']} NFE drawn and scored in "
            f"{e['seconds']:.1f} s.",
            "",
        ]
        if e["picture"]:
            md += [f"![{e['name']}]({e['picture'].relative_to(out)})", ""]
        md += [
            f"| metric (★ headline) | now, n={e['n']} | its card, n={c['check']['n']} "
            f"| data floor, n={c['check']['n']} |",
            "|---|---|---|---|",
        ]
        md += [f"| {a} | {b} | {x} | {f} |" for a, b, x, f in _rows(e)]
        ev = c["evaluation"]
        key = ev["headline"]
        md += [
            "",
            f"At the card's full size (n={ev['n']}): {key} {ev['metrics'][key]:.4g}, data floor "
            f"{ev['floor'][key]:.4g} ({ev['floor_split']}); at n={c['check']['n']} both the "
            "model's and the data's scores carry the noise of a small draw.",
            "",
        ]
    md += [
        f"## Trained here: toy flow matching ({'fast' if fast else 'demo'} config)",
        "",
        f"Trained, sampled and scored in {trained['seconds']:.0f} s; run folder "
        f"`{trained['run'].relative_to(out)}`.",
        "",
    ]
    if trained["picture"]:
        md += [f"![trained toy]({trained['picture'].relative_to(out)})", ""]
    md += ["| metric | value |", "|---|---|"]
    md += [f"| {k} | {v:.4g} |" for k, v in trained["metrics"].items() if not _bookkeeping(k)]
    atomic_write_text(out / "report.md", "\n".join(md) + "\n")
    atomic_write_text(out / "report.html", _html(md, out))


def _html(md: list[str], out: Path) -> str:
    """A plain offline rendering of the Markdown lines (headings, tables, inlined pictures)."""
    body, table = [], False
    for line in md:
        if line.startswith("|"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if set("".join(cells)) <= set("-"):
                continue
            tag = "th" if not table else "td"
            if not table:
                body.append("<table>")
                table = True
            body.append("<tr>" + "".join(f"<{tag}>{c}</{tag}>" for c in cells) + "</tr>")
            continue
        if table:
            body.append("</table>")
            table = False
        if line.startswith("!["):
            path = out / line[line.index("(") + 1 : -1]
            data = base64.b64encode(path.read_bytes()).decode()
            body.append(f'<p><img src="data:image/png;base64,{data}" style="max-width:640px"></p>')
        elif line.startswith("#"):
            level = len(line) - len(line.lstrip("#"))
            body.append(f"<h{level}>{html.escape(line[level:].strip())}</h{level}>")
        elif line:
            body.append(f"<p>{html.escape(line)}</p>")
    if table:
        body.append("</table>")
    style = "body{font-family:sans-serif;max-width:900px;margin:auto}td,th{padding:2px 8px}"
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>multigen demo</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )

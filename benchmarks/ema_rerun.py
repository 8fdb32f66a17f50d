"""The cpu suite re-run after the EMA warm-up fix, side by side with the recorded run.

The recorded cpu suite (benchmarks/results/cpu_suite/bench_cpu.json, 2026-11-27) sampled EMA
weights without warm-up: after 600 steps at decay 0.999 (images) they still held 55 % of the
random initialisation, after 800 (molecules) 45 %. This script re-runs chosen domains of the
same suite, same budgets, seeds and configs — with ``train.precision=fp32`` pinned, as the
recorded run was fp32, so the EMA is the only change — and writes, for every training method,
the recorded best cell beside the new one.

    .venv/bin/python -m benchmarks.ema_rerun --domains images [molecules ...] [--methods ...]

Writes benchmarks/results/ema_rerun.json and .md; the suite's own output goes to --out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from benchmarks.common import write_results

ROOT = Path(__file__).resolve().parents[1]
OLD = ROOT / "benchmarks" / "results" / "cpu_suite" / "bench_cpu.json"


def best_cells(report: dict, domains: list[str]) -> dict[tuple[str, str], dict]:
    """The best ok cell per (domain, training method), by the domain's quality metric."""
    best: dict[tuple[str, str], dict] = {}
    for cell in report["cells"]:
        if cell["domain"] not in domains or cell.get("status") != "ok":
            continue
        metric, better = report["quality_metric"][cell["domain"]]
        value = cell["metrics"].get(metric)
        if value is None:
            continue
        key = (cell["domain"], cell["train_method"])
        lower = better == "lower"
        old = best.get(key)
        if old is None or (value < old["value"] if lower else value > old["value"]):
            best[key] = {"value": value, "cell": cell["variant"], "nfe": cell["nfe"]}
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--domains", nargs="+", default=["images"])
    ap.add_argument("--methods", nargs="+", help="training methods (default: all)")
    ap.add_argument("--out", default="benchmarks/runs/ema_rerun")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    suite = yaml.safe_load((ROOT / "configs" / "bench" / "cpu.yaml").read_text())
    suite["name"] = "cpu_ema_rerun"
    suite["set"] = [*suite.get("set", []), "train.precision=fp32"]
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as fh:
        yaml.safe_dump(suite, fh)
    cmd = [sys.executable, "-m", "multigen.cli", "benchmark", fh.name, "--out", args.out,
           "--threads", str(args.threads), "--resume", "--domains", *args.domains]  # fmt: skip
    if args.methods:
        cmd += ["--methods", *args.methods]
    subprocess.run(cmd, check=True, cwd=ROOT)
    new_report = json.loads((ROOT / args.out / "results.json").read_text())
    cells = ROOT / "benchmarks" / "results" / "ema_rerun"
    cells.mkdir(parents=True, exist_ok=True)
    for domain in args.domains:  # the suite's full table, every cell of the re-run
        (cells / f"{domain}_cells.md").write_text((ROOT / args.out / "results.md").read_text())
    old_report = json.loads(OLD.read_text())
    old, new = best_cells(old_report, args.domains), best_cells(new_report, args.domains)
    recorded = ROOT / "benchmarks" / "results" / "ema_rerun.json"
    kept = json.loads(recorded.read_text())["rows"] if recorded.is_file() else []
    rows = [r for r in kept if r["domain"] not in args.domains]  # other domains' re-runs stay
    for key in sorted(new):
        domain, method = key
        metric, better = new_report["quality_metric"][domain]
        o = old.get(key, {})
        rows.append(
            {
                "domain": domain,
                "method": method,
                "metric": f"{metric} ({better} better)",
                "recorded (EMA, no warm-up)": o.get("value", float("nan")),
                "recorded best cell": f"{o.get('cell', '-')} @ {o.get('nfe', '-')}",
                "re-run (EMA with warm-up)": new[key]["value"],
                "re-run best cell": f"{new[key]['cell']} @ {new[key]['nfe']}",
            }
        )
    redone = {r["domain"] for r in rows}
    notes = (
        "Same suite (configs/bench/cpu.yaml), budgets, seeds, sample counts and configs as the "
        "recorded run of 2026-11-27, fp32 pinned as there; the only change is the EMA warm-up "
        f"(decay min(0.999, (1+k)/(10+k))). Domains: {', '.join(sorted(redone))}. Full re-run "
        "tables (every cell): benchmarks/results/ema_rerun/<domain>_cells.md."
    )
    write_results(
        "ema_rerun", {"rows": rows}, rows, "cpu suite: recorded vs re-run after the EMA fix", notes
    )


if __name__ == "__main__":
    main()

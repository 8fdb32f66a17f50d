"""Soak: train → sample → evaluate in a loop across the domains for a fixed time, in one
process, sampling its resident memory and open file handles every minute. A leak shows as a
slope; a forgotten temporary file shows in the final scan of the run folders.

    .venv/bin/python -m benchmarks.soak [--minutes 30] [--domains toy images molecules shapes audio]

Each cycle trains a domain's `demo_fast` config for a few steps into a fresh folder, samples
it through `api.sample` and scores it with `api.evaluate_run`; the folders are deleted
after the scan. Writes benchmarks/results/soak.json and .md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
import warnings
from pathlib import Path

from benchmarks.common import write_results
from multigen import api
from multigen.api import demo_config

STEPS = {"toy": 40, "images": 10, "molecules": 10, "shapes": 10, "audio": 4}


def rss_mib() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def leftovers(root: Path) -> list[str]:
    """Temporary files or folders a finished run should not leave behind."""
    return [str(p) for p in root.rglob("*") if ".tmp" in p.name or p.name == ".lock"]


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of (minutes, value), per hour."""
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(v for _, v in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    sxy = sum((t - mx) * (v - my) for t, v in points)
    return 60 * sxy / sxx if sxx else 0.0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=30)
    ap.add_argument("--domains", nargs="+", default=list(STEPS))
    args = ap.parse_args()
    warnings.simplefilter("ignore")  # small-sample notes on every cycle: expected here
    root = Path(tempfile.mkdtemp(prefix="multigen_soak_"))
    start = time.monotonic()
    samples, cycles, found = [], 0, []
    next_sample = 0.0
    while (elapsed := time.monotonic() - start) < args.minutes * 60:
        if elapsed >= next_sample:
            samples.append({"minute": elapsed / 60, "rss_mib": rss_mib(), "fds": open_fds()})
            print(samples[-1], flush=True)
            next_sample += 60
        domain = args.domains[cycles % len(args.domains)]
        run = root / f"{domain}_{cycles}"
        overrides = [f"train.steps={STEPS[domain]}", "train.progress=false",
                     "train.tensorboard=false", "sample.steps=2", "sample.n=8",
                     "eval.n_samples=16"]  # fmt: skip
        api.train(demo_config(domain, fast=True), out=run, overrides=overrides)
        api.sample(run, n=8, steps=2, out=run / "soak_samples")
        # scored as `evaluate --run` does: the run's own reference (its data params: audio
        # clip length) and eval options
        api.evaluate_run(run, n=16, steps=2)
        found += leftovers(run)
        shutil.rmtree(run)
        cycles += 1
    samples.append({"minute": (time.monotonic() - start) / 60, "rss_mib": rss_mib(),
                    "fds": open_fds()})  # fmt: skip
    shutil.rmtree(root, ignore_errors=True)
    # the first minutes load libraries and caches; the slope is taken after them
    steady = [s for s in samples if s["minute"] >= 5] or samples
    rss_slope = slope_per_hour([(s["minute"], s["rss_mib"]) for s in steady])
    fd_slope = slope_per_hour([(s["minute"], s["fds"]) for s in steady])
    notes = (
        f"{cycles} train→sample→evaluate cycles over {', '.join(args.domains)} in "
        f"{samples[-1]['minute']:.1f} min, one process. Resident memory slope after minute 5: "
        f"{rss_slope:+.1f} MiB/hour; open file handles: {fd_slope:+.2f}/hour; temporary files "
        f"or locks left in run folders: {len(found)}."
    )
    write_results(
        "soak",
        {
            "domains": args.domains,
            "minutes": args.minutes,
            "cycles": cycles,
            "samples": samples,
            "rss_slope_mib_per_hour": rss_slope,
            "fd_slope_per_hour": fd_slope,
            "leftovers": found,
        },  # fmt: skip
        samples,
        "Soak: memory and file handles over a train-sample-evaluate loop",
        notes,
    )
    print(notes)


if __name__ == "__main__":
    main()

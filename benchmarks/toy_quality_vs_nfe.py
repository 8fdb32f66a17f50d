"""Sampling quality vs. network evaluations (NFE) on the toy Gaussian mixtures.

Trains one model per method (DDPM, EDM, flow matching, GAN) on ``eight_gaussians`` and
``grid25`` with the configs in ``configs/toy/`` (steps overridable), then samples every
model with every sampler that applies at NFE 10, 20, 50, 100 and 1000 and scores the samples
against the test split: energy distance, mean log-likelihood under the true mixture, modes
covered and high-quality fraction (see ``domains/toy/metrics.py``). A "data" row scores
held-out data the same way: the floor the metrics reach with a perfect model at this N.

    .venv/bin/python benchmarks/toy_quality_vs_nfe.py            # ~15-20 min on 2 cores
    .venv/bin/python benchmarks/toy_quality_vs_nfe.py --quick    # a smoke run
    # or one process per dataset, then --merge the two JSONs (what produced the results)

Writes benchmarks/results/toy_quality_vs_nfe.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from multigen import api  # noqa: E402
from multigen.diffusion.samplers import get_sampler  # noqa: E402

SAMPLERS = {
    "ddpm": ["ddpm", "ddim", "euler", "heun", "dpmpp_2m"],
    "edm": ["ddpm", "ddim", "euler", "heun", "dpmpp_2m"],
    "flow": ["euler", "heun"],
    "gan": ["generator"],
}
METRICS = [
    ("energy_distance", "energy distance ×10³ (↓)", 1e3, ".2f"),
    ("loglik", "mean log-likelihood under the true mixture (↑)", 1.0, ".2f"),
    ("modes_covered", "modes covered (↑)", 1.0, ".0f"),
    ("hq_fraction", "high-quality fraction, within 3σ (↑)", 1.0, ".3f"),
]


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--datasets", nargs="+", default=["eight_gaussians", "grid25"])
    p.add_argument("--methods", nargs="+", default=list(SAMPLERS))
    p.add_argument("--nfe", nargs="+", type=int, default=[10, 20, 50, 100, 1000])
    p.add_argument("--train-steps", type=int, default=None, help="default: the config's")
    p.add_argument("--n", type=int, default=2000, help="samples per (model, sampler, NFE)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (tiny MLPs: 1 is best)")
    p.add_argument("--runs", type=Path, default=None, help="keep run folders here")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--name", default="toy_quality_vs_nfe")
    p.add_argument("--samplers", nargs="+", help="only these samplers (default: all that apply)")
    p.add_argument("--reuse", action="store_true", help="skip runs already trained in --runs")
    p.add_argument("--quick", action="store_true", help="smoke run: 200 steps, NFE 10/20, n=500")
    p.add_argument(
        "--merge",
        nargs="+",
        type=Path,
        help="combine result JSONs (e.g. one process per dataset) into --name",
    )
    args = p.parse_args()
    if args.quick:
        args.train_steps, args.nfe, args.n = 200, [10, 20], 500
        args.name += "_quick"
    return args


def train_all(args: argparse.Namespace, runs: Path) -> list[dict]:
    trained = []
    for ds in args.datasets:
        for method in args.methods:
            config = ROOT / "configs" / "toy" / f"{ds}_{method}.yaml"
            overrides = ["train.progress=false", "train.tensorboard=false"]
            if args.train_steps is not None:
                overrides.append(f"train.steps={args.train_steps}")
            overrides += [f"eval.n_samples={args.n}", f"sample.n={args.n}"]
            start = time.perf_counter()
            run = runs / f"{ds}_{method}"
            sidecar = run / "bench_train.json"
            if args.reuse and (run / "metrics.json").is_file():  # sample again, no retraining
                seconds = json.loads(sidecar.read_text())["seconds"] if sidecar.is_file() else None
            else:
                run = api.train(config, out=run, overrides=overrides)
                seconds = time.perf_counter() - start
                sidecar.write_text(json.dumps({"seconds": seconds}))
            log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
            steps = max(r.get("step", 0) for r in log)
            trained.append(
                {"dataset": ds, "method": method, "run": run, "steps": steps, "seconds": seconds}
            )
            print(f"trained {ds}/{method}: {steps} steps in {seconds} s", flush=True)
    return trained


def data_row(ds: str, n: int, reference) -> dict:
    dom = api.get_domain("toy")
    held_out = dom.reference(f"{ds}:val", n=n)  # an independent draw, neither train nor test
    scores = dom.evaluate(held_out.points, reference)
    return {"dataset": ds, "method": "data", "sampler": "-", "nfe": 0, "nfe_target": 0, **scores}


def sample_all(args: argparse.Namespace, trained: list[dict]) -> list[dict]:
    dom = api.get_domain("toy")
    rows = []
    references = {ds: dom.reference(f"{ds}:test") for ds in args.datasets}
    for ds in args.datasets:
        rows.append(data_row(ds, args.n, references[ds]))
    for t in trained:
        run = api.load_run(t["run"])
        ref = references[t["dataset"]]
        for sampler in SAMPLERS[t["method"]]:
            if args.samplers and sampler not in args.samplers:
                continue
            targets = [1] if sampler == "generator" else args.nfe
            for target in targets:
                steps = 1 if sampler == "generator" else get_sampler(sampler).steps_for_nfe(target)
                res = api.sample(
                    run,
                    n=args.n,
                    sampler=None if sampler == "generator" else sampler,
                    steps=steps,
                    seed=0,
                    eta=0.0 if sampler == "ddim" else None,  # DDIM as published: η = 0
                )
                scores = dom.evaluate(res.samples, ref)
                nfe = 1 if sampler == "generator" else get_sampler(sampler).nfe(steps)
                rows.append(
                    {
                        "dataset": t["dataset"],
                        "method": t["method"],
                        "sampler": sampler,
                        "nfe": nfe,
                        "nfe_target": target,
                        "steps": steps,
                        "sample_seconds": res.seconds,
                        **scores,
                    }
                )
                print(
                    f"{t['dataset']}/{t['method']}/{sampler} NFE {nfe}: "
                    f"ED {scores['energy_distance']:.4f} LL {scores['loglik']:.2f} "
                    f"modes {scores['modes_covered']:.0f} hq {scores['hq_fraction']:.3f}",
                    flush=True,
                )
    return rows


def markdown(result: dict) -> str:
    cfg = result["config"]
    lines = [
        "# Toy mixtures: sample quality vs. NFE",
        "",
        f"{cfg['n']} samples per cell (seed 0) against the 5,000-point test split; one model per "
        f"method, trained with `configs/toy/<dataset>_<method>.yaml` "
        f"({result['machine']}, torch {result['torch']}, {cfg['threads']} thread(s)). "
        "DDIM is run with η = 0, which in VE form is the same update as Euler (identical rows "
        "are expected). Heun's NFE is 2·steps − 1. `data` = held-out data scored the same way "
        "(the floor at this N). GAN: one generator call. Wall-clock times depend on the "
        "machine's load; per-cell sampling seconds are in the JSON.",
        "",
        "Training: "
        + "; ".join(
            f"{t['dataset']}/{t['method']} {t['steps']} steps"
            + (f" {t['seconds']:.0f} s" if t["seconds"] is not None else "")
            for t in result["training"]
        ),
        "",
    ]
    nfes = cfg["nfe"]
    for ds in cfg["datasets"]:
        rows = [r for r in result["rows"] if r["dataset"] == ds]
        lines += [f"## {ds}", ""]
        for key, title, scale, fmt in METRICS:
            lines += [f"**{title}**", ""]
            lines.append("| method / sampler | " + " | ".join(f"NFE {n}" for n in nfes) + " |")
            lines.append("|---|" + "---|" * len(nfes))
            order = []
            for r in rows:
                if (r["method"], r["sampler"]) not in order:
                    order.append((r["method"], r["sampler"]))
            for method, sampler in order:
                cells = []
                sel = [r for r in rows if r["method"] == method and r["sampler"] == sampler]
                if method in ("data", "gan"):  # one value, independent of NFE
                    cells = [format(sel[0][key] * scale, fmt)] + ["″"] * (len(nfes) - 1)
                else:
                    for target in nfes:
                        hit = [r for r in sel if r["nfe_target"] == target]
                        cells.append(format(hit[0][key] * scale, fmt) if hit else "")
                label = "data (held out)" if method == "data" else f"{method} / {sampler}"
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
            lines.append("")
    return "\n".join(lines)


def merge(paths: list[Path]) -> dict:
    parts = [json.loads(p.read_text()) for p in paths]
    result = dict(parts[0])
    result["config"] = dict(parts[0]["config"])
    result["config"]["datasets"] = [d for p in parts for d in p["config"]["datasets"]]
    result["total_seconds"] = max(p["total_seconds"] for p in parts)  # they ran side by side
    result["training"] = [t for p in parts for t in p["training"]]
    result["rows"] = [r for p in parts for r in p["rows"]]
    return result


def write(result: dict, out: Path, name: str) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=1))
    (out / f"{name}.md").write_text(markdown(result))
    print(f"wrote {out / name}.json/.md ({result['total_seconds']:.0f} s)")


def main() -> None:
    args = parse_args()
    if args.merge:
        write(merge(args.merge), args.out, args.name)
        return
    torch.set_num_threads(args.threads)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        runs = args.runs or Path(tmp)
        trained = train_all(args, runs)
        rows = sample_all(args, trained)
    result = {
        "config": {
            "datasets": args.datasets,
            "methods": args.methods,
            "nfe": args.nfe,
            "n": args.n,
            "train_steps": args.train_steps,
            "threads": args.threads,
        },
        "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores",
        "torch": torch.__version__,
        "total_seconds": time.perf_counter() - start,
        "training": [{k: v for k, v in t.items() if k != "run"} for t in trained],
        "rows": rows,
    }
    write(result, args.out, args.name)


if __name__ == "__main__":
    main()

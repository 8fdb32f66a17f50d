"""A recorded search for the shapes zoo entry at a fixed CPU budget (issue 16).

Each arm trains ``configs/shapes/embedded_edm.yaml`` (or its point-DiT sibling) plus the arm's
overrides on one torch thread, in chunks of ``--chunk`` steps that resume exactly (the
learning rate is constant after warm-up, so the chunked run ends at the weights one run of
that many steps would), until ``--minutes`` of training wall-clock are spent. Every kept
checkpoint is then scored the way the zoo card is (``multigen.zoo.scoring.score``: EMA
weights, 64 samples, seed 0, against 64 clouds of the embedded test split; 1-NNA / COV / MMD
on the Chamfer distance) with ``--sampler`` (default Heun 18 steps), beside the data floor.

    OMP_NUM_THREADS=1 python -m benchmarks.shapes_zoo_search train pointnet --minutes 60
    OMP_NUM_THREADS=1 python -m benchmarks.shapes_zoo_search score pointnet point_dit
    OMP_NUM_THREADS=1 python -m benchmarks.shapes_zoo_search samplers pointnet --step 8000

Runs go to runs/shapes_search/ARM; results to benchmarks/results/shapes_zoo_search.{json,md}
(``score``) and shapes_zoo_search_samplers.{json,md} (``samplers``).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
import torch
import yaml

from benchmarks.common import RESULTS, write_results
from multigen import api
from multigen.train.checkpoint import list_checkpoints, read_meta
from multigen.zoo.build import with_scoring
from multigen.zoo.scoring import data_floor, score

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "shapes_search"
N = 64  # samples vs test clouds, as on the zoo card
CARD_SAMPLER = ["sample.sampler=dpmpp_2m", "sample.steps=20"]
SCORING = ["eval.options={metrics: [cd]}"]  # 1-NNA-EMD costs minutes at 64 vs 64
COMMON = ["train.precision=bf16", "train.tensorboard=false", "train.progress=false", *SCORING]

# The arms. The zoo entry before this search: pointnet, EMA 0.995, 2,000 steps, 1-NNA-CD 0.828.
ARMS: dict[str, dict] = {
    "pointnet": {
        "config": "configs/shapes/embedded_edm.yaml",
        "overrides": ["train.ema_decay=0.999", *CARD_SAMPLER],
        "what": "PointNet 128x4 (0.74M), lr 1e-3, batch 32, EMA 0.999, bf16",
    },
    "point_dit": {
        "config": "configs/shapes/embedded_point_dit.yaml",
        "overrides": ["train.ema_decay=0.999", *CARD_SAMPLER],
        "what": "point DiT 128x4, 4 heads (1.27M), lr 5e-4, batch 32, EMA 0.999, bf16",
    },
}
SAMPLERS = {  # scored on one checkpoint by ``samplers``
    "dpmpp_2m 20 (20 NFE)": ["sample.sampler=dpmpp_2m", "sample.steps=20"],
    "dpmpp_2m 40 (40 NFE)": ["sample.sampler=dpmpp_2m", "sample.steps=40"],
    "heun 18 (35 NFE)": ["sample.sampler=heun", "sample.steps=18"],
    "heun 50 (99 NFE)": ["sample.sampler=heun", "sample.steps=50"],
    "heun 18 churn 3 (35 NFE)": ["sample.sampler=heun", "sample.steps=18", "sample.churn=3.0"],
    "heun 18 churn 10 (35 NFE)": ["sample.sampler=heun", "sample.steps=18", "sample.churn=10.0"],
    "heun 50 churn 20 (99 NFE)": ["sample.sampler=heun", "sample.steps=50", "sample.churn=20.0"],
}
KEYS = ("nna_cd", "cov_cd", "mmd_cd")


def train_seconds(run_dir: Path, step: int) -> float:
    """Training wall-clock to ``step``: each logging interval's steps x batch / its
    samples_per_s, so the pauses between resumed chunks (loading, end-of-chunk scoring) are
    not counted (``zoo.build.training_seconds`` counts them)."""
    path = run_dir / "log.jsonl"
    if not path.is_file():
        return 0.0
    batch = yaml.safe_load((run_dir / "config.yaml").read_text())["data"]["batch_size"]
    total, last = 0.0, 0
    for line in path.read_text().splitlines():
        r = json.loads(line)
        if "samples_per_s" in r and last < r["step"] <= step:
            total += (r["step"] - last) * batch / r["samples_per_s"]
            last = r["step"]
    return total


def train(arm: str, minutes: float, chunk: int, every: int) -> Path:
    """Chunks of ``chunk`` steps until ``minutes`` of training wall-clock are spent."""
    spec, out = ARMS[arm], RUNS / arm
    keep = ["train.keep_last=100", f"train.checkpoint_every={every}"]
    step = max((read_meta(p)["step"] for p in list_checkpoints(out)), default=0)
    while True:
        spent = train_seconds(out, step) / 60
        if spent >= minutes:
            break
        target = step + chunk
        t0 = time.perf_counter()
        api.train(
            spec["config"],
            out=out,
            overrides=[*spec["overrides"], *COMMON, *keep, f"train.steps={target}"],
            resume=step > 0,
        )
        step = target
        print(f"{arm}: step {step}, chunk {time.perf_counter() - t0:.0f} s", flush=True)
    print(f"{arm}: stopped at step {step} after {spent:.1f} training minutes", flush=True)
    return out


def _scored(run, overrides: list[str]) -> dict[str, float]:
    run = with_scoring(run, [*overrides, *SCORING])
    scores = score(run, N)
    return {k: scores[k] for k in KEYS}


def curve(arm: str, every: int, sampler: str) -> list[dict]:
    out, rows = RUNS / arm, []
    kept = list_checkpoints(out)
    for path in kept[every - 1 :: every] + ([kept[-1]] if len(kept) % every else []):
        step = read_meta(path)["step"]
        run = api.load_run(out, checkpoint=str(path), device="cpu")
        t0 = time.perf_counter()
        row = {"arm": arm, "step": step, "minutes": round(train_seconds(out, step) / 60, 2)}
        row |= _scored(run, SAMPLERS[sampler])
        row["score_s"] = round(time.perf_counter() - t0, 1)
        print(row, flush=True)
        rows.append(row)
    return rows


def floor_row(arm: str) -> dict:
    run = with_scoring(api.load_run(RUNS / arm, device="cpu"), SCORING)
    scores, what = data_floor(run, N)
    floor = {"arm": f"data floor ({what} vs test)", "step": 0, "minutes": 0.0}
    return floor | {k: scores[k] for k in KEYS} | {"score_s": 0.0}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("action", choices=["train", "score", "samplers"])
    ap.add_argument("arms", nargs="+", choices=list(ARMS))
    ap.add_argument("--minutes", type=float, default=60.0, help="training wall-clock budget")
    ap.add_argument("--chunk", type=int, default=1000, help="steps per resumed chunk")
    ap.add_argument("--checkpoint-every", type=int, default=500)
    ap.add_argument("--every", type=int, default=1, help="score every K-th checkpoint (+ last)")
    ap.add_argument("--sampler", default="heun 18 (35 NFE)", choices=list(SAMPLERS))
    ap.add_argument("--step", type=int, default=None, help="samplers: checkpoint step")
    args = ap.parse_args()
    torch.set_num_threads(1)
    if args.action == "train":
        for arm in args.arms:
            train(arm, args.minutes, args.chunk, args.checkpoint_every)
        return
    if args.action == "samplers":
        arm = args.arms[0]
        ckpt = RUNS / arm / "checkpoints" / f"step_{args.step:08d}" if args.step else None
        run = api.load_run(RUNS / arm, checkpoint=str(ckpt) if ckpt else "latest", device="cpu")
        step = read_meta(ckpt)["step"] if ckpt else run.config.train.steps
        rows = []
        for label, overrides in SAMPLERS.items():
            t0 = time.perf_counter()
            row = {"arm": arm, "step": step, "sampler": label} | _scored(run, overrides)
            row["score_s"] = round(time.perf_counter() - t0, 1)
            print(row, flush=True)
            rows.append(row)
        write_results(
            "shapes_zoo_search_samplers",
            {"arm": arm, "step": step, "rows": rows},
            rows,
            f"Shapes zoo search: samplers on the {arm} run's step-{step} EMA weights",
            "64 samples (seed 0) vs 64 embedded test clouds, 512 points, Chamfer; "
            "score_s = sampling + scoring wall seconds on a shared machine.",
            echo=True,
        )
        return
    old = RESULTS / "shapes_zoo_search.json"
    rows = [] if not old.is_file() else json.loads(old.read_text())["rows"]
    rows = [r for r in rows if r["arm"] not in args.arms and not r["arm"].startswith("data")]
    for arm in args.arms:
        rows += curve(arm, args.every, args.sampler)
    rows.append(floor_row(args.arms[0]))
    write_results(
        "shapes_zoo_search",
        {"arms": {a: ARMS[a] for a in args.arms}, "rows": rows},
        rows,
        "Shapes zoo search: quality against training minutes (one torch thread, shared CPU)",
        f"Each row: one kept checkpoint, EMA weights, {args.sampler}, 64 samples "
        "(seed 0) vs 64 clouds of the embedded test split, 512 points, Chamfer distance; scored "
        "by the zoo card's code (multigen.zoo.scoring). minutes = training wall-clock to that "
        "step from log.jsonl on 2 cores shared with other engineers' jobs. 1-NNA: 0.5 ideal. "
        "Arms: " + "; ".join(f"{a}: {ARMS[a]['what']}" for a in args.arms),
        echo=True,
    )


if __name__ == "__main__":
    main()

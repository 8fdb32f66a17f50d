"""The point DiT against the shapes domain's PointNet-style denoiser at equal training steps
(issue 17, transformer backbones).

Both start from ``configs/shapes/embedded_point_dit.yaml`` (EDM, Heun 18 steps = 35 NFE) on the
embedded procedural set at 256 points, with the same data, batch, steps, learning rate and
seed; only ``model`` differs, and the two networks have about the same parameter count
(pointnet width 128 depth 4, 0.74M; point_dit width 96 depth 4 heads 4, 0.72M). Each run is
scored by the end-of-run evaluation: ``eval.n_samples`` generated clouds against as many test
clouds, Chamfer-based MMD / COV / 1-NNA (1-NNA 0.5 is ideal, 1.0 means every cloud's nearest
neighbour is from its own set).

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.shapes_point_dit            # 800 steps
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.shapes_point_dit --steps 200 --n 32

Writes benchmarks/results/shapes_point_dit.{json,md}; runs go to --out (runs/bench_point_dit).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
import torch

from benchmarks.common import write_results
from multigen import api

CONFIG = "configs/shapes/embedded_point_dit.yaml"
MODELS = {
    "pointnet": "{name: pointnet, params: {width: 128, depth: 4}}",
    "point_dit": "{name: point_dit, params: {width: 96, depth: 4, heads: 4}}",
}
KEYS = ("nna_cd", "cov_cd", "mmd_cd")


def run_one(name: str, out: Path, steps: int, n: int, batch: int) -> dict:
    overrides = [
        f"model={MODELS[name]}",
        "data.params.n_points=256",
        f"data.batch_size={batch}",
        f"train.steps={steps}",
        f"train.checkpoint_every={steps}",
        "train.warmup=50",
        "train.log_every=50",
        "train.progress=false",
        "train.tensorboard=false",
        f"sample.n={n}",
        f"sample.batch_size={n}",
        f"eval.n_samples={n}",
        "eval.options={metrics: [cd]}",
    ]
    t0 = time.perf_counter()
    run = api.train(CONFIG, out=out / name, overrides=overrides)
    wall = time.perf_counter() - t0
    metrics = json.loads((run / "metrics.json").read_text())
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    losses = [v for e in log for k, v in e.items() if k.startswith("loss")]
    rates = sorted(e["samples_per_s"] for e in log if "samples_per_s" in e)
    loaded = api.load_run(run, device="cpu")
    params = sum(p.numel() for m in loaded.models.values() for p in m.parameters())
    row = {"model": name, "params_M": params / 1e6, "steps": steps}
    row |= {k: float(metrics[k]) for k in KEYS if k in metrics}
    row["final_loss"] = float(losses[-1]) if losses else float("nan")
    row["train_s_per_step"] = batch / rates[len(rates) // 2] if rates else float("nan")
    row["wall_s"] = wall
    print(row, flush=True)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=800)
    ap.add_argument("--n", type=int, default=100, help="generated and reference clouds")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--out", type=Path, default=Path("runs/bench_point_dit"))
    ap.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    args = ap.parse_args()
    torch.manual_seed(0)
    rows = [run_one(m, args.out, args.steps, args.n, args.batch) for m in args.models]
    notes = (
        f"Embedded procedural shapes (6 classes), 256 points, EDM, batch {args.batch}, "
        f"{args.steps} steps each, Heun 18 steps (35 NFE); {args.n} generated vs {args.n} test "
        "clouds, Chamfer distance. One run each at OMP_NUM_THREADS=1 on a shared machine: "
        "wall_s includes sampling and scoring and is noisy. 1-NNA: 0.5 ideal, lower is better; "
        "COV: higher is better; MMD: lower is better."
    )
    write_results(
        "shapes_point_dit",
        {"config": CONFIG, "args": {k: str(v) for k, v in vars(args).items()}, "rows": rows},
        rows,
        "Point DiT vs PointNet denoiser on the embedded shapes (equal steps)",
        notes,
        echo=True,
    )


if __name__ == "__main__":
    main()

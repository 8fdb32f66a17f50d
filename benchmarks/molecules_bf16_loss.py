"""Does bf16 autocast train the EGNN as fp32 does? Same seed, same data order, same steps;
the two loss curves (mean over windows of logged steps) side by side.

The molecules speed target allows bf16 only "if the loss curve matches fp32": this is that
check, at a CPU-affordable size (EGNN 6×128, EDM-paper DDPM on the embedded set).

    python -m benchmarks.molecules_bf16_loss [--steps 600]

Writes benchmarks/results/molecules_bf16_loss.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

from benchmarks.common import machine
from multigen import api

RESULTS = Path(__file__).parent / "results"


def losses(run_dir: Path) -> list[tuple[int, float]]:
    rows = [json.loads(x) for x in (run_dir / "log.jsonl").read_text().splitlines() if x]
    return [(r["step"], r["loss_denoise"]) for r in rows if "loss_denoise" in r]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--out", default="runs/bench_molecules_bf16")
    args = ap.parse_args()
    curves = {}
    for precision in ("fp32", "bf16"):
        run_dir = Path(args.out) / precision
        shutil.rmtree(run_dir, ignore_errors=True)
        api.train(
            "configs/molecules/embedded_edm.yaml",
            out=run_dir,
            overrides=[
                f"train.steps={args.steps}",
                f"train.precision={precision}",
                "train.log_every=50",
                f"train.checkpoint_every={args.steps}",
                "train.lr=5e-4",
                "train.tensorboard=false",
                "train.progress=false",
                "data.batch_size=32",
                "eval.reference=null",
                "sample.n=4",
                "sample.steps=10",
            ],
        )
        curves[precision] = losses(run_dir)
    rows = []
    for (step, a), (_, b) in zip(curves["fp32"], curves["bf16"]):
        rows.append({"step": step, "fp32": a, "bf16": b, "rel_diff": (b - a) / a})
    last = rows[len(rows) // 2 :]
    mean_fp32 = sum(r["fp32"] for r in last) / len(last)
    mean_bf16 = sum(r["bf16"] for r in last) / len(last)
    result = {
        "machine": machine(),
        "load_average": os.getloadavg()[0],
        "steps": args.steps,
        "rows": rows,
        "second_half_mean": {"fp32": mean_fp32, "bf16": mean_bf16},
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "molecules_bf16_loss.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# Molecules: bf16 vs fp32 training loss (EGNN 6×128, EDM-paper DDPM, embedded set)",
        "",
        f"Same seed and data order, {args.steps} steps at batch 32, loss averaged over each "
        "50-step log window. Mean over the second half: "
        f"fp32 {mean_fp32:.4f}, bf16 {mean_bf16:.4f} "
        f"({(mean_bf16 - mean_fp32) / mean_fp32:+.1%}).",
        "",
        "| step | fp32 loss | bf16 loss | relative difference |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['step']} | {r['fp32']:.4f} | {r['bf16']:.4f} | {r['rel_diff']:+.1%} |" for r in rows
    ]
    (RESULTS / "molecules_bf16_loss.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

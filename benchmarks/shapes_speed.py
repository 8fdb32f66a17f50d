"""Training and sampling throughput of the shape denoisers vs. DPM (Luo & Hu) on this CPU.

ANCHORS.md timed DPM's own code here: 3.9M parameters, batch 128 x 2048 points,
13.6 s/step = 9.4 clouds/s training; 100 steps = 1.8 s per cloud sampling. We time our
networks at 2048 points: a training step (forward, backward, AdamW on an EDM-weighted MSE),
and one denoiser call at a sampling batch, from which the time per cloud follows for a
given number of network evaluations (NFE): 100 (DPM's schedule), 35 (EDM Heun, 18 steps)
and 20 (DPM-Solver++(2M), 20 steps). fp32 and bf16 autocast.

    .venv/bin/python benchmarks/shapes_speed.py            # a few minutes
    .venv/bin/python benchmarks/shapes_speed.py --quick

Writes benchmarks/results/shapes_speed.json and .md.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import matmul_gflops, write_results  # noqa: E402
from domains.shapes import networks  # noqa: E402

DPM_TRAIN_CLOUDS_S = 9.4
DPM_SAMPLE_S_PER_CLOUD = 1.8  # 100 steps

# DPM's PointwiseNet costs ~0.65 MFLOP per point (its 3.9M parameters are mostly the
# encoder); "w128 d4" matches that per-point cost, "w256 d6" matches the parameter count
# (the GPU config), ~5x the per-point cost.
NETS = {
    "pointnet w128 d4": (networks.build_pointnet, {"width": 128, "depth": 4}),
    "pointnet w256 d6": (networks.build_pointnet, {"width": 256, "depth": 6, "emb_dim": 128}),
    "point_transformer w128 d4": (
        networks.build_transformer,
        {"width": 128, "depth": 4, "heads": 4},
    ),
}
ANCHOR_GFLOPS = 203.0  # ANCHORS.md: fp32 2048^2 matmul on an idle machine of this kind


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    best = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        best.append(time.perf_counter() - t)
    best.sort()
    return best[len(best) // 2]


def bench(name, build, params, args, precision) -> dict:
    torch.manual_seed(0)
    info = {"shape": [args.points, 3], "num_classes": 0, "cond_dim": 0}
    net = build(info, **params)
    n_params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    ctx = (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16))
        if precision == "bf16"
        else contextlib.nullcontext
    )
    x = torch.randn(args.train_batch, args.points, 3)
    sigma = torch.exp(torch.randn(args.train_batch) * 1.2 - 1.2)

    def train_step():
        with ctx():
            out = net(x + sigma[:, None, None] * torch.randn_like(x), sigma.log() / 4)
        loss = (out.float() - x).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    xs = torch.randn(args.sample_batch, args.points, 3)
    c = torch.full((args.sample_batch,), 0.5)

    @torch.no_grad()
    def call():
        with ctx():
            net(xs, c)

    t_train = timed(train_step, args.repeats)
    t_call = timed(call, args.repeats)
    train_rate = args.train_batch / t_train
    per_call_per_cloud = t_call / args.sample_batch
    row = {
        "network": name,
        "precision": precision,
        "params_M": n_params / 1e6,
        "train_clouds_per_s": train_rate,
        "train_vs_dpm": train_rate / DPM_TRAIN_CLOUDS_S,
        "call_ms_per_cloud": 1e3 * per_call_per_cloud,
    }
    for nfe in (100, 35, 20):
        s = nfe * per_call_per_cloud
        row[f"sample_s_per_cloud_nfe{nfe}"] = s
        row[f"sample_speedup_vs_dpm_nfe{nfe}"] = DPM_SAMPLE_S_PER_CLOUD / s
    return row


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=2048)
    p.add_argument("--train-batch", type=int, default=8)
    p.add_argument("--sample-batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--name", default="shapes_speed")
    args = p.parse_args()
    if args.quick:
        args.points, args.train_batch, args.sample_batch, args.repeats = 256, 4, 4, 1
        args.name = "shapes_speed_quick"
    torch.set_num_threads(args.threads)
    gflops = matmul_gflops()
    rows = []
    for precision in args.precisions:
        for name, (build, params) in NETS.items():
            rows.append(bench(name, build, params, args, precision))
            print(rows[-1], flush=True)
    table = [
        {
            "network": r["network"],
            "prec": r["precision"],
            "params (M)": r["params_M"],
            "train clouds/s": r["train_clouds_per_s"],
            "train / DPM": r["train_vs_dpm"],
            "s/cloud @100 NFE": r["sample_s_per_cloud_nfe100"],
            "vs DPM @100": r["sample_speedup_vs_dpm_nfe100"],
            "vs DPM @20 NFE": r["sample_speedup_vs_dpm_nfe20"],
            "@20, load-adj.": r["sample_speedup_vs_dpm_nfe20"] * ANCHOR_GFLOPS / gflops,
        }
        for r in rows
    ]
    notes = (
        f"{args.points} points; training batch {args.train_batch}, sampling batch "
        f"{args.sample_batch}; torch threads {args.threads}; measured fp32 matmul "
        f"{gflops:.0f} GFLOP/s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(shared machine: ratios within this run are what to read). DPM anchor (ANCHORS.md): "
        f"{DPM_TRAIN_CLOUDS_S} clouds/s training at batch 128, {DPM_SAMPLE_S_PER_CLOUD} s per "
        "cloud for 100 steps, timed on an idle machine of this kind — so ratios against it "
        "understate our speed when the machine was loaded. 'vs DPM @20 NFE' is the speed-up "
        "with a 20-step DPM-Solver++ against DPM's 100 steps; equal quality is not shown here. "
        "'load-adj.' scales by the anchor's idle matmul rate over the rate measured in this run."
    )
    write_results(
        args.name,
        {"args": vars(args), "matmul_gflops": gflops, "rows": rows},
        table,
        "Shapes: denoiser throughput vs DPM (CPU)",
        notes,
    )


if __name__ == "__main__":
    main()

"""EGNN speed on CPU against EDM's own code (ANCHORS.md): EGNN 9×256, batch 64.

Measures, in one run on this machine: the fp32 matmul rate (the machine ceiling), one
denoiser call at batch 64 and one training step (forward + backward + AdamW) for the dense
and sparse graph kinds, fp32 and bf16 autocast. Atom counts are drawn from the embedded
set's histogram (its max is 27 atoms, QM9's 29; EDM's timing used QM9's histogram).

    python benchmarks/molecules_speed.py [--quick]

Writes benchmarks/results/molecules_speed.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from domains.molecules import get_domain
from domains.molecules.nets.egnn import EGNNDenoiser

EDM_TRAIN_S = 11.7  # s/step, EDM's code, EGNN 9×256, batch 64, same kind of machine
EDM_CALL_S = 2.53  # s per denoiser call at batch 64
RESULTS = Path(__file__).parent / "results"


def matmul_gflops(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def timed(fn, reps: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2 timed repeats, smaller net check")
    ap.add_argument("--batch", type=int, default=64)
    args = ap.parse_args()
    reps = 2 if args.quick else 3
    d = get_domain()
    ds = d.load_dataset("embedded", split="train")
    info = d.describe(ds)
    g = torch.Generator().manual_seed(0)
    tmpl = d.template(info, args.batch, g)
    batch = tmpl.with_x(d.noise(tmpl, [torch.Generator().manual_seed(i) for i in range(args.batch)]))
    c = torch.full((args.batch,), 500.0)
    rows = []
    for graph in ("dense", "sparse"):
        for precision in ("fp32", "bf16"):
            torch.manual_seed(0)
            net = EGNNDenoiser(info, hidden=256, layers=9, graph=graph)
            opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
            ctx = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if precision == "bf16" else torch.no_grad

            def call():
                with torch.no_grad(), (torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else torch.enable_grad()):
                    net(batch.x, c, None, batch.mask)

            def step():
                with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                    out = net(batch.x, c, None, batch.mask)
                loss = out.float().pow(2).mean()
                opt.zero_grad()
                loss.backward()
                opt.step()

            del ctx
            t_call, t_step = timed(call, reps), timed(step, reps)
            rows.append(
                {
                    "graph": graph,
                    "precision": precision,
                    "params": sum(p.numel() for p in net.parameters()),
                    "call_s": t_call,
                    "train_step_s": t_step,
                    "train_mol_per_s": args.batch / t_step,
                    "sample_1000_steps_mol_per_s": args.batch / (1000 * t_call),
                    "train_speedup_vs_edm": EDM_TRAIN_S / t_step,
                    "call_speedup_vs_edm": EDM_CALL_S / t_call,
                }
            )
            print(rows[-1], flush=True)
    result = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_1min": os.getloadavg()[0],
            "matmul_fp32_gflops": matmul_gflops(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "batch": args.batch,
        "atom_counts_mean": float(batch.mask.sum(1).mean()),
        "anchor": {"edm_train_step_s": EDM_TRAIN_S, "edm_call_s": EDM_CALL_S, "edm_params": 5.3e6},
        "rows": rows,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "molecules_speed.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# EGNN 9×256 speed, batch 64 (CPU)",
        "",
        f"Machine: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
        f"load average {result['machine']['load_average_1min']:.1f}, "
        f"fp32 matmul {result['machine']['matmul_fp32_gflops']:.0f} GFLOP/s (measured in this run).",
        f"EDM anchor (its own code, same kind of machine): {EDM_TRAIN_S} s/train step "
        f"({64 / EDM_TRAIN_S:.1f} mol/s), {EDM_CALL_S} s/denoiser call.",
        "",
        "| graph | precision | params | call (s) | train step (s) | train mol/s | × EDM train | × EDM call | 1000-step sampling mol/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['graph']} | {r['precision']} | {r['params'] / 1e6:.2f}M | {r['call_s']:.3f} | "
            f"{r['train_step_s']:.3f} | {r['train_mol_per_s']:.1f} | {r['train_speedup_vs_edm']:.2f} | "
            f"{r['call_speedup_vs_edm']:.2f} | {r['sample_1000_steps_mol_per_s']:.4f} |"
        )
    (RESULTS / "molecules_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""Training and sampling throughput of the default image U-Net on CPU, fp32 vs bf16 autocast,
next to the machine's measured matmul rate from the same run (so the fraction of peak shows).

    .venv/bin/python benchmarks/images_throughput.py [--seconds 4] [--threads N]

Writes benchmarks/results/images_throughput.json and .md. FLOPs per sample are counted with
torch.utils.flop_counter.FlopCounterMode (matmuls/convolutions/attention; elementwise ops
are not counted, so the fraction of peak is a slight underestimate).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import time
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from multigen_domains.images.networks.unet import build_unet

RESULTS = Path(__file__).resolve().parent / "results"
INFO = {"shape": [1, 16, 16], "num_classes": 10, "cond_dim": 0, "sigma_data": 0.5}


def autocast(precision: str):
    if precision == "bf16":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def timed(fn, seconds: float, min_iters: int = 3) -> tuple[float, int]:
    """Seconds per call of ``fn`` after one warm-up call, over >= ``seconds`` wall time."""
    fn()
    n, start = 0, time.perf_counter()
    while n < min_iters or time.perf_counter() - start < seconds:
        fn()
        n += 1
    return (time.perf_counter() - start) / n, n


def matmul_gflops(dtype: torch.dtype, seconds: float, n: int = 2048) -> float:
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    per_call, _ = timed(lambda: a @ b, seconds)
    return 2 * n**3 / per_call / 1e9


def inputs(batch: int):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, *INFO["shape"], generator=g)
    c_noise = torch.randn(batch, generator=g)
    labels = torch.randint(0, 10, (batch,), generator=g)
    return x, c_noise, labels


def count_flops(model, batch: int, train: bool) -> float:
    x, c, y = inputs(batch)
    with FlopCounterMode(display=False) as counter:
        out = model(x, c, y)
        if train:
            out.square().mean().backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops() / batch


def train_rate(model, batch: int, precision: str, seconds: float) -> float:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x, c, y = inputs(batch)
    model.train()

    def step():
        with autocast(precision):
            loss = (model(x, c, y).float() - x).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    per_step, _ = timed(step, seconds)
    return batch / per_step


@torch.no_grad()
def sample_rate(model, batch: int, precision: str, seconds: float) -> float:
    x, c, y = inputs(batch)
    model.eval()

    def call():
        with autocast(precision):
            model(x, c, y)

    per_call, _ = timed(call, seconds)
    return batch / per_call


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=4.0, help="wall time per measurement")
    ap.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    ap.add_argument("--train-batch", type=int, default=64)
    ap.add_argument("--sample-batch", type=int, default=256)
    ap.add_argument("--out", type=Path, default=RESULTS / "images_throughput")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    load_start = os.getloadavg()[0]

    torch.manual_seed(0)
    model = build_unet(INFO)  # the builder's defaults: the "default image U-Net"
    params = sum(p.numel() for p in model.parameters())
    fwd_flops = count_flops(model, 8, train=False)
    train_flops = count_flops(model, 8, train=True)

    rows = []
    peaks = {}
    for precision, dtype in (("fp32", torch.float32), ("bf16", torch.bfloat16)):
        peaks[precision] = matmul_gflops(dtype, args.seconds)
        tr = train_rate(model, args.train_batch, precision, args.seconds)
        sr = sample_rate(model, args.sample_batch, precision, args.seconds)
        for kind, rate, flops in (("train", tr, train_flops), ("sample (1 NFE)", sr, fwd_flops)):
            achieved = rate * flops / 1e9
            rows.append(
                {
                    "precision": precision,
                    "kind": kind,
                    "samples_per_s": rate,
                    "gflop_per_sample": flops / 1e9,
                    "achieved_gflops": achieved,
                    "matmul_gflops": peaks[precision],
                    "fraction_of_matmul": achieved / peaks[precision],
                }
            )
    result = {
        "model": "unet defaults (channels 32, mult 1-2-2, 2 res blocks, attention at 8x8)",
        "input": "1x16x16 digits, 10 classes",
        "parameters": params,
        "train_batch": args.train_batch,
        "sample_batch": args.sample_batch,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "machine": platform.processor() or platform.machine(),
        "load_average_start": load_start,
        "load_average_end": os.getloadavg()[0],
        "rows": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(result, indent=2))
    lines = [
        "# Image U-Net throughput (CPU)",
        "",
        f"{result['model']}, {params / 1e6:.2f} M parameters, input {result['input']}; "
        f"torch {torch.__version__}, {result['threads']} threads on {result['cpu_count']} CPUs; "
        f"load average {load_start:.1f} -> {result['load_average_end']:.1f} "
        "(other jobs on the machine lower every number here alike).",
        "",
        "| precision | kind | samples/s | GFLOP/sample | achieved GFLOP/s | 2048² matmul "
        "GFLOP/s | fraction of matmul |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['precision']} | {r['kind']} | {r['samples_per_s']:.1f} | "
            f"{r['gflop_per_sample']:.3f} | {r['achieved_gflops']:.1f} | "
            f"{r['matmul_gflops']:.0f} | {r['fraction_of_matmul']:.1%} |"
        )
    lines += [
        "",
        "Sampling a full image costs NFE network calls (e.g. 35 for EDM Heun at 18 steps): "
        "divide the 1-NFE rate by the NFE.",
        "",
    ]
    args.out.with_suffix(".md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()

"""DiT scaling on CPU (issue 17, transformer backbones): FD of DiT sizes on 16x16 digits
against parameter count and training time, with the U-Net as a reference row.

Every model trains from its shipped config (DiT rows: ``configs/images/digits_dit_edm.yaml``
with a size override; the U-Net: ``configs/images/digits_edm.yaml``; each keeps its own
learning rate, EMA and warm-up) with the same batch, seed and fp32, until its process has
spent ``--budget`` CPU-seconds in training steps (one thread, OMP_NUM_THREADS=1; CPU time
rather than wall time because the machine is shared and wall time measures the neighbours;
both are recorded). Equal training *time*, so a small model takes many more steps than a big
one. At half the budget and at the whole budget the EMA weights draw ``--n`` samples with the
same sampler (EDM Heun, 18 steps = 35 NFE, class-conditional, no guidance so every model
costs one forward per NFE; scoring time is not charged to the budget), scored against as many
training digits with the digit CNN (``fd_digitcnn``, lower is better); the last point is
scored on two disjoint seed blocks (their spread is the noise of one FD at this N). The data
floor is the test split (``--n`` real held-out digits) scored the same way. Per model:

- ``params_M``: parameters of the network (inside the EDM preconditioning);
- ``gflops``: FLOPs of one forward pass for one sample, counted by
  ``torch.utils.flop_counter`` with attention on the math kernel (so its matmuls are
  counted); elementwise ops left out;
- ``s_per_step``: CPU-seconds per training step (batch ``--batch``).

DiT's claim (Peebles & Xie 2023) is that quality tracks forward GFLOPs at equal *steps*
(their Fig. 8) and that bigger models use training compute better in the long run (Fig. 9);
this table is the short-budget end of the second view, on one shared CPU thread.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.dit_scaling
        # 5 x 6 CPU-min + scoring: ~35 CPU-min, 66 min wall on the shared 2 cores
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.dit_scaling --budget 20 --n 50 \\
        --rows DiT-64x4/4 --tag smoke                                             # quick check

Writes benchmarks/results/dit_scaling.{json,md} (``--tag`` adds a suffix).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
import types
from pathlib import Path

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from benchmarks.common import matmul_gflops, write_results
from multigen.config import load_config
from multigen.registry import get_domain
from multigen.train.trainer import Trainer
from multigen.zoo.scoring import data_floor

DIT = "configs/images/digits_dit_edm.yaml"
UNET = "configs/images/digits_edm.yaml"
# label -> (config, model override); DiT-<width>x<depth>/<patch>
ROWS = {
    "DiT-64x4/4": (DIT, "{name: dit, params: {patch: 4, width: 64, depth: 4, heads: 4}}"),
    "DiT-tiny/4": (DIT, "{name: dit, params: {size: tiny, patch: 4}}"),
    "DiT-192x6/4": (DIT, "{name: dit, params: {patch: 4, width: 192, depth: 6, heads: 6}}"),
    "DiT-tiny/2": (DIT, "{name: dit, params: {size: tiny, patch: 2}}"),  # the shipped config
    "U-Net": (UNET, None),
}
DEFAULT_ROWS = list(ROWS)
METRIC = "fd_digitcnn"
MARKS = (0.5, 1.0)


def forward_gflops(net: torch.nn.Module, info) -> float:
    """FLOPs (1e9) of one forward pass for one sample; train mode so attention goes through
    ``scaled_dot_product_attention``, forced onto the math kernel the counter sees."""
    c, h, w = info.shape
    x, c_noise = torch.zeros(1, c, h, w), torch.zeros(1)
    cond = torch.zeros(1, dtype=torch.long) if info.num_classes else None
    was = net.training
    net.train()
    with sdpa_kernel(SDPBackend.MATH), FlopCounterMode(display=False) as counter, torch.no_grad():
        net(x, c_noise, cond)
    net.train(was)
    return counter.get_total_flops() / 1e9


def train_for(label: str, out: Path, args, with_floor: bool) -> dict:
    config, model = ROWS[label]
    overrides = [
        "train.steps=1000000",  # the budget stops it
        f"data.batch_size={args.batch}",
        "train.precision=fp32",
        "train.progress=false",
        "train.tensorboard=false",
        "train.seed=0",
        "sample.sampler=heun",
        "sample.steps=18",
        "sample.guidance=1.0",
        f"sample.batch_size={min(args.n, 100)}",
        f"eval.n_samples={args.n}",
    ] + ([f"model={model}"] if model else [])
    cfg = load_config(config, overrides)
    domain = get_domain(cfg.domain)
    tr = Trainer(cfg, domain, out)
    tr.check_evaluation()  # loads the reference (and the digit CNN) before timing
    net = tr.models["model"]
    net = getattr(net, "net", net)  # the backbone inside the preconditioning wrapper
    params = sum(p.numel() for p in net.parameters())
    gflops = forward_gflops(net, tr.info)
    loader = iter(tr._loader())
    marks = [args.budget * f for f in MARKS]
    curve = []
    cpu = wall = 0.0
    while marks:
        batch = next(loader)
        c0, w0 = time.process_time(), time.perf_counter()
        tr.train_step(batch.to(tr.device))
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        if cpu >= marks[0]:
            marks.pop(0)
            e0 = time.perf_counter()
            scores = tr.evaluate()
            point = {
                "step": tr.step,
                "cpu_s": round(cpu, 1),
                "wall_s": round(wall, 1),
                METRIC: scores[METRIC],
                "eval_s": round(time.perf_counter() - e0, 1),
            }
            curve.append(point)
            print(f"[{label}] {point}", flush=True)
    blocks = [curve[-1][METRIC]]
    cfg.sample.seed = args.n  # a second, disjoint block of sample seeds
    blocks.append(tr.evaluate()[METRIC])
    cfg.sample.seed = 0
    floor = None
    if with_floor:
        run = types.SimpleNamespace(config=cfg, domain=domain, info=tr.info)
        floor = data_floor(run, args.n)[0][METRIC]
    return {
        "config": config,
        "model": model,
        "params": params,
        "gflops": gflops,
        "lr": cfg.train.lr,
        "steps": tr.step,
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
        "s_per_step_cpu": cpu / tr.step,
        "curve": curve,
        "fd_blocks": blocks,
        "fd": sum(blocks) / len(blocks),
        "floor": floor,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=360.0, help="CPU-seconds of training each")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--n", type=int, default=300, help="samples scored (vs as many train digits)")
    ap.add_argument("--rows", nargs="+", default=DEFAULT_ROWS, choices=list(ROWS))
    ap.add_argument("--tag", default="", help="results file suffix")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rate = matmul_gflops(n=1024)
    root = Path(tempfile.mkdtemp(prefix="dit_scaling_"))
    results = {}
    try:
        for i, label in enumerate(args.rows):
            results[label] = train_for(label, root / str(i), args, with_floor=i == 0)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    floor = next(iter(results.values()))["floor"]
    half, full = (f"{METRIC} @{f:g} budget" for f in MARKS)
    table = []
    for label, r in results.items():
        table.append({
            "model": label,
            "params_M": r["params"] / 1e6,
            "gflops": r["gflops"],
            "s_per_step": r["s_per_step_cpu"],
            "steps @1/2": r["curve"][0]["step"],
            half: r["curve"][0][METRIC],
            "steps": r["steps"],
            full + " (2 blocks)": r["fd"],
            "blocks": " / ".join(f"{b:.3f}" for b in r["fd_blocks"]),
            "x floor": r["fd"] / floor,
        })  # fmt: skip
    spread = max(abs(r["fd_blocks"][0] - r["fd_blocks"][1]) for r in results.values())
    falls = [k for k, r in results.items() if r["curve"][0][METRIC] - r["fd"] > spread]
    best = min(results, key=lambda k: results[k]["fd"])
    notes = (
        f"16x16 digits, class-conditional EDM, batch {args.batch}, fp32, seed 0, each model "
        f"trained for {args.budget:.0f} CPU-seconds of training steps (equal training time, "
        f"not equal steps; one thread on a shared 2-core machine, measured fp32 matmul "
        f"{rate:.0f} GFLOP/s), each with its config's learning rate and EMA. Scored at "
        f"{args.budget * MARKS[0]:.0f} and {args.budget:.0f} CPU-s: EMA weights, Heun 18 steps "
        f"= 35 NFE, no guidance, {args.n} samples vs {args.n} training digits; the last point "
        f"is the mean of two seed blocks. Data floor ({args.n} held-out test digits scored the "
        f"same way): {floor:.3f}. GFLOPs: one forward, one sample.\n\n"
        f"Largest block-to-block difference at the full budget: {spread:.3f}. FD falls from "
        f"half to full budget by more than that for: {', '.join(falls) or 'none'}. Lowest FD "
        f"at the full budget: {best} ({results[best]['fd']:.3f}, "
        f"{results[best]['fd'] / floor:.1f}x the floor)."
    )
    name = "dit_scaling" + (f"_{args.tag}" if args.tag else "")
    data = {"args": {k: str(v) for k, v in vars(args).items()}, "matmul_gflops": rate,
            "floor": floor, "results": results}  # fmt: skip
    write_results(name, data, table, "DiT scaling on CPU: digits at equal training time",
                  notes, echo=True)  # fmt: skip


if __name__ == "__main__":
    main()

"""Is ``train.precision: auto`` the faster choice on this machine? For each domain's demo
config, the same Trainer runs training steps in fp32 and in bf16 (alternating blocks, so
machine load hits both alike); the table gives steps/s, the bf16/fp32 ratio measured in one
run, and what ``auto`` picks here: the native-bf16 rule alone, and the trainer's final
choice after it times one step each way on such CPUs.

    .venv/bin/python -m benchmarks.precision_auto [--steps 20] [--domains toy images ...]

Writes benchmarks/results/precision_auto.json and .md.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
import torch

from benchmarks.common import write_results
from multigen.api import demo_config
from multigen.config import load_config
from multigen.precision import cpu_bf16_features, resolve_precision
from multigen.registry import get_domain
from multigen.train.trainer import Trainer

DOMAINS = ["toy", "images", "audio", "molecules", "shapes"]


def trainer(domain: str, precision: str, root: Path) -> tuple[Trainer, iter]:
    cfg = load_config(demo_config(domain, fast=False), [f"train.precision={precision}"])
    t = Trainer(cfg, get_domain(cfg.domain), root / f"{domain}_{precision}")
    return t, iter(t._loader())


def block(t: Trainer, batches, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        t.train_step(next(batches).to(t.device))
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20, help="steps per timed block")
    ap.add_argument("--blocks", type=int, default=3, help="timed blocks per precision")
    ap.add_argument("--domains", nargs="+", default=DOMAINS)
    args = ap.parse_args()
    auto, reason = resolve_precision("auto", "cpu")  # the hardware rule alone
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for domain in args.domains:
            pair = {p: trainer(domain, p, Path(tmp)) for p in ("fp32", "bf16")}
            for t, batches in pair.values():
                block(t, batches, 3)  # warm-up: allocator, first-call dispatch
            times = {"fp32": [], "bf16": []}
            for _ in range(args.blocks):
                for p, (t, batches) in pair.items():
                    times[p].append(block(t, batches, args.steps))
            best = {p: args.steps / min(ts) for p, ts in times.items()}
            chosen, _ = trainer(domain, "auto", Path(tmp))  # the trainer's own choice
            rows.append(
                {
                    "domain": domain,
                    "batch": pair["fp32"][0].cfg.data.batch_size,
                    "fp32 steps/s": best["fp32"],
                    "bf16 steps/s": best["bf16"],
                    "bf16 / fp32": best["bf16"] / best["fp32"],
                    "native bf16 rule": auto,
                    "auto picks (trainer, timed)": chosen.precision,
                }
            )
            print(rows[-1], flush=True)
    notes = (
        f"CPU bf16 features read here: {', '.join(cpu_bf16_features()) or 'none'}; "
        f"auto: {auto} ({reason}). torch threads {torch.get_num_threads()}. Best of "
        f"{args.blocks} alternating blocks of {args.steps} training steps on each domain's "
        "demo config (`configs/<domain>/demo.yaml`)."
    )
    write_results(
        "precision_auto",
        {"rows": rows, "auto": auto, "reason": reason, "features": cpu_bf16_features()},
        rows,
        "Training speed: fp32 vs bf16 autocast, and what precision auto picks",
        notes,
    )


if __name__ == "__main__":
    main()

"""GPU path check for sessions lent a GPU: each domain's smoke config on CUDA in fp32 and
bf16, with and without torch.compile; losses must be finite, samples valid; step times
recorded in results/gpu_check.{json,md}. Sized to finish in about 5 minutes on one H100.

    python -m benchmarks.gpu_check [--domains toy images ...] [--steps 30] [--no-compile]
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
import traceback
from pathlib import Path

import torch

from benchmarks.common import write_results
from multigen.api import CONFIG_DIR
from multigen.config import load_config
from multigen.registry import domain_names, get_domain
from multigen.train.trainer import Trainer


def check(domain: str, precision: str, compile_: bool, steps: int, device: str) -> dict:
    cfg = load_config(
        CONFIG_DIR / domain / "demo_fast.yaml",
        [
            f"train.device={device}",
            f"train.precision={precision}",
            f"train.compile={compile_}",
            "train.progress=false",
            "train.tensorboard=false",
            f"train.steps={steps}",
        ],
    )
    run_dir = Path(tempfile.mkdtemp(prefix=f"gpu_{domain}_"))
    row = {"domain": domain, "precision": precision, "compile": compile_}
    try:
        tr = Trainer(cfg, get_domain(domain), run_dir)
        loader = iter(tr._loader())
        times, losses = [], []
        for i in range(steps):
            batch = next(loader).to(tr.device, non_blocking=True)
            if tr.device.type == "cuda":
                torch.cuda.synchronize()
            t = time.perf_counter()
            out = tr.train_step(batch)
            if tr.device.type == "cuda":
                torch.cuda.synchronize()
            if i >= min(5, steps // 2):  # skip warm-up/compilation steps
                times.append(time.perf_counter() - t)
            losses.append(max(float(v) for v in out.values()))
        samples = tr.generate(min(16, cfg.sample.n))
        finite = bool(torch.isfinite(samples.x).all())
        tr.domain.decode(samples, tr.info)  # must produce valid domain objects
        row.update(
            ok=all(math.isfinite(v) for v in losses) and finite,
            step_ms=1000 * sum(times) / max(len(times), 1),
            samples_per_s=cfg.data.batch_size / (sum(times) / max(len(times), 1)),
            last_loss=losses[-1],
            samples_finite=finite,
            peak_mem_mb=(torch.cuda.max_memory_allocated() / 2**20)
            if tr.device.type == "cuda"
            else 0.0,
            error="",
        )
    except Exception as exc:  # record and go on with the other cells
        row.update(ok=False, error=f"{type(exc).__name__}: {exc}"[:300])
        traceback.print_exc()
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        if torch.cuda.is_available():
            torch.cuda.reset_peak_memory_stats()
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--domains", nargs="+", default=None)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--no-compile", action="store_true")
    ap.add_argument("--device", default="cuda", help="cpu only to dry-run this script")
    args = ap.parse_args()
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: CUDA is not available (use --device cpu for a dry run)")
    domains = args.domains or [
        d for d in domain_names() if (CONFIG_DIR / d / "demo_fast.yaml").is_file()
    ]
    rows = []
    for d in domains:
        for precision in ("fp32", "bf16"):
            for comp in (False,) if args.no_compile else (False, True):
                rows.append(check(d, precision, comp, args.steps, args.device))
                print(rows[-1], flush=True)
    name = "gpu_check" if args.device == "cuda" else "gpu_check_cpu_dryrun"
    write_results(name, {"rows": rows}, rows, "GPU path check (smoke configs)")
    if not all(r["ok"] for r in rows):
        raise SystemExit("gpu_check: some cells failed (see the table)")


if __name__ == "__main__":
    main()

"""Denoising diffusion GANs (Xiao et al. 2022) at 2 and 4 steps against the DCGAN on 16×16
digits at the same training CPU time (issue 18's diffusion–GAN hybrid).

The protocol is benchmarks/stylegan2_digits.py's (its ``train_for`` runs here): each model
trains with the project's Trainer from its shipped config (``configs/images/digits_gan.yaml``
with the zoo DCGAN's widths; ``configs/images/digits_ddgan.yaml`` with ``method.timesteps``
and ``sample.steps`` set to T = 2 or 4) until its process has spent ``--budget`` CPU-seconds
in training steps (one thread; CPU time, not wall time, because the machine is shared). The
EMA generator then draws 500 samples (NFE = T for DDGAN, 1 for the DCGAN), scored with the
images domain's ``fd_digitcnn`` against 500 training digits on two disjoint seed blocks; the
data floor is the 360 test digits scored the same way.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.image_ddgan
    .venv/bin/python -m benchmarks.image_ddgan --budget 60 --tag smoke   # quick check

Writes benchmarks/results/image_ddgan.{json,md} (``--tag`` adds a suffix).
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
import torch

from benchmarks import stylegan2_digits as protocol
from benchmarks.common import write_results

METRIC = protocol.METRIC
DDGAN_CONFIG = "configs/images/digits_ddgan.yaml"
RUNS = {"dcgan": 1, "ddgan_t2": 2, "ddgan_t4": 4}  # name -> NFE


def _register() -> None:
    """The DDGAN runs as entries of the StyleGAN2 benchmark's recipe table."""
    for name, steps in RUNS.items():
        if name.startswith("ddgan"):
            protocol.CONFIGS[name] = DDGAN_CONFIG
            protocol.RECIPES[name] = [f"method.timesteps={steps}", f"sample.steps={steps}"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=480.0, help="CPU-seconds of training each")
    ap.add_argument("--runs", nargs="+", default=list(RUNS), choices=list(RUNS))
    ap.add_argument("--n-eval", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="RUN:KEY=VALUE",
        help="a config override for one run (experiments; not the recorded run)",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    _register()
    root = Path(tempfile.mkdtemp(prefix="ddgan_digits_"))
    results = {}
    start = time.perf_counter()
    try:
        for name in args.runs:
            extra = [s.partition(":")[2] for s in args.set if s.partition(":")[0] == name]
            r = protocol.train_for(name, args.budget, root / name, args.n_eval, args.seed, extra)
            r.pop("p_curve")  # ADA's; none here
            r["overrides"] = extra
            r["nfe"] = RUNS[name]
            results[name] = r
    finally:
        shutil.rmtree(root, ignore_errors=True)
    floor = next((r["floor"] for r in results.values() if r["floor"] is not None), None)
    table = []
    for name, r in results.items():
        row = {
            "method": name,
            "NFE": r["nfe"],
            "G params": r["parameters"].get("generator"),
            "D params": r["parameters"].get("discriminator"),
            "steps": r["steps"],
            "CPU s": r["cpu_s"],
            "wall s": r["wall_s"],
            "s/step (CPU)": r["s_per_step_cpu"],
            f"{METRIC} (2 blocks)": r["fd"],
            "blocks": " / ".join(f"{b:.3f}" for b in r["fd_blocks"]),
        }
        if floor is not None:
            row["excess over floor"] = r["fd"] - floor
        table.append(row)
    ratios = {
        name: r["fd"] / results["dcgan"]["fd"]
        for name, r in results.items()
        if name != "dcgan" and "dcgan" in results
    }
    curves = "\n".join(
        f"- {name}: " + ", ".join(f"{c['cpu_s']:.0f} s → {c[METRIC]:.3f}" for c in r["curve"])
        for name, r in results.items()
    )
    ratio_text = ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()) or "n/a"
    notes = (
        f"Budget {args.budget:.0f} CPU-seconds of training steps per run (one thread), "
        f"{args.n_eval} EMA samples against {args.n_eval} training digits; data floor (the 360 "
        f"test digits scored the same way) {floor if floor is None else f'{floor:.3f}'}.\n\n"
        f"FD ratio to the DCGAN: {ratio_text}.\n\n"
        f"{METRIC} against training CPU time:\n{curves}"
    )
    name = "image_ddgan" + (f"_{args.tag}" if args.tag else "")
    data = {
        "budget_cpu_s": args.budget,
        "n_eval": args.n_eval,
        "seed": args.seed,
        "floor": floor,
        "fd_ratio_to_dcgan": ratios,
        "total_wall_s": round(time.perf_counter() - start, 1),
        "results": results,
    }
    write_results(name, data, table, "DDGAN (2 and 4 steps) vs DCGAN on digits, same "
                  "training CPU time", notes, echo=True)  # fmt: skip


if __name__ == "__main__":
    main()

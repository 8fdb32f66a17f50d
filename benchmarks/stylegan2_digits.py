"""StyleGAN2-ADA against the DCGAN on 16×16 digits at the same training time (issue 18).

Each method trains with the project's Trainer from its shipped config
(``configs/images/digits_gan.yaml`` with the zoo DCGAN's widths, as ``zoo:digits-gan`` was
trained; ``configs/images/digits_stylegan2_ada.yaml``) until its
process has spent ``--budget`` CPU-seconds in training steps (one thread, OMP_NUM_THREADS=1;
CPU time rather than wall time because the machine is shared and wall time measures the
neighbours; both are recorded). At 1/4, 1/2, 3/4 and the whole budget the EMA generator draws
500 samples scored against 500 training digits (``fd_digitcnn``, the zoo's protocol; scoring
time is not charged to the budget); the last point is scored on two seed blocks. The data
floor is the test split (360 real digits) scored the same way. ADA's p and r_t are recorded
every 25 steps (the p curve).

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.stylegan2_digits
    .venv/bin/python -m benchmarks.stylegan2_digits --budget 60 --tag smoke   # quick check
    .venv/bin/python -m benchmarks.stylegan2_digits --methods progan --tag progan

Writes benchmarks/results/stylegan2_digits.{json,md} (``--tag`` adds a suffix).
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

from benchmarks.common import write_results
from multigen.config import load_config
from multigen.registry import get_domain
from multigen.train.trainer import Trainer
from multigen.zoo.scoring import data_floor

CONFIGS = {
    "dcgan": "configs/images/digits_gan.yaml",
    "stylegan2_ada": "configs/images/digits_stylegan2_ada.yaml",
    "progan": "configs/images/digits_progan.yaml",  # not in the default pair
}
METRIC = "fd_digitcnn"
# the zoo's DCGAN (zoo:digits-gan, its card's "Reproduce" line): narrower than the shipped config
RECIPES = {
    "dcgan": [
        "model.params={latent_dim: 32, channels: 32, norm: batch}",
        "discriminator.params={channels: 32, projection: true}",
    ],
    "stylegan2_ada": [],
    # growth is scheduled on train.steps: over its first 1,500 steps (grow_until 0.5); the
    # CPU budget may stop it before or after step 3,000
    "progan": ["train.steps=3000"],
}
ZOO_DCGAN = {"fd_digitcnn": 0.789, "floor": 0.578, "steps": 3000, "minutes": 11}


def train_for(
    name: str, budget: float, out: Path, n_eval: int, seed: int, extra: list[str] = ()
) -> dict:
    overrides = [
        "train.steps=1000000",  # the budget stops it
        "train.progress=false",
        "train.tensorboard=false",
        "train.precision=fp32",  # the CPU's bf16 measured slower for both nets
        f"train.seed={seed}",
        f"eval.n_samples={n_eval}",
        *RECIPES[name],
        *extra,
    ]
    cfg = load_config(CONFIGS[name], overrides)
    domain = get_domain(cfg.domain)
    tr = Trainer(cfg, domain, out)
    tr.check_evaluation()  # loads the reference (and trains the feature CNN) before timing
    params = {k: sum(p.numel() for p in m.parameters()) for k, m in tr.models.items()}
    loader = iter(tr._loader())
    marks = [budget * f for f in (0.25, 0.5, 0.75, 1.0)]
    curve, p_curve = [], []
    cpu = wall = 0.0
    while marks:
        batch = next(loader)
        c0, w0 = time.process_time(), time.perf_counter()
        tr.train_step(batch.to(tr.device))
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
        if tr.step % 25 == 0:
            logs = tr.method.log_values(tr.models)
            if "ada_p" in logs:
                p_curve.append({"step": tr.step, "cpu_s": round(cpu, 1), **logs})
        if cpu >= marks[0]:
            marks.pop(0)
            scores = tr.evaluate()
            curve.append({"step": tr.step, "cpu_s": round(cpu, 1), "wall_s": round(wall, 1),
                          METRIC: scores[METRIC]})  # fmt: skip
            print(f"[{name}] step {tr.step} cpu {cpu:.0f}s wall {wall:.0f}s "
                  f"{METRIC} {scores[METRIC]:.3f}", flush=True)  # fmt: skip
    final = curve[-1]
    blocks = [final[METRIC]]
    cfg.sample.seed = n_eval  # a second, disjoint block of sample seeds
    blocks.append(tr.evaluate()[METRIC])
    cfg.sample.seed = 0
    floor = None
    if name == "dcgan":
        run = types.SimpleNamespace(config=cfg, domain=domain, info=tr.info)
        floor = data_floor(run, n_eval)[0][METRIC]
    return {
        "config": CONFIGS[name],
        "parameters": params,
        "steps": tr.step,
        "cpu_s": round(cpu, 1),
        "wall_s": round(wall, 1),
        "s_per_step_cpu": cpu / tr.step,
        "curve": curve,
        "fd_blocks": blocks,
        "fd": sum(blocks) / len(blocks),
        "p_curve": p_curve,
        "floor": floor,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=400.0, help="CPU-seconds of training each")
    ap.add_argument("--methods", nargs="+", default=["dcgan", "stylegan2_ada"],
                    choices=list(CONFIGS))  # fmt: skip
    ap.add_argument("--n-eval", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default="")
    ap.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="METHOD:KEY=VALUE",
        help="a config override for one method (experiments; not the recorded run)",
    )
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = Path(tempfile.mkdtemp(prefix="sg2_digits_"))
    results = {}
    try:
        for name in args.methods:
            extra = [s.partition(":")[2] for s in args.set if s.partition(":")[0] == name]
            results[name] = train_for(name, args.budget, root / name, args.n_eval, args.seed, extra)
            results[name]["overrides"] = extra
    finally:
        shutil.rmtree(root, ignore_errors=True)
    floor = next((r["floor"] for r in results.values() if r["floor"] is not None), None)
    table = []
    for name, r in results.items():
        row = {
            "method": name,
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
    ratio = excess_ratio = None
    if "dcgan" in results and "stylegan2_ada" in results:
        ratio = results["stylegan2_ada"]["fd"] / results["dcgan"]["fd"]
        if floor is not None:
            excess_ratio = (results["stylegan2_ada"]["fd"] - floor) / (
                results["dcgan"]["fd"] - floor
            )
    curves = "\n".join(
        f"- {name}: " + ", ".join(f"{c['cpu_s']:.0f} s → {c[METRIC]:.3f}" for c in r["curve"])
        for name, r in results.items()
    )
    p_rows = results.get("stylegan2_ada", {}).get("p_curve", [])
    p_text = ", ".join(
        f"{row['step']}: {row['ada_p']:.3f}" for row in p_rows[:: max(1, len(p_rows) // 16)]
    )
    notes = (
        f"Budget {args.budget:.0f} CPU-seconds of training steps per method (one thread), "
        f"{args.n_eval} EMA samples against {args.n_eval} training digits; data floor "
        f"(the 360 test digits scored the same way) {floor if floor is None else f'{floor:.3f}'}."
        f"\n\nFD ratio StyleGAN2-ADA / DCGAN: {ratio if ratio is None else f'{ratio:.2f}'} "
        f"(goal ≤ 0.5); ratio of excess over the floor: "
        f"{excess_ratio if excess_ratio is None else f'{excess_ratio:.2f}'}.\n\n"
        f"{METRIC} against training CPU time:\n{curves}\n\n"
        f"ADA p by step (every 25 steps in the JSON): {p_text or 'n/a'}\n\n"
        f"The zoo's DCGAN (zoo:digits-gan): {METRIC} {ZOO_DCGAN['fd_digitcnn']} at "
        f"{ZOO_DCGAN['steps']} steps ({ZOO_DCGAN['minutes']} min), floor {ZOO_DCGAN['floor']}."
    )
    name = "stylegan2_digits" + (f"_{args.tag}" if args.tag else "")
    data = {
        "budget_cpu_s": args.budget,
        "n_eval": args.n_eval,
        "seed": args.seed,
        "floor": floor,
        "fd_ratio": ratio,
        "excess_ratio": excess_ratio,
        "zoo_dcgan": ZOO_DCGAN,
        "results": results,
    }
    write_results(name, data, table, "StyleGAN2-ADA vs DCGAN on digits, same training time",
                  notes, echo=True)  # fmt: skip


if __name__ == "__main__":
    main()

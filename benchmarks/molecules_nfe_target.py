"""Does a 50-NFE sampler reach the 1000-step stability? (the molecules issue's NFE target)

Takes the DDPM EGNN trained by ``multigen benchmark molecules_nfe`` (``--run``), draws the
same ``--n`` molecules (one seed) with ancestral DDPM at 50, 100 and 1000 steps and with
other 50-NFE samplers (Karras σ spacing, EDM Heun with churn, DDIM η = 0.5,
DPM-Solver++(2M) SDE, DDIM η = 1.5 and 3, which inject more noise than ancestral sampling and
so lower the sampling temperature), and scores
each against the embedded test split. Atom stability gets a standard error over molecules
(atoms within one molecule are not independent).

    python -m benchmarks.molecules_nfe_target [--n 512] [--threads 1]

Writes benchmarks/results/molecules_nfe_target.json and .md.
"""

from __future__ import annotations

import argparse
import os
import time

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
import numpy as np
import torch

from benchmarks.common import write_results
from multigen import api
from multigen_domains.molecules.metrics.stability import stable_atoms

PLANS = [  # the 1000-step reference last, so a broken setup fails fast
    {"sampler": "ddpm", "steps": 50},
    {"sampler": "ddpm", "steps": 50, "schedule": "karras"},
    {"sampler": "heun", "steps": 25, "churn": 30.0},
    {"sampler": "ddim", "steps": 50, "eta": 0.5},
    {"sampler": "dpmpp_2m_sde", "steps": 50},
    {"sampler": "ddim", "steps": 50, "eta": 1.5},  # η > 1: lower temperature
    {"sampler": "ddim", "steps": 50, "eta": 3.0},
    {"sampler": "ddpm", "steps": 100},
    {"sampler": "ddpm", "steps": 1000},
]
KEYS = ("atom_stability", "mol_stability", "validity", "validity_uniqueness", "fcd")
KEYS += ("atom_type_tv", "bond_length_w1", "bond_angle_w1")  # does the sampler skew the data?


def atom_stability_se(samples) -> float:
    """Standard error of pooled atom stability (a ratio over molecules: stable atoms / atoms),
    by the delta method over molecules, since atoms of one molecule are not independent."""
    stable = np.array([stable_atoms(m).sum() for m in samples], float)
    atoms = np.array([m.num_atoms for m in samples], float)
    ratio = stable.sum() / atoms.sum()
    m = len(samples)
    return float(np.sqrt(((stable - ratio * atoms) ** 2).sum() / (m * (m - 1))) / atoms.mean())


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="benchmarks/runs/molecules_nfe/runs/molecules/ddpm")
    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    run = api.load_run(args.run, device="cpu")
    rows = []
    for plan in PLANS:
        res = api.sample(run, n=args.n, seed=args.seed, **plan)
        scores = api.evaluate("molecules", res.samples, "embedded:test", strain=False)
        rows.append(
            {
                "sampler": plan["sampler"],
                "options": ", ".join(f"{k}={v}" for k, v in plan.items() if k != "sampler"),
                "NFE": res.nfe,
                **{k: scores.get(k) for k in KEYS},
                "atom stab. s.e.": atom_stability_se(res.samples),
                "sampling s": res.seconds,
            }
        )
        print(rows[-1], flush=True)
    ref = rows[-1]["atom_stability"]
    for row in rows:
        row["vs 1000 steps"] = row["atom_stability"] - ref
    notes = (
        f"Run `{args.run}` (checkpoint {run.checkpoint.name}), {args.n} molecules per row, "
        f"seed {args.seed} for every row, scored against embedded:test. 'vs 1000 steps' = "
        "atom stability minus the 1000-step row's; s.e. by the delta method over molecules. "
        f"torch threads {args.threads}, load average {os.getloadavg()[0]:.1f} at the end, "
        f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}."
    )
    write_results(
        "molecules_nfe_target",
        {"args": vars(args), "rows": rows},
        rows,
        "Molecules: 50 NFE vs the 1000-step atom stability",
        notes,
    )


if __name__ == "__main__":
    main()

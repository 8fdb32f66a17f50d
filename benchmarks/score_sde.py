"""Score SDEs on toy data (issue 17): VE and VP SDE trained at a small CPU budget, sample
quality of the reverse-SDE samplers against the probability-flow ODE at a few NFE, and the
likelihood the probability-flow ODE gives beside the data's known density.

Each method trains ``configs/toy/eight_gaussians_<method>.yaml`` (EDM as the suite's
reference row) for ``--steps`` steps. Quality: energy distance of ``--n`` samples against the
test split, beside the data floor (train split vs test at the same size). Samplers:
``euler_maruyama`` (reverse SDE), ``pc`` (reverse diffusion + one Langevin step at the
paper's snr: 0.16 VE-type, 0.01 VP-type) and the PF-ODE (``euler``; ``heun`` 2nd order).
Likelihood: ``multigen likelihood`` (RK4 in log σ, exact trace and one Rademacher probe) on
the first ``--n-nll`` test points, in nats per point in data units, beside the mixture's
exact mean negative log-density on the same points (the data's own entropy estimate).

    .venv/bin/python -m benchmarks.score_sde   # recorded: ~50 min wall on 2 loaded shared cores

Writes benchmarks/results/score_sde.{json,md}.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
import numpy as np

from benchmarks.common import write_results
from multigen import api
from multigen.zoo.scoring import data_floor

METHODS = ("vesde", "vpsde", "edm")
SAMPLERS = ("euler_maruyama", "pc", "euler", "heun")
BUDGETS = (50, 200, 1000)  # network evaluations per sample


def mixture_nll(points: np.ndarray, mixture) -> np.ndarray:
    """-log p(x) of a 2-D isotropic Gaussian mixture, per point (nats)."""
    d2 = ((points[:, None, :] - mixture.means[None]) ** 2).sum(-1)
    logk = np.log(mixture.weights)[None] - d2 / (2 * mixture.std**2)
    logk = logk - np.log(2 * np.pi * mixture.std**2)
    m = logk.max(1, keepdims=True)
    return -(m[:, 0] + np.log(np.exp(logk - m).sum(1)))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--n", type=int, default=2000)
    p.add_argument("--n-nll", type=int, default=1000)
    p.add_argument("--methods", nargs="+", default=list(METHODS))
    p.add_argument("--out", default="runs/bench_score_sde")
    p.add_argument("--retrain", action="store_true", help="train even if the run exists")
    args = p.parse_args()

    from domains.toy.data import generate

    rows, runs_info = [], {}
    floor = None
    test = generate("eight_gaussians", "test")
    pts = test.points[: args.n_nll]
    true_nll = float(mixture_nll(pts, test.mixture).mean())
    for method in args.methods:
        out = Path(args.out) / method
        t0 = time.process_time()
        wall = time.perf_counter()
        if args.retrain or not (out / "checkpoints").is_dir():
            api.train(
                f"configs/toy/eight_gaussians_{method}.yaml",
                out=out,
                overrides=[f"train.steps={args.steps}", "train.progress=false",
                           "train.checkpoint_every=100000", f"eval.n_samples={args.n}",
                           f"sample.n={args.n}"],
            )  # fmt: skip
        train_cpu = time.process_time() - t0
        train_wall = time.perf_counter() - wall
        run = api.load_run(out)
        if floor is None:
            floor = data_floor(run, args.n)[0]["energy_distance"]
        runs_info[method] = {"train_cpu_s": train_cpu, "train_wall_s": train_wall}
        for sampler in SAMPLERS:
            spec = run.method.sampler(sampler)
            for budget in BUDGETS:
                steps = spec.steps_for_nfe(budget, corrector_steps=1)
                t = time.perf_counter()
                scores = api.evaluate_run(run, n=args.n, sampler=sampler, steps=steps)
                row = {
                    "method": method,
                    "row": f"sample {sampler}",
                    "nfe": spec.nfe(steps, corrector_steps=1),
                    "energy_distance": scores["energy_distance"],
                    "floor": floor,
                    "x_floor": scores["energy_distance"] / floor,
                    "modes": scores.get("modes_covered"),
                    "hq_fraction": scores.get("hq_fraction"),
                    "nll": None,
                    "nll_true": None,
                    "seconds": time.perf_counter() - t,
                }
                print(row, flush=True)
                rows.append(row)
        for label, kw in (
            ("likelihood exact", {"exact": True, "steps": 64}),
            ("likelihood exact", {"exact": True, "steps": 32}),
            ("likelihood hutchinson", {"probes": 1, "steps": 64}),
        ):
            t = time.perf_counter()
            res = api.likelihood(run, data="eight_gaussians:test", n=args.n_nll, **kw)
            row = {
                "method": method,
                "row": f"{label} rk4x{kw['steps']}",
                "nfe": int(res["nfe"]),
                "energy_distance": None,
                "floor": None,
                "x_floor": None,
                "modes": None,
                "hq_fraction": None,
                "nll": res["nll"],
                "nll_se": res["nll_se"],
                "nll_true": true_nll,
                "seconds": time.perf_counter() - t,
            }
            print(row, flush=True)
            rows.append(row)
    table = [{k: v for k, v in r.items() if k != "nll_se"} for r in rows]
    notes = (
        f"Toy eight_gaussians, {args.steps} training steps per method (MLP 128x3, batch 512, "
        f"EMA 0.995), {args.n} samples vs the test split; floor = the train split scored the "
        "same way. nfe: network evaluations per sample (pc: predictor + 1 corrector per "
        "step). NLL: nats per point in data units on the first "
        f"{args.n_nll} test points, model density at its lowest trained σ; nll_true: the "
        "mixture's exact mean -log p on the same points. Training CPU seconds per method: "
        + ", ".join(f"{m} {v['train_cpu_s']:.0f}" for m, v in runs_info.items())
    )
    write_results(
        "score_sde",
        {"args": vars(args), "runs": runs_info, "rows": rows, "true_nll": true_nll},
        table,
        "Score SDEs on toy: samplers and probability-flow likelihood",
        notes,
        echo=True,
    )


if __name__ == "__main__":
    main()

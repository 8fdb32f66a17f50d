"""Sample quality vs. network evaluations (NFE) on the embedded shapes.

Trains one model per method with ``configs/shapes/embedded_{ddpm,edm,flow,gan}.yaml``
(steps overridable), samples each with every sampler that applies at several NFE, and
scores 1-NNA-CD and COV-CD (PointFlow conventions, data units) against the test split.
A ``data`` row scores held-out shapes of another seed the same way (the floor at this N).

    .venv/bin/python benchmarks/shapes_quality_vs_nfe.py                  # ~30+ min, 2 cores
    .venv/bin/python benchmarks/shapes_quality_vs_nfe.py --quick          # a smoke run

Writes benchmarks/results/shapes_quality_vs_nfe.json and .md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import write_results  # noqa: E402
from domains.shapes import data  # noqa: E402
from multigen import api  # noqa: E402
from multigen.diffusion.samplers import NFE, steps_for_nfe  # noqa: E402

SAMPLERS = {
    "ddpm": ["ddim", "heun", "dpmpp_2m"],
    "edm": ["euler", "heun", "dpmpp_2m"],
    "flow": ["euler", "heun"],
    "gan": ["generator"],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", nargs="+", default=list(SAMPLERS))
    p.add_argument("--nfe", nargs="+", type=int, default=[10, 20, 50])
    p.add_argument("--train-steps", type=int, default=None, help="default: the config's")
    p.add_argument("--n", type=int, default=64, help="samples per row (reference: same)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--name", default="shapes_quality_vs_nfe")
    args = p.parse_args()
    if args.quick:
        args.train_steps, args.nfe, args.n = 20, [4], 12
        args.name = "shapes_quality_vs_nfe_quick"
    torch.set_num_threads(args.threads)
    dom = api.get_domain("shapes")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        held_out = data.embedded(
            None, "test", n_points=512, n_test=25, seed=7, normalization="none"
        )
        for method in args.methods:
            overrides = [f"train.steps={args.train_steps}"] if args.train_steps else []
            overrides += [
                "train.tensorboard=false",
                "train.progress=false",
                f"eval.n_samples={args.n}",
                "eval.options.metrics=[cd]",
            ]
            t = time.perf_counter()
            run = api.train(
                f"configs/shapes/embedded_{method}.yaml",
                out=Path(tmp) / method,
                overrides=overrides,
            )
            train_s = time.perf_counter() - t
            loaded = api.load_run(run)
            ref = None
            for sampler in SAMPLERS[method]:
                for target in [1] if sampler == "generator" else args.nfe:
                    steps = 1 if sampler == "generator" else steps_for_nfe(sampler, target)
                    res = api.sample(
                        loaded,
                        n=args.n,
                        sampler=None if sampler == "generator" else sampler,
                        steps=steps,
                        seed=0,
                    )
                    if ref is None:
                        from multigen.train.trainer import reference_samples

                        ref = reference_samples(dom, loaded.config, loaded.info, args.n)
                    scores = dom.evaluate(res.samples, ref, metrics=["cd"])
                    nfe = 1 if sampler == "generator" else NFE[sampler](steps)
                    rows.append(
                        {
                            "method": method,
                            "sampler": sampler,
                            "nfe": nfe,
                            "nna_cd": scores["nna_cd"],
                            "cov_cd": scores["cov_cd"],
                            "mmd_cd": scores["mmd_cd"],
                            "sample_s": res.seconds,
                            "train_s": train_s,
                        }
                    )
                    print(rows[-1], flush=True)
        if ref is not None:
            scores = dom.evaluate(held_out.fixed_clouds(args.n), ref, metrics=["cd"])
            rows.append(
                {
                    "method": "data",
                    "sampler": "-",
                    "nfe": 0,
                    **{k: scores[k] for k in ("nna_cd", "cov_cd", "mmd_cd")},
                    "sample_s": 0.0,
                    "train_s": 0.0,
                }
            )
    table = [
        {
            "method": r["method"],
            "sampler": r["sampler"],
            "NFE": r["nfe"],
            "1-NNA-CD (50% ideal)": r["nna_cd"],
            "COV-CD (↑)": r["cov_cd"],
            "MMD-CD (↓)": r["mmd_cd"],
            "sampling s": r["sample_s"],
        }
        for r in rows
    ]
    notes = (
        f"{args.n} samples vs {args.n} test shapes, 512 points, data units; "
        f"train steps: {args.train_steps or 'config'}. 'data' = held-out shapes of "
        "another seed scored the same way."
    )
    write_results(
        args.name,
        {"args": vars(args), "rows": rows},
        table,
        "Shapes: quality vs NFE (embedded shapes, CPU)",
        notes,
    )


if __name__ == "__main__":
    main()

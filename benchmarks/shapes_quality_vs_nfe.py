"""Sample quality vs. network evaluations (NFE) on the embedded shapes.

Trains one model per method with ``configs/shapes/embedded_{ddpm,edm,flow,gan}.yaml``
(steps overridable), samples each with every sampler that applies at several NFE, and
scores 1-NNA-CD and COV-CD (PointFlow conventions, data units) against the test split.
A ``data`` row scores held-out shapes of another seed the same way (the floor at this N).

    .venv/bin/python benchmarks/shapes_quality_vs_nfe.py                  # ~20 min CPU
    .venv/bin/python benchmarks/shapes_quality_vs_nfe.py --quick          # a smoke run

Writes benchmarks/results/shapes_quality_vs_nfe.json and .md.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as multigen does, before torch loads

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import RESULTS, write_results  # noqa: E402
from multigen import api  # noqa: E402
from multigen.diffusion.samplers import get_sampler  # noqa: E402
from multigen_domains.shapes import data  # noqa: E402

SAMPLERS = {
    "ddpm": ["ddpm", "ddim", "heun", "dpmpp_2m"],
    "edm": ["euler", "heun", "dpmpp_2m"],
    "flow": ["euler", "heun"],
    "gan": ["generator"],
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--methods", nargs="+", default=list(SAMPLERS))
    p.add_argument("--nfe", nargs="+", type=int, default=[10, 20, 50, 100])
    p.add_argument(
        "--ddpm-full", type=int, default=1000, help="also run DDPM ancestral at this NFE (0: no)"
    )
    p.add_argument("--precision", default="bf16", choices=["fp32", "bf16"])
    p.add_argument(
        "--net",
        default="pointnet",
        choices=["pointnet", "config"],
        help="pointnet: every diffusion/flow method uses the PointNet denoiser w128 d4 "
        "(comparable rows, and the transformer would triple the CPU time); config: as set",
    )
    p.add_argument("--train-steps", type=int, default=1000, help="0: the config's (2000-3000)")
    p.add_argument("--n", type=int, default=64, help="samples per row (reference: same)")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--gan-steps", type=int, default=300, help="GAN steps (slower per step)")
    p.add_argument("--merge", action="store_true", help="keep saved rows of other methods")
    p.add_argument("--from-log", help="import rows printed by an interrupted run, then merge")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--name", default="shapes_quality_vs_nfe")
    args = p.parse_args()
    if args.quick:
        args.train_steps, args.nfe, args.n, args.ddpm_full = 20, [4], 12, 0
        args.name = "shapes_quality_vs_nfe_quick"
    torch.set_num_threads(args.threads)
    dom = api.get_domain("shapes")
    rows: list[dict] = []
    saved = RESULTS / f"{args.name}.json"
    if (args.merge or args.from_log) and saved.is_file():
        rows = json.loads(saved.read_text())["rows"]
    if args.from_log:
        lines = Path(args.from_log).read_text().splitlines()
        rows += [ast.literal_eval(x) for x in lines if x.startswith("{'method'")]
    redo = set(args.methods) | {"data"} if not args.from_log else set()
    rows = [r for r in rows if r["method"] not in redo]
    if args.from_log:
        args.methods = []
    ref = None
    with tempfile.TemporaryDirectory() as tmp:
        held_out = data.embedded(
            None, "test", n_points=512, n_test=25, seed=7, normalization="none"
        )
        for method in args.methods:
            steps = args.gan_steps if method == "gan" else args.train_steps
            overrides = [f"train.steps={steps}"] if steps else []
            overrides += [
                "train.tensorboard=false",
                "train.progress=false",
                f"train.precision={args.precision}",
                f"eval.n_samples={args.n}",
                "eval.options.metrics=[cd]",
            ]
            if args.net == "pointnet" and method != "gan":
                overrides += ["model.name=pointnet", "model.params={width: 128, depth: 4}"]
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
                targets = [1] if sampler == "generator" else list(args.nfe)
                if sampler == "ddpm" and args.ddpm_full:
                    targets.append(args.ddpm_full)
                for target in targets:
                    spec = None if sampler == "generator" else get_sampler(sampler)
                    steps = 1 if spec is None else spec.steps_for_nfe(target)
                    res = api.sample(
                        loaded,
                        n=args.n,
                        sampler=None if sampler == "generator" else sampler,
                        steps=steps,
                        seed=0,
                    )
                    if ref is None:
                        from multigen.train.reference import reference_samples

                        ref = reference_samples(dom, loaded.config, loaded.info, args.n)
                    scores = dom.evaluate(res.samples, ref, metrics=["cd"])
                    nfe = 1 if sampler == "generator" else get_sampler(sampler).nfe(steps)
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
            write(rows, args)
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
    write(rows, args)


def write(rows: list[dict], args) -> None:
    rows = sorted(rows, key=lambda r: (list(SAMPLERS) + ["data"]).index(r["method"]))
    table = [
        {
            "method": r["method"],
            "sampler": r["sampler"],
            "NFE": r["nfe"],
            "1-NNA-CD (50% ideal)": r["nna_cd"],
            "COV-CD (↑)": r["cov_cd"],
            "MMD-CD (↓)": r["mmd_cd"],
            "sampling s": r["sample_s"],
            "train s": r["train_s"],
        }
        for r in rows
    ]
    notes = (
        f"{args.n} samples vs {args.n} test shapes, 512 points, data units; "
        f"train steps: {args.train_steps or 'config'} (GAN: {args.gan_steps}); "
        f"network: {args.net}; "
        f"{args.precision} training and "
        "sampling; 'data' = held-out shapes of another seed scored the same way (the "
        "floor at this N). Wall seconds on a shared 2-core machine (load average "
        f"{os.getloadavg()[0]:.1f} when written), torch threads {args.threads}."
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

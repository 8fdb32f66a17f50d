"""The joint-graph molecule model (issue 14, phase 1): can it memorise a handful of
molecules, and does quality rise with training budget on the embedded set?

- ``memorise``: per cell ``MOLECULES:STEPS`` of ``--memorise``, that many molecules of the
  embedded training split (each written ``--copies`` times into one SDF so the seeded
  80/10/10 split keeps them all in training), trained for STEPS; samples scored with the
  bond-aware protocol against those molecules, plus ``recalled`` (share of samples whose
  heavy-atom SMILES is one of them) and ``distinct_recalled`` (how many were drawn).
- ``budget``: one run on the embedded set, checkpoints at each of ``--budgets`` steps; each
  checkpoint samples ``--n`` molecules in ``--sample-steps`` Euler steps and is scored under
  both protocols (EDM's, bonds from distances; and the bond-aware one, ``*_bonds``).

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.molecules_joint
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.molecules_joint --parts memorise \\
        --memorise 1:300 --n 32 --tag quick

Writes benchmarks/results/molecules_joint.{json,md} (``--tag`` adds a suffix).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
from benchmarks.common import write_results
from multigen import api
from multigen.registry import get_domain
from multigen_domains.molecules.io import write_sdf
from multigen_domains.molecules.metrics.bonded import bonded_smiles

CONFIG = "molecules/embedded_joint.yaml"
KEYS = (
    "mol_stability_bonds",
    "atom_stability_bonds",
    "validity_bonds",
    "uniqueness_bonds",
    "connected_bonds",
    "mol_stability",
    "atom_stability",
    "validity",
)


def common(args) -> list[str]:
    return [
        f"model.params={{hidden: {args.hidden}, edge_dim: {args.edge_dim}, layers: {args.layers}}}",
        f"data.batch_size={args.batch}",
        f"train.lr={args.lr}",
        "train.warmup=100",
        "train.log_every=50",
        "train.tensorboard=false",
        "train.progress=false",
        "train.precision=fp32",
        f"sample.steps={args.sample_steps}",
        f"sample.n={args.n}",
        f"sample.batch_size={args.n}",
        f"eval.n_samples={args.n}",
        "eval.options={fcd: false, strain: false}",
        *args.set,
    ]


def losses(run: Path) -> tuple[float, float]:
    rows = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    vals = [r["loss_denoise"] for r in rows if "loss_denoise" in r]
    k = max(len(vals) // 10, 1)
    return sum(vals[:k]) / k, sum(vals[-k:]) / k


def memorise(args, work: Path, count: int, steps: int) -> dict:
    dom = get_domain("molecules")
    mols = dom.load_dataset("embedded", split="train", graph=True).mols
    chosen = [m for m in mols if m.num_atoms <= args.max_atoms][:count]
    work = work / f"memorise_{count}"
    target = {bonded_smiles(m) for m in chosen}
    sdf = write_sdf([m for m in chosen for _ in range(args.copies)], work / "few.sdf")
    ref = write_sdf(chosen, work / "ref" / "few.sdf")
    start = time.perf_counter()
    run = api.train(
        CONFIG,
        out=work / "memorise",
        overrides=[
            *common(args),
            "data.name=sdf",
            f"data.path={sdf}",
            f"train.steps={steps}",
            f"train.checkpoint_every={steps}",
            "train.ema_decay=0.99",
            f"eval.reference={ref}",
        ],
    )
    seconds = time.perf_counter() - start
    res = api.sample(run, n=args.n, steps=args.sample_steps, seed=1)
    scores = api.evaluate("molecules", res.samples, str(ref), fcd=False, strain=False)
    drawn = [bonded_smiles(m) for m in res.samples]
    first, last = losses(run)
    return {
        "part": "memorise",
        "molecules": len(chosen),
        "steps": steps,
        "train_s": round(seconds),
        "loss_first": first,
        "loss_last": last,
        **{k: scores.get(k) for k in KEYS},
        "recalled": sum(s in target for s in drawn) / len(drawn),
        "distinct_recalled": len({s for s in drawn if s in target}),
    }


def budget(args, work: Path) -> list[dict]:
    steps = max(args.budgets)
    start = time.perf_counter()
    run = api.train(
        CONFIG,
        out=work / "budget",
        overrides=[
            *common(args),
            f"train.steps={steps}",
            f"train.checkpoint_every={min(args.budgets)}",
            f"train.keep_last={len(args.budgets) * 4}",
        ],
    )
    seconds = time.perf_counter() - start
    rows = []
    for b in args.budgets:
        ckpt = run / "checkpoints" / f"step_{b:08d}"
        res = api.sample(str(run), checkpoint=str(ckpt), n=args.n, steps=args.sample_steps, seed=1)
        scores = api.evaluate("molecules", res.samples, "embedded:test", fcd=False, strain=False)
        rows.append(
            {
                "part": "budget",
                "steps": b,
                "train_s": round(seconds * b / steps),
                **{k: scores.get(k) for k in KEYS},
                "sample_s_per_1000": round(res.seconds / args.n * 1000, 1),
                "nfe": res.nfe,
            }
        )
    return rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--parts", default="memorise,budget")
    p.add_argument("--memorise", default="1:600,8:2000", help="cells MOLECULES:STEPS")
    p.add_argument("--copies", type=int, default=12)
    p.add_argument("--max-atoms", type=int, default=20)
    p.add_argument("--budgets", default="250,500,1000")
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--edge-dim", type=int, default=16)
    p.add_argument("--layers", type=int, default=4)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--n", type=int, default=64)
    p.add_argument("--sample-steps", type=int, default=100)
    p.add_argument("--tag", default="")
    p.add_argument(
        "--set",
        action="append",
        default=[],
        help="extra config override (repeatable), applied after the options above, e.g. "
        "--set method.categorical_prior=masked",
    )
    args = p.parse_args()
    args.budgets = [int(b) for b in args.budgets.split(",")]
    parts = args.parts.split(",")
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as tmp:
        if "memorise" in parts:
            for cell in args.memorise.split(","):
                count, steps = (int(v) for v in cell.split(":"))
                rows.append(memorise(args, Path(tmp), count, steps))
                print(rows[-1], flush=True)
        if "budget" in parts:
            rows += budget(args, Path(tmp))
    notes = (
        f"Network joint_egnn hidden {args.hidden}, edge_dim {args.edge_dim}, {args.layers} "
        f"layers; batch {args.batch}, lr {args.lr}, fp32, OMP_NUM_THREADS=1 on a CPU shared "
        f"with other jobs (train_s is wall time there, not a speed figure); {args.n} samples, "
        f"{args.sample_steps} Euler steps. memorise: cells molecules:steps {args.memorise}, "
        f"molecules of <= {args.max_atoms} atoms; budget: the embedded set (339 training "
        "molecules), scored against its test split. *_bonds = bond-aware protocol "
        "(generated bonds and charges); unsuffixed = EDM's (bonds from distances)."
        + (f" Extra overrides: {'; '.join(args.set)}." if args.set else "")
    )
    name = "molecules_joint" + (f"_{args.tag}" if args.tag else "")
    write_results(
        name,
        {"args": vars(args), "rows": rows},
        rows,
        "Joint-graph molecules: memorisation and quality vs budget",
        notes,
        echo=True,
    )


if __name__ == "__main__":
    main()

"""MOSES's "train" row: a seeded random subsample of MOSES train scored as if generated, with
our MOSES suite against MOSES's test and scaffold-test statistics (from the molsets wheel),
next to MOSES's published train row (ANCHORS.md).

    python -m benchmarks.molecules_moses [--n 10000] [--seed 0] [--verify]

``--verify`` also recomputes, on the whole MOSES test set (176,074 molecules), the statistics
MOSES precomputed (Morgan fingerprints, BRICS fragment and scaffold counts) with our code and
reports how exactly they agree: a check that our definitions are MOSES's.
Needs ``pip install --no-deps molsets``. Writes results/molecules_moses.{json,md}.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from benchmarks.common import write_results
from multigen_domains.molecules.moses_suite import metrics as M
from multigen_domains.molecules.moses_suite import moses_metrics, moses_reference
from multigen_domains.molecules.moses_suite.data import read_split, reference_stats

# MOSES's published train row (Polykovskiy et al. 2020; ANCHORS.md)
PUBLISHED = {
    "valid": 1.0,
    "unique@10000": 1.0,
    "FCD/Test": 0.008,
    "SNN/Test": 0.6419,
    "Frag/Test": 1.0,
    "Scaf/Test": 0.9907,
    "IntDiv": 0.8567,
    "Novelty": 1.0,
}
COLUMNS = (
    "valid",
    "unique@1000",
    "unique@10000",
    "FCD/Test",
    "SNN/Test",
    "Frag/Test",
    "Scaf/Test",
    "FCD/TestSF",
    "SNN/TestSF",
    "Frag/TestSF",
    "Scaf/TestSF",
    "IntDiv",
    "IntDiv2",
    "Filters",
    "logP",
    "SA",
    "QED",
    "weight",
    "Novelty",
)


def verify(batch: int = 20000) -> dict:
    """Our fingerprints/fragments/scaffolds of MOSES test vs the statistics MOSES shipped."""
    test = read_split("test")
    stats = reference_stats("test")
    mols = [M.mol_from_smiles(s) for s in test]
    fps = np.concatenate(
        [M.morgan_fingerprints(mols[i : i + batch]) for i in range(0, len(mols), batch)]
    )
    ref_fps = stats["SNN"]["fps"]
    frag, scaf = M.fragments(mols), M.scaffolds(mols)
    return {
        "n_test": len(test),
        "fingerprint_rows_identical": float((fps == ref_fps).all(1).mean())
        if fps.shape == ref_fps.shape
        else 0.0,
        "fragment_counts_identical": frag == stats["Frag"]["frag"],
        "fragment_cosine": M.cosine_similarity(stats["Frag"]["frag"], frag),
        "scaffold_counts_identical": scaf == stats["Scaf"]["scaf"],
        "scaffold_cosine": M.cosine_similarity(stats["Scaf"]["scaf"], scaf),
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=10000, help="train molecules scored (MOSES: 30k)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--verify", action="store_true")
    args = ap.parse_args()
    train = read_split("train")
    pick = np.random.RandomState(args.seed).choice(len(train), args.n, replace=False)
    sample = [train[i] for i in pick]
    t = time.perf_counter()
    ours = moses_metrics(sample, moses_reference())
    seconds = time.perf_counter() - t
    rows = [
        {"row": f"train subsample, n={args.n}, seed {args.seed} (ours)"}
        | {k: ours.get(k, "-") for k in COLUMNS},
        {"row": "MOSES train row (published)"} | {k: PUBLISHED.get(k, "-") for k in COLUMNS},
    ]
    data = {"n": args.n, "seed": args.seed, "seconds": seconds, "ours": ours}
    notes = (
        f"Our MOSES suite (RDKit, written from the definitions; molsets' own code does not "
        f"import on this stack) on {args.n} random MOSES train SMILES against MOSES's test "
        "(/Test) and scaffold-test (/TestSF) statistics shipped in the molsets wheel; novelty "
        "against MOSES train, so a train subsample scores 0 by definition (the published row "
        f"lists 1.0). MOSES scores 30,000 molecules. Suite time {seconds:.0f} s on 2 CPU cores."
    )
    if args.verify:
        t = time.perf_counter()
        data["verify"] = verify()
        data["verify"]["seconds"] = time.perf_counter() - t
        notes += f" Check of our definitions against MOSES's own test statistics: {data['verify']}"
    write_results("molecules_moses", data, rows, "MOSES: train row, ours vs published", notes)
    print(notes)
    for r in rows:
        print(r)


if __name__ == "__main__":
    main()

"""QM9's "data" row with EDM's protocol, next to EDM's published one (Hoogeboom et al. 2022,
Table 2: atom stability 99.0 %, molecule stability 95.2 %, validity 97.7 %, V×U 97.7 %).

    python -m benchmarks.molecules_qm9_data [--fcd]

Rows: QM9 test (13,083) scored against QM9 train (100,000) as samples would be — the same
code path as ``multigen evaluate --domain molecules --samples qm9:test --reference
qm9:train`` — and QM9 train scored on its own (no reference; EDM's data row describes the
dataset). Bonds from distances with EDM's table; uniqueness/novelty as EDM defines them
(largest fragment, canonical SMILES with explicit H) and the heavy-atom variants. Needs the
qm9pack wheel (``pip install 'multigen[qm9]'``). Writes results/molecules_qm9_data.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from benchmarks.common import write_results
from multigen import api

EDM_DATA_ROW = {"atom_stability": 0.990, "mol_stability": 0.952, "validity": 0.977}
EDM_DATA_ROW["validity_uniqueness"] = 0.977
KEYS = (
    "n_samples",
    "atom_stability",
    "mol_stability",
    "validity",
    "uniqueness",
    "validity_uniqueness",
    "novelty",
    "uniqueness_heavy",
    "novelty_heavy",
    "connected",
    "fcd",
)


def row(label: str, scores: dict, seconds: float | None = None) -> dict:
    out = {"row": label}
    for k in KEYS:
        v = scores.get(k)
        out[k] = "-" if v is None else (int(v) if k == "n_samples" else float(v))
    out["seconds"] = "-" if seconds is None else round(seconds, 1)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fcd", action="store_true", help="also FCD (ChemNet on 100k SMILES)")
    ap.add_argument("--train-alone", action="store_true", help="also score train by itself")
    ap.add_argument(
        "--scores",
        help="the test-vs-train scores from `multigen evaluate --domain molecules --samples "
        "qm9:test --reference qm9:train --out FILE` instead of computing them again",
    )
    args = ap.parse_args()
    dom = api.get_domain("molecules")
    opts = {"fcd": args.fcd, "strain": False}
    t = time.perf_counter()
    if args.scores:
        vs_train, t_test = json.loads(Path(args.scores).read_text()), None
        if int(vs_train.get("n_samples", 0)) != 13_083:
            raise SystemExit(f"{args.scores}: not QM9 test (n_samples {vs_train.get('n_samples')})")
    else:
        vs_train = api.evaluate(dom, dom.reference("qm9:test"), "qm9:train", **opts)
        t_test = time.perf_counter() - t
    source = f"scores read from {args.scores}" if args.scores else "scored in this run"
    rows = [row(f"QM9 test vs train (ours, {source})", vs_train, t_test)]
    diff = {k: round(100 * (vs_train[k] - v), 2) for k, v in EDM_DATA_ROW.items() if k in vs_train}
    diff_train = None
    if args.train_alone:
        t = time.perf_counter()
        alone = api.evaluate(dom, dom.reference("qm9:train"), None, **opts)
        rows.append(row("QM9 train, alone (ours)", alone, time.perf_counter() - t))
        diff_train = {k: round(100 * (alone[k] - v), 2) for k, v in EDM_DATA_ROW.items()}
    rows.append(row("EDM data row (published)", EDM_DATA_ROW))
    notes = (
        "QM9 from the qm9pack wheel (DFT geometries, with H), EDM's split (Cormorant's, NumPy "
        "seed 0): the same molecules EDM used. Bonds from distances with EDM's table; "
        "uniqueness/novelty/V×U = EDM's definition (largest fragment, canonical SMILES with "
        "explicit H; novelty against the reference's whole-molecule SMILES), *_heavy = "
        "hydrogens removed before canonicalising. Ours minus EDM's published data row, "
        f"percentage points: test vs train {diff}"
        + (f"; train alone {diff_train}." if diff_train else ".")
    )
    write_results(
        "molecules_qm9_data",
        {"rows": rows, "minus_edm_pp": {"test_vs_train": diff, "train_alone": diff_train}},
        rows,
        "QM9 data row (EDM protocol) vs EDM's published data row",
        notes,
        echo=True,
    )


if __name__ == "__main__":
    main()

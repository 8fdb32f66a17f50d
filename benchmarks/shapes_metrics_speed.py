"""Point-cloud metric speed: 1-NNA under CD and EMD, exact vs. fast EMD (CPU).

Sections (each writes its numbers as soon as it finishes):

A. Full scale (default 200 vs 200 clouds of 2048 points, embedded procedural shapes,
   two disjoint sets): time of the CD pass (all 79,800 pairs, KD-trees), time of the fast
   EMD neighbour search (``emd_mode=fast``), and the exact Hungarian EMD per pair measured
   on a random subset of pairs, extrapolated to all pairs (running it would take hours).
B. Validation (default 100 vs 100 clouds of 512 points): the fast search against the
   exact-neighbour search (whose 1-NNA/MMD/COV equal the full exact matrices' values,
   guaranteed by lower bounds; also checked against full exact matrices in the tests).
C. Sinkhorn (the GPU-oriented entropic EMD): relative error and time per pair vs. exact.

    .venv/bin/python benchmarks/shapes_metrics_speed.py            # default sizes
    .venv/bin/python benchmarks/shapes_metrics_speed.py --quick    # a smoke run

Writes benchmarks/results/shapes_metrics_speed.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import write_results  # noqa: E402
from domains.shapes import data, distances  # noqa: E402
from multigen.metrics.nna import mmd_coverage, one_nna  # noqa: E402

ANCHOR_EXACT_PAIR_S = 0.53  # ANCHORS.md: scipy Hungarian, two 2048-point clouds


def two_sets(n: int, points: int) -> tuple[np.ndarray, np.ndarray]:
    """Two disjoint sets of procedural shapes (different seeds), class-balanced."""
    per_class = -(-n // 6)
    a = data.embedded(
        None, "train", n_train=per_class, n_points=points, seed=11, normalization="none"
    )
    b = data.embedded(None, "test", n_test=per_class, n_points=points, seed=0, normalization="none")
    rng = np.random.default_rng(0)
    pick = rng.permutation(len(a))[:n]
    return a.points[pick], b.points[rng.permutation(len(b))[:n]]


def emd_scores(d_xx, d_yy, d_xy) -> dict:
    mc = mmd_coverage(d_xy)
    return {"nna_emd": one_nna(d_xx, d_yy, d_xy), "mmd_emd": mc["mmd"], "cov_emd": mc["cov"]}


def section_full(args, out: dict) -> None:
    x, y = two_sets(args.n, args.points)
    joint = np.concatenate([x, y])
    t = time.perf_counter()
    cd, bound = distances.pairwise_chamfer(joint, joint, with_bound=True, workers=args.workers)
    t_cd = time.perf_counter() - t
    n = len(x)
    nna_cd = one_nna(cd[:n, :n], cd[n:, n:], cd[:n, n:])
    pairs = len(joint) * (len(joint) - 1) // 2
    rng = np.random.default_rng(1)
    sample = [tuple(rng.choice(len(joint), 2, replace=False)) for _ in range(args.exact_sample)]
    times = []
    for i, j in sample:
        t = time.perf_counter()
        distances.emd_exact(joint[i], joint[j])
        times.append(time.perf_counter() - t)
    t_pair = float(np.median(times))
    out["full"] = {
        "n": n,
        "points": args.points,
        "pairs": pairs,
        "cd_seconds": t_cd,
        "cd_ms_per_pair": 1e3 * t_cd / pairs * args.workers,
        "nna_cd": nna_cd,
        "exact_pair_seconds_median": t_pair,
        "exact_pairs_timed": len(times),
        "exact_all_pairs_seconds_extrapolated": pairs * t_pair / args.workers,
    }
    save(out)
    t = time.perf_counter()
    d_xx, d_yy, d_xy, stats = distances.emd_neighbour_matrices(
        x, y, mode="fast", top_k=args.top_k, chamfer=cd, lower_bound=bound, workers=args.workers
    )
    t_fast = time.perf_counter() - t
    out["full"].update(
        {
            "fast_emd_seconds": t_fast,
            "fast_total_seconds": t_fast + t_cd,
            "fast_exact_pairs": stats["exact_pairs"],
            "fast_certified": stats["certified"],
            **{f"fast_{k}": v for k, v in emd_scores(d_xx, d_yy, d_xy).items()},
            "speedup_vs_exact_all_pairs": out["full"]["exact_all_pairs_seconds_extrapolated"]
            / (t_fast + t_cd),
            "max_nna_deviation_bound": 1.0 - stats["certified"],
        }
    )
    save(out)


def candidate_pairs(cd: np.ndarray, bound: np.ndarray, n: int, top_k: int) -> int:
    """Unique pairs the fast search solves: each query's top_k by bound and by CD."""
    total = len(cd)
    all_idx, gen_idx, ref_idx = np.arange(total), np.arange(n), np.arange(n, total)
    queries = [(i, all_idx) for i in range(total)]
    queries += [(i, ref_idx) for i in range(n)] + [(j, gen_idx) for j in range(n, total)]
    todo = set()
    for row, cols in queries:
        for proxy in (bound, cd):
            vals = np.where(cols == row, np.inf, proxy[row, cols])
            todo.update((min(row, c), max(row, c)) for c in cols[np.argsort(vals)[:top_k]])
    return len(todo)


def section_estimate(args, out: dict) -> None:
    """Full-scale cost from measured parts, for machines where running it all is too slow:
    the CD pass timed on a subset of rows, exact EMD timed on random pairs, and the number
    of pairs the fast search would solve counted on the same shapes at fewer points."""
    x, y = two_sets(args.n, args.points)
    joint = np.concatenate([x, y])
    total = len(joint)
    pairs = total * (total - 1) // 2
    rows = joint[: args.cd_rows]
    t = time.perf_counter()
    distances.pairwise_chamfer(rows, joint, workers=args.workers)
    t_rows = time.perf_counter() - t
    t_cd = t_rows * pairs / (len(rows) * total)  # the symmetric pass does each pair once
    rng = np.random.default_rng(1)
    times = []
    for _ in range(args.exact_sample):
        i, j = rng.choice(total, 2, replace=False)
        t = time.perf_counter()
        distances.emd_exact(joint[i], joint[j])
        times.append(time.perf_counter() - t)
    t_pair = float(np.median(times))
    xs, ys = two_sets(args.n, args.cand_points)
    small = np.concatenate([xs, ys])
    cd, bound = distances.pairwise_chamfer(small, small, with_bound=True, workers=args.workers)
    cand = candidate_pairs(cd, bound, len(xs), args.top_k)
    t_fast = t_cd + cand * t_pair / args.workers
    t_exact = pairs * t_pair / args.workers
    out["estimate"] = {
        "n": args.n,
        "points": args.points,
        "pairs": pairs,
        "cd_rows_timed": len(rows),
        "cd_seconds_extrapolated": t_cd,
        "exact_pair_seconds_median": t_pair,
        "exact_pairs_timed": len(times),
        "candidates_counted_at_points": args.cand_points,
        "fast_candidate_pairs": cand,
        "fast_seconds_extrapolated": t_fast,
        "exact_all_pairs_seconds_extrapolated": t_exact,
        "speedup": t_exact / t_fast,
        "workers": args.workers,
    }
    save(out)


def section_validate(args, out: dict) -> None:
    x, y = two_sets(args.val_n, args.val_points)
    joint = np.concatenate([x, y])
    cd, bound = distances.pairwise_chamfer(joint, joint, with_bound=True, workers=args.workers)
    rows = {}
    for mode in ("fast", "exact"):
        t = time.perf_counter()
        d_xx, d_yy, d_xy, stats = distances.emd_neighbour_matrices(
            x,
            y,
            mode=mode,
            top_k=args.top_k,
            chamfer=cd,
            lower_bound=bound,
            workers=args.workers,
        )
        rows[mode] = {
            "seconds": time.perf_counter() - t,
            "exact_pairs": stats["exact_pairs"],
            "certified": stats["certified"],
            **emd_scores(d_xx, d_yy, d_xy),
        }
    fast, exact = rows["fast"], rows["exact"]
    out["validate"] = {
        "n": args.val_n,
        "points": args.val_points,
        "pairs": len(joint) * (len(joint) - 1) // 2,
        **{f"{m}_{k}": v for m, r in rows.items() for k, v in r.items()},
        "nna_emd_abs_deviation": abs(fast["nna_emd"] - exact["nna_emd"]),
        "mmd_emd_rel_deviation": abs(fast["mmd_emd"] / exact["mmd_emd"] - 1),
        "cov_emd_abs_deviation": abs(fast["cov_emd"] - exact["cov_emd"]),
    }
    save(out)


def section_sinkhorn(args, out: dict) -> None:
    x, y = two_sets(args.sk_pairs, args.val_points)
    exact = np.array([distances.emd_exact(a, b) for a, b in zip(x, y)])
    res = {}
    for eps in (1e-2, 3e-3):
        t = time.perf_counter()
        approx = distances.emd_sinkhorn(torch.tensor(x), torch.tensor(y), eps=eps).numpy()
        rel = approx / exact - 1
        res[f"eps_{eps:g}"] = {
            "seconds_per_pair": (time.perf_counter() - t) / len(x),
            "rel_err_mean": float(np.abs(rel).mean()),
            "rel_err_max": float(np.abs(rel).max()),
        }
    out["sinkhorn"] = {"pairs": len(x), "points": args.val_points, **res}
    save(out)


def save(out: dict) -> None:
    table = []
    f = out.get("full")
    if f:
        table.append(
            {
                "what": f"CD pass, {f['n']} vs {f['n']} x {f['points']} pts",
                "seconds": f["cd_seconds"],
                "note": f"1-NNA-CD {f['nna_cd']:.3f}",
            }
        )
        table.append(
            {
                "what": "exact EMD, all pairs (extrapolated)",
                "seconds": f["exact_all_pairs_seconds_extrapolated"],
                "note": f"{f['exact_pair_seconds_median']:.3f} s/pair measured on "
                f"{f['exact_pairs_timed']} pairs (anchor {ANCHOR_EXACT_PAIR_S})",
            }
        )
        if "fast_emd_seconds" in f:
            table.append(
                {
                    "what": "fast EMD neighbour search (+ CD pass)",
                    "seconds": f["fast_total_seconds"],
                    "note": f"1-NNA-EMD {f['fast_nna_emd']:.4f}; solved "
                    f"{f['fast_exact_pairs']} pairs; certified "
                    f"{f['fast_certified']:.3f}; speed-up "
                    f"{f['speedup_vs_exact_all_pairs']:.0f}x",
                }
            )
    v = out.get("validate")
    if v:
        for m in ("fast", "exact"):
            table.append(
                {
                    "what": f"{m} EMD search, {v['n']} vs {v['n']} x {v['points']} pts",
                    "seconds": v[f"{m}_seconds"],
                    "note": f"1-NNA-EMD {v[f'{m}_nna_emd']:.4f}, MMD-EMD "
                    f"{v[f'{m}_mmd_emd']:.5f}, COV-EMD {v[f'{m}_cov_emd']:.3f}; "
                    f"{v[f'{m}_exact_pairs']}/{v['pairs']} pairs solved",
                }
            )
    e = out.get("estimate")
    if e:
        table.append(
            {
                "what": f"estimate: CD pass, {e['n']} vs {e['n']} x {e['points']} pts",
                "seconds": e["cd_seconds_extrapolated"],
                "note": f"timed on {e['cd_rows_timed']} rows x {2 * e['n']} clouds",
            }
        )
        table.append(
            {
                "what": "estimate: exact EMD, all pairs",
                "seconds": e["exact_all_pairs_seconds_extrapolated"],
                "note": f"{e['exact_pair_seconds_median']:.3f} s/pair (median of "
                f"{e['exact_pairs_timed']}; anchor {ANCHOR_EXACT_PAIR_S}), "
                f"{e['pairs']} pairs / {e['workers']} workers",
            }
        )
        table.append(
            {
                "what": "estimate: fast EMD search incl. CD pass",
                "seconds": e["fast_seconds_extrapolated"],
                "note": f"{e['fast_candidate_pairs']} candidate pairs (counted at "
                f"{e['candidates_counted_at_points']} pts); "
                f"speed-up {e['speedup']:.0f}x",
            }
        )
        if e["points"] == 2048:
            # The machine's slowdown, read off the exact-EMD time against the idle anchor.
            slow = e["exact_pair_seconds_median"] / ANCHOR_EXACT_PAIR_S
            table.append(
                {
                    "what": "estimate on an idle machine (fast search incl. CD)",
                    "seconds": e["fast_seconds_extrapolated"] / slow,
                    "note": f"row above / {slow:.0f} (this run's exact-EMD time over the "
                    f"anchor's {ANCHOR_EXACT_PAIR_S} s); target 600 s",
                }
            )
    s = out.get("sinkhorn")
    if s:
        for k, r in s.items():
            if k.startswith("eps_"):
                table.append(
                    {
                        "what": f"Sinkhorn {k}, {s['points']} pts",
                        "seconds": r["seconds_per_pair"],
                        "note": f"per pair; rel. error mean {r['rel_err_mean']:.4f}, "
                        f"max {r['rel_err_max']:.4f}",
                    }
                )
    notes = (
        f"Load average when written: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(other jobs shared the machine; compare rows of one run, not absolute seconds). "
        "EMD = PointFlow's: exact assignment on Euclidean distances, mean matched distance. "
        "The exact-neighbour search is exact by construction (lower bounds); the fast search "
        "solves only each query's top candidates by the bound and by CD."
    )
    write_results(args_name, out, table, "Shapes: metric speed (CPU)", notes)


def rewrite(name: str) -> None:
    """Regenerate the Markdown table from a saved JSON (after editing the table code)."""
    global args_name
    args_name = name
    old = json.loads((ROOT / "benchmarks" / "results" / f"{name}.json").read_text())
    save({k: v for k, v in old.items() if k != "machine"})


def main() -> None:
    global args_name
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=200)
    p.add_argument("--points", type=int, default=2048)
    p.add_argument("--val-n", type=int, default=100)
    p.add_argument("--val-points", type=int, default=512)
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--exact-sample", type=int, default=12)
    p.add_argument("--sk-pairs", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cd-rows", type=int, default=20)
    p.add_argument("--cand-points", type=int, default=512)
    p.add_argument(
        "--sections",
        nargs="+",
        default=["validate", "sinkhorn", "estimate"],
        help="validate, sinkhorn, estimate, full (full runs everything at full "
        "scale: ~10 min on 2 idle cores by the estimate)",
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument("--merge", action="store_true", help="keep other sections' saved results")
    p.add_argument("--name", default="shapes_metrics_speed")
    args = p.parse_args()
    if args.quick:
        args.n, args.points, args.val_n, args.val_points = 20, 256, 16, 128
        args.exact_sample, args.sk_pairs, args.name = 4, 2, "shapes_metrics_speed_quick"
        args.cd_rows, args.cand_points = 4, 128
    args_name = args.name
    torch.set_num_threads(1)  # EMD workers are processes; threads would oversubscribe
    out: dict = {"args": vars(args)}
    saved = ROOT / "benchmarks" / "results" / f"{args.name}.json"
    if args.merge and saved.is_file():
        old = json.loads(saved.read_text())
        out.update({k: v for k, v in old.items() if k not in ("machine", "args")})
    for name in args.sections:
        sections = {
            "full": section_full,
            "validate": section_validate,
            "sinkhorn": section_sinkhorn,
            "estimate": section_estimate,
        }
        sections[name](args, out)
        print(name, "done", flush=True)


args_name = "shapes_metrics_speed"

if __name__ == "__main__":
    main()

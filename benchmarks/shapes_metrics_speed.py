"""Point-cloud metric speed: 1-NNA under EMD, fast vs. proven-exact (CPU).

Sections (each writes its numbers as soon as it finishes):

pair. EMD per pair of 2048-point clouds, CPU time: scipy's Hungarian solver as is, on the
   cost matrix reduced by Sinkhorn duals (``distances.emd_exact``), and the auction
   (``distances.emd_auction``, whose proven interval is checked against the Hungarian
   value), on shape pairs and on Gaussian blobs (the input the anchor's 0.53 s was timed on).
full. The target: 1-NNA-EMD on 200 vs 200 clouds of 2048 points (two disjoint sets of
   embedded shapes, different seeds), fast method end to end on the wall clock (CD pass +
   lower bounds + auction EMD of each query's top candidates). Then the exact mode, timed
   on its own from an empty cache after the same CD pass: the lower-bound search until
   every query's nearest neighbour is proven (or ``--exact-budget`` runs out: then the
   exact 1-NNA is bounded by an interval, each undecided query counted both ways). The
   exact search's pairs are kept in ``results/<name>_emd_pairs_<n>x<points>.npz`` so a
   stopped search resumes (``--resume-exact --merge``).
validate. The fast search at top_k 1, 2, 3 against the exact search on fewer points.
sinkhorn. The entropic (GPU-oriented) EMD: error and time per pair vs. exact.
estimate. Full-scale cost extrapolated from parts (for very loaded machines).

    .venv/bin/python benchmarks/shapes_metrics_speed.py --sections pair full --top-k 2
    .venv/bin/python benchmarks/shapes_metrics_speed.py --quick --sections pair full

Writes benchmarks/results/shapes_metrics_speed.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as multigen does, before torch loads

import numpy as np  # noqa: E402
import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import write_results  # noqa: E402
from multigen.metrics.nna import mmd_coverage, one_nna  # noqa: E402
from multigen_domains.shapes import data, distances  # noqa: E402

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


def cpu_seconds() -> float:
    """CPU time of this process (all its numba threads) and any finished children."""
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def nna_interval(d_xx, d_yy, d_xy, exact: np.ndarray) -> tuple[float, float]:
    """Bounds on the exact 1-NNA from matrices whose unsolved entries hold lower bounds.

    ``exact`` marks solved entries of the joint matrix. A query's own-set minimum lies in
    [min of all entries, min of solved entries] (same for the other set); its 1-NN
    decision is known when the two intervals do not overlap (ties score 0.5 as in
    ``one_nna``), otherwise it may go either way.
    """
    joint = np.block([[d_xx, d_xy], [d_xy.T, d_yy]]).astype(np.float64)
    n, total = len(d_xx), len(joint)
    np.fill_diagonal(joint, np.inf)
    solved = np.where(exact, joint, np.inf)
    lo, hi = 0.0, 0.0
    for r in range(total):
        own = slice(0, n) if r < n else slice(n, total)
        other = slice(n, total) if r < n else slice(0, n)
        own_lo, own_hi = joint[r, own].min(), solved[r, own].min()
        oth_lo, oth_hi = joint[r, other].min(), solved[r, other].min()
        if own_hi < oth_lo:
            lo, hi = lo + 1, hi + 1
        elif oth_hi < own_lo:
            pass
        elif own_lo == own_hi == oth_lo == oth_hi:
            lo, hi = lo + 0.5, hi + 0.5
        else:
            hi += 1
    return lo / total, hi / total


def cache_path(args) -> Path:
    return ROOT / "benchmarks" / "results" / f"{args.name}_emd_pairs_{args.n}x{args.points}.npz"


def save_cache(args, cache: dict) -> None:
    keys = np.array(sorted(cache), dtype=np.int32).reshape(-1, 2)
    vals = np.array([cache[tuple(k)] for k in keys.tolist()], dtype=np.float64)
    np.savez_compressed(cache_path(args), pairs=keys, emd=vals)


def load_cache(args) -> dict:
    path = cache_path(args)
    if not path.is_file():
        return {}
    z = np.load(path)
    return {(int(i), int(j)): float(v) for (i, j), v in zip(z["pairs"], z["emd"])}


def proxies_path(args) -> Path:
    return ROOT / "benchmarks" / "results" / f"{args.name}_proxies_{args.n}x{args.points}.npz"


def section_full(args, out: dict) -> None:
    """The target run: 1-NNA-EMD, 200 vs 200 x 2048 points, fast method end to end (timed
    on wall clock), then the exact value by the lower-bound search (not timed against the
    target; it reuses the fast run's solved pairs and runs until complete or --deadline)."""
    x, y = two_sets(args.n, args.points)
    joint = np.concatenate([x, y])
    n, total = len(x), len(joint)
    if args.resume_exact:  # continue a stopped exact search: no timed part
        z = np.load(proxies_path(args))
        exact_part(args, out, x, y, z["cd"], z["bound"], load_cache(args))
        return
    pairs = total * (total - 1) // 2
    distances.pairwise_chamfer(joint[:2, :8], joint[:2, :8])  # first-ever call compiles
    distances.emd_auction(joint[0, :8], joint[1, :8])
    load0 = os.getloadavg()
    t0, c0 = time.perf_counter(), cpu_seconds()
    cd, bound = distances.pairwise_chamfer(joint, joint, with_bound=True, workers=args.workers)
    t_cd = time.perf_counter() - t0
    np.savez_compressed(proxies_path(args), cd=cd, bound=bound)  # outside the timing
    t0 += time.perf_counter() - t0 - t_cd
    nna_cd = one_nna(cd[:n, :n], cd[n:, n:], cd[:n, n:])
    cache: dict = {}
    d_xx, d_yy, d_xy, stats = distances.emd_neighbour_matrices(
        x,
        y,
        mode="fast",
        top_k=args.top_k,
        chamfer=cd,
        lower_bound=bound,
        workers=args.workers,
        cache=cache,
    )
    t_total = time.perf_counter() - t0
    cpu_total = cpu_seconds() - c0
    load1 = os.getloadavg()
    fast = emd_scores(d_xx, d_yy, d_xy)
    out["full"] = {
        "n": n,
        "points": args.points,
        "pairs": pairs,
        "workers": args.workers,
        "top_k": args.top_k,
        "load_avg_1_5_15_before": load0,
        "load_avg_1_5_15_after": load1,
        "cd_seconds": t_cd,
        "nna_cd": nna_cd,
        "fast_emd_seconds": t_total - t_cd,
        "fast_total_seconds": t_total,
        "fast_total_cpu_seconds": cpu_total,
        "fast_exact_pairs": stats["exact_pairs"],
        "fast_emd_seconds_per_pair_wall": (t_total - t_cd) / max(stats["exact_pairs"], 1),
        "fast_certified": stats["certified"],
        **{f"fast_{k}": v for k, v in fast.items()},
        "target_seconds": 600,
    }
    save(out)
    save_cache(args, cache)
    # The exact mode timed on its own: the CD pass above, then the proven search from an
    # empty cache (the fast run's pairs are not reused, so the two timings are separate).
    exact_part(args, out, x, y, cd, bound, {})


def exact_part(args, out: dict, x, y, cd, bound, cache: dict) -> None:
    """The exact-neighbour search from the solved pairs in ``cache``, in saved slices.
    Solved pairs are saved to ``cache_path`` as it goes (``--resume-exact`` continues)."""
    total = len(x) + len(y)
    fast = {k[5:]: v for k, v in out["full"].items() if k.startswith("fast_")}
    deadline = time.time() + args.exact_budget
    t_exact = 0.0
    while True:
        t = time.perf_counter()
        d_xx, d_yy, d_xy, st = distances.emd_neighbour_matrices(
            x,
            y,
            mode="exact",
            top_k=args.top_k,
            chamfer=cd,
            lower_bound=bound,
            workers=args.workers,
            cache=cache,
            max_seconds=min(args.slice_seconds, max(deadline - time.time(), 1.0)),
        )
        t_exact += time.perf_counter() - t
        save_cache(args, cache)
        mask = np.zeros((total, total), bool)
        for i, j in cache:
            mask[i, j] = mask[j, i] = True
        lo, hi = nna_interval(d_xx, d_yy, d_xy, mask)
        ex = emd_scores(d_xx, d_yy, d_xy)
        out["full"].update(
            {
                "exact_complete": st["complete"],
                "exact_pairs_solved": len(cache),
                "exact_search_seconds": t_exact,
                "exact_total_seconds": out["full"].get("cd_seconds", 0.0) + t_exact,
                "exact_nna_undecided_queries": st["nna_undecided"],
                "exact_nna_emd_interval": [lo, hi],
                "exact_certified_queries": st["certified"],
                **({f"exact_{k}": v for k, v in ex.items()} if st["complete"] else {}),
                "nna_emd_max_abs_deviation_pp": 100
                * max(abs(fast["nna_emd"] - lo), abs(fast["nna_emd"] - hi)),
                "load_avg_1_5_15_exact_end": os.getloadavg(),
            }
        )
        save(out)
        print(
            f"exact search: {len(cache)} pairs, undecided {st['nna_undecided']}, "
            f"1-NNA-EMD in [{lo:.4f}, {hi:.4f}], {t_exact:.0f} s",
            flush=True,
        )
        if st["complete"] or time.time() >= deadline:
            break


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


def section_pair(args, out: dict) -> None:
    """Exact EMD per pair: scipy's solver as is vs. on the dual-reduced matrix (CPU time)."""
    x, y = two_sets(args.pair_n, args.points)
    rng = np.random.default_rng(2)
    res: dict = {"points": args.points, "pairs": args.pair_n}
    for kind in ("shapes", "gaussian"):
        if kind == "gaussian":
            x, y = rng.normal(size=(2, args.pair_n, args.points, 3))
        vals = {}
        for how in ("cold", "warm"):
            times, vals[how] = [], []
            for a, b in zip(x, y):
                c = time.process_time()
                vals[how].append(distances.emd_exact(a, b, warm_start=how == "warm"))
                times.append(time.process_time() - c)
            res[f"{kind}_{how}"] = {
                "cpu_median": float(np.median(times)),
                "cpu_max": float(np.max(times)),
            }
        res[f"{kind}_same"] = bool(np.allclose(vals["cold"], vals["warm"], rtol=1e-12, atol=0))
        times, bounds = [], []
        distances.emd_auction(x[0][:8], y[0][:8])  # numba compiles on the first call ever
        for a, b in zip(x, y):
            c = time.process_time()
            bounds.append(distances.emd_auction(a, b))
            times.append(time.process_time() - c)
        lo, hi = np.array(bounds).T
        exact, tol = np.array(vals["cold"]), 1e-12
        res[f"{kind}_auction"] = {
            "cpu_median": float(np.median(times)),
            "cpu_max": float(np.max(times)),
            "contains_exact": bool(np.all((lo <= exact * (1 + tol)) & (exact <= hi * (1 + tol)))),
            "max_rel_width": float(np.max((hi - lo) / exact)),
            "max_rel_error_upper": float(np.max(np.abs(hi - exact) / exact)),
        }
    out["pair"] = res
    save(out)


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
    """Fast search at several top_k against the exact-neighbour search (fewer points)."""
    x, y = two_sets(args.val_n, args.val_points)
    joint = np.concatenate([x, y])
    cd, bound = distances.pairwise_chamfer(joint, joint, with_bound=True, workers=args.workers)
    rows, union = {}, {}
    for k in args.val_top_ks:
        cache: dict = {}
        t = time.perf_counter()
        d_xx, d_yy, d_xy, stats = distances.emd_neighbour_matrices(
            x,
            y,
            mode="fast",
            top_k=k,
            chamfer=cd,
            lower_bound=bound,
            workers=args.workers,
            cache=cache,
        )
        union.update(cache)
        rows[f"fast_top{k}"] = {
            "seconds": time.perf_counter() - t,
            "exact_pairs": stats["exact_pairs"],
            "certified": stats["certified"],
            **emd_scores(d_xx, d_yy, d_xy),
        }
    t = time.perf_counter()
    d_xx, d_yy, d_xy, stats = distances.emd_neighbour_matrices(
        x, y, mode="exact", chamfer=cd, lower_bound=bound, workers=args.workers, cache=union
    )
    exact = {
        "seconds": time.perf_counter() - t,
        "exact_pairs": len(union),
        "certified": stats["certified"],
        **emd_scores(d_xx, d_yy, d_xy),
    }
    rows["exact"] = exact
    for r in rows.values():
        r["nna_emd_abs_deviation"] = abs(r["nna_emd"] - exact["nna_emd"])
        r["mmd_emd_rel_deviation"] = abs(r["mmd_emd"] / exact["mmd_emd"] - 1)
        r["cov_emd_abs_deviation"] = abs(r["cov_emd"] - exact["cov_emd"])
    out["validate"] = {
        "n": args.val_n,
        "points": args.val_points,
        "pairs": len(joint) * (len(joint) - 1) // 2,
        "rows": rows,
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
    pr = out.get("pair")
    if pr:
        for kind in ("shapes", "gaussian"):
            r = pr.get(f"{kind}_auction")
            if r:
                table.append(
                    {
                        "what": f"auction EMD per pair, {pr['points']} pts, {kind}",
                        "seconds": r["cpu_median"],
                        "note": f"CPU s, median of {pr['pairs']} pairs (max {r['cpu_max']:.2f}); "
                        f"interval contains the Hungarian value: {r['contains_exact']}; width "
                        f"<= {r['max_rel_width']:.1e}, upper vs Hungarian <= "
                        f"{r['max_rel_error_upper']:.1e} (relative)",
                    }
                )
            for how in ("cold", "warm"):
                r = pr[f"{kind}_{how}"]
                table.append(
                    {
                        "what": f"exact EMD per pair, {pr['points']} pts, {kind}, "
                        + ("scipy Hungarian as is" if how == "cold" else "dual warm start"),
                        "seconds": r["cpu_median"],
                        "note": f"CPU s, median of {pr['pairs']} pairs (max {r['cpu_max']:.2f}); "
                        f"anchor {ANCHOR_EXACT_PAIR_S} s"
                        + ("" if how == "cold" else f"; same values: {pr[kind + '_same']}"),
                    }
                )
    f = out.get("full")
    if f:
        table.append(
            {
                "what": f"CD pass, {f['n']} vs {f['n']} x {f['points']} pts ({f['pairs']} pairs)",
                "seconds": f["cd_seconds"],
                "note": f"wall; 1-NNA-CD {f['nna_cd']:.4f}",
            }
        )
        ok = "met" if f["fast_total_seconds"] <= f["target_seconds"] else "NOT met"
        table.append(
            {
                "what": "1-NNA-EMD fast method, end to end (CD pass + bounds + EMD)",
                "seconds": f["fast_total_seconds"],
                "note": f"wall, {f['workers']} workers; target {f['target_seconds']} s: {ok}; "
                f"1-NNA-EMD {f['fast_nna_emd']:.4f}; {f['fast_exact_pairs']} pairs solved "
                f"by auction (top {f['top_k']} by bound and by CD); CPU "
                f"{f['fast_total_cpu_seconds']:.0f} s; load avg "
                f"{f['load_avg_1_5_15_before'][0]:.2f} before, "
                f"{f['load_avg_1_5_15_after'][0]:.2f} after",
            }
        )
        if "exact_pairs_solved" in f:
            lo, hi = f["exact_nna_emd_interval"]
            value = (
                f"exact 1-NNA-EMD {f['exact_nna_emd']:.4f}"
                if f["exact_complete"]
                else f"search stopped: exact 1-NNA-EMD in [{lo:.4f}, {hi:.4f}] "
                f"({f['exact_nna_undecided_queries']} queries undecided)"
            )
            total = f.get("exact_total_seconds", f["exact_search_seconds"])
            ok = "met" if f["exact_complete"] and total <= f["target_seconds"] else "NOT met"
            table.append(
                {
                    "what": "1-NNA-EMD exact mode, end to end (CD pass + proven search)",
                    "seconds": total,
                    "note": f"wall ({f['exact_search_seconds']:.0f} s search from an empty "
                    f"cache after the CD pass); target {f['target_seconds']} s: {ok}; {value}; "
                    f"{f['exact_pairs_solved']}/{f['pairs']} pairs solved; fast vs exact: "
                    f"deviation <= {f['nna_emd_max_abs_deviation_pp']:.2f} points of %; "
                    f"load avg at the end {f['load_avg_1_5_15_exact_end'][0]:.2f}",
                }
            )
    v = out.get("validate")
    if v:
        for m, r in v["rows"].items():
            table.append(
                {
                    "what": f"{m} EMD search, {v['n']} vs {v['n']} x {v['points']} pts",
                    "seconds": r["seconds"],
                    "note": f"1-NNA-EMD {r['nna_emd']:.4f} (deviation "
                    f"{r['nna_emd_abs_deviation']:.4f}), MMD-EMD {r['mmd_emd']:.5f}, "
                    f"COV-EMD {r['cov_emd']:.3f}; {r['exact_pairs']}/{v['pairs']} pairs solved"
                    + ("; exact pairs include the fast runs'" if m == "exact" else ""),
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
        "(this benchmark's own threads count; the 'full' rows give the load before and "
        "after). EMD = PointFlow's: optimal assignment on Euclidean distances, mean matched "
        "distance. A solved pair = the compiled auction algorithm with eps-scaling, which "
        "returns an assignment (upper bound) and a dual (lower bound) at most 1e-7 apart "
        "(relative): the EMD to that precision, with proof; the 'pair' rows check that the "
        "interval contains scipy's Hungarian value. Exactness of the search: every unsolved "
        "pair carries a lower bound on its EMD (max of mean nearest-neighbour distances each "
        "way, centroid distance, 1-D EMDs of sorted projections on 32 directions; each is "
        "E_a f - E_b f for a 1-Lipschitz f, so <= EMD by Kantorovich-Rubinstein); a query's "
        "neighbour is proven once its smallest entry is a solved EMD no bound undercuts. "
        "The fast search solves only each query's top candidates by bound and by CD."
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
    p.add_argument("--top-k", type=int, default=2)
    p.add_argument("--exact-sample", type=int, default=12)
    p.add_argument("--pair-n", type=int, default=6)
    p.add_argument("--val-top-ks", nargs="+", type=int, default=[1, 2, 3])
    p.add_argument("--sk-pairs", type=int, default=8)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--cd-rows", type=int, default=20)
    p.add_argument("--cand-points", type=int, default=512)
    p.add_argument("--exact-budget", type=float, default=3600, help="seconds for the exact")
    p.add_argument("--slice-seconds", type=float, default=120)
    p.add_argument(
        "--resume-exact",
        action="store_true",
        help="with --merge: continue the exact search of a stopped 'full' run from its files",
    )
    p.add_argument(
        "--sections",
        nargs="+",
        default=["pair", "full"],
        help="pair, full, validate, sinkhorn, estimate (see the module docstring)",
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
    torch.set_num_threads(1)  # the kernels run on --workers numba threads
    out: dict = {"args": vars(args)}
    saved = ROOT / "benchmarks" / "results" / f"{args.name}.json"
    if args.merge and saved.is_file():
        old = json.loads(saved.read_text())
        out.update({k: v for k, v in old.items() if k not in ("machine", "args")})
    for name in args.sections:
        sections = {
            "full": section_full,
            "pair": section_pair,
            "validate": section_validate,
            "sinkhorn": section_sinkhorn,
            "estimate": section_estimate,
        }
        sections[name](args, out)
        print(name, "done", flush=True)


args_name = "shapes_metrics_speed"

if __name__ == "__main__":
    main()

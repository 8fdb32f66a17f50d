"""Training and sampling throughput of the shape denoisers vs. DPM (Luo & Hu) on this CPU.

ANCHORS.md timed DPM's own code here: 3.9M parameters, batch 128 x 2048 points,
13.6 s/step = 9.4 clouds/s training; 100 steps = 1.8 s per cloud sampling. We time our
networks at 2048 points: a training step (forward, backward, AdamW on an EDM-weighted MSE),
and one denoiser call at a sampling batch, from which the time per cloud follows for a
given number of network evaluations (NFE): 100 (DPM's schedule), 35 (EDM Heun, 18 steps)
and 20 (DPM-Solver++(2M), 20 steps). fp32 and bf16 autocast.

    .venv/bin/python benchmarks/shapes_speed.py            # a few minutes
    .venv/bin/python benchmarks/shapes_speed.py --quick

Writes benchmarks/results/shapes_speed.json and .md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as multigen does, before torch loads

import torch  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.common import RESULTS, matmul_gflops, write_results  # noqa: E402
from multigen_domains.shapes import networks  # noqa: E402

DPM_TRAIN_CLOUDS_S = 9.4
DPM_SAMPLE_S_PER_CLOUD = 1.8  # 100 steps

# DPM's PointwiseNet costs ~0.65 MFLOP per point (its 3.9M parameters are mostly the
# encoder); "w128 d4" matches that per-point cost, "w256 d6" matches the parameter count
# (the GPU config), ~5x the per-point cost.
NETS = {
    "pointnet w128 d4": (networks.build_pointnet, {"width": 128, "depth": 4}),
    "pointnet w256 d6": (networks.build_pointnet, {"width": 256, "depth": 6, "emb_dim": 128}),
    "point_transformer w128 d4": (
        networks.build_transformer,
        {"width": 128, "depth": 4, "heads": 4},
    ),
}
ANCHOR_GFLOPS = 203.0  # ANCHORS.md: fp32 2048^2 matmul on an idle machine of this kind


CLOCK = time.perf_counter  # --clock cpu: time.process_time (robust on a shared machine)


def timed(fn, repeats: int) -> float:
    fn()  # warm-up
    best = []
    for _ in range(repeats):
        t = CLOCK()
        fn()
        best.append(CLOCK() - t)
    best.sort()
    return best[len(best) // 2]


def bench(name, build, params, args, precision) -> dict:
    torch.manual_seed(0)
    info = {"shape": [args.points, 3], "num_classes": 0, "cond_dim": 0}
    net = build(info, **params)
    n_params = sum(p.numel() for p in net.parameters())
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    ctx = (
        (lambda: torch.autocast("cpu", dtype=torch.bfloat16))
        if precision == "bf16"
        else contextlib.nullcontext
    )
    x = torch.randn(args.train_batch, args.points, 3)
    sigma = torch.exp(torch.randn(args.train_batch) * 1.2 - 1.2)

    def train_step():
        with ctx():
            out = net(x + sigma[:, None, None] * torch.randn_like(x), sigma.log() / 4)
        loss = (out.float() - x).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    xs = torch.randn(args.sample_batch, args.points, 3)
    c = torch.full((args.sample_batch,), 0.5)

    @torch.no_grad()
    def call():
        with ctx():
            net(xs, c)

    t_train = timed(train_step, args.repeats)
    t_call = timed(call, args.repeats)
    t_compiled = None
    if args.compile and name in args.compile_nets:
        compiled = torch.compile(net)

        @torch.no_grad()
        def call_compiled():
            with ctx():
                compiled(xs, c)

        t = time.perf_counter()
        call_compiled()  # compiles
        compile_s = time.perf_counter() - t
        t_compiled = timed(call_compiled, args.repeats)
    train_rate = args.train_batch / t_train
    per_call_per_cloud = t_call / args.sample_batch
    row = {
        "network": name,
        "precision": precision,
        "params_M": n_params / 1e6,
        "train_clouds_per_s": train_rate,
        "train_vs_dpm": train_rate / DPM_TRAIN_CLOUDS_S,
        "call_ms_per_cloud": 1e3 * per_call_per_cloud,
        "call_ms_per_cloud_compiled": None,
        "compile_s": None,
    }
    if t_compiled is not None:
        row["call_ms_per_cloud_compiled"] = 1e3 * t_compiled / args.sample_batch
        row["compile_s"] = compile_s
        per_call_per_cloud = min(per_call_per_cloud, t_compiled / args.sample_batch)
    row["best_call_ms_per_cloud"] = 1e3 * per_call_per_cloud
    for nfe in (100, 35, 20):
        s = nfe * per_call_per_cloud
        row[f"sample_s_per_cloud_nfe{nfe}"] = s
        row[f"sample_speedup_vs_dpm_nfe{nfe}"] = DPM_SAMPLE_S_PER_CLOUD / s
    return row


def equal_quality(rows: list[dict], per_call_s: float, args) -> list[dict]:
    """The smallest NFE whose quality matches a reference run of the same trained model.

    References: each sampler's own 100-NFE row, and for the DDPM-trained model also
    DDPM ancestral at 1000 steps. "Matches" = 1-NNA-CD at most ``nna_tol`` above the
    reference's and COV-CD at most ``cov_tol`` below (64 vs 64 clouds: one standard error
    of 1-NNA is ~4 points, so these tolerances are about the noise of the measurement).
    """
    groups: dict = {}
    for r in rows:
        if r["method"] in ("data", "gan"):
            continue
        groups.setdefault((r["method"], r["sampler"]), []).append(r)
    out = []
    for (method, sampler), rs in groups.items():
        rs.sort(key=lambda r: r["nfe"])
        refs = [r for r in rs if r["nfe"] == 100] or [rs[-1]]
        if method == "ddpm":
            refs += [r for r in groups.get(("ddpm", "ddpm"), []) if r["nfe"] >= 1000]
        for ref in refs:
            match = next(
                r
                for r in rs
                if r["nna_cd"] <= ref["nna_cd"] + args.nna_tol
                and r["cov_cd"] >= ref["cov_cd"] - args.cov_tol
                or r is ref
            )
            s_cloud = match["nfe"] * per_call_s
            out.append(
                {
                    "model": method,
                    "sampler": sampler,
                    "reference": f"{ref['sampler']} @{ref['nfe']}",
                    "ref 1-NNA-CD": ref["nna_cd"],
                    "ref COV-CD": ref["cov_cd"],
                    "NFE at equal quality": match["nfe"],
                    "1-NNA-CD": match["nna_cd"],
                    "COV-CD": match["cov_cd"],
                    "s/cloud (2048 pts)": s_cloud,
                    "clouds/s": 1 / s_cloud,
                    "vs DPM clouds/s": DPM_SAMPLE_S_PER_CLOUD / s_cloud,
                }
            )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--points", type=int, default=2048)
    p.add_argument("--train-batch", type=int, default=8)
    p.add_argument("--sample-batch", type=int, default=16)
    p.add_argument("--repeats", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    p.add_argument("--compile", action="store_true", help="also time torch.compile'd calls")
    p.add_argument("--compile-nets", nargs="+", default=["pointnet w128 d4"])
    p.add_argument(
        "--quality",
        default=str(ROOT / "benchmarks" / "results" / "shapes_quality_vs_nfe.json"),
        help="quality-vs-NFE results used for the equal-quality speed-up",
    )
    p.add_argument("--quality-net", default="pointnet w128 d4")
    p.add_argument("--quality-precision", default="bf16")
    p.add_argument("--nna-tol", type=float, default=0.03)
    p.add_argument("--cov-tol", type=float, default=0.05)
    p.add_argument("--nets", nargs="+", default=list(NETS), help="subset of the networks")
    p.add_argument(
        "--clock",
        default="wall",
        choices=["wall", "cpu"],
        help="cpu: CPU seconds of this process (with --threads 1 a load-robust measure; "
        "against the anchor's 2-thread wall clock it understates our speed by up to 2x)",
    )
    p.add_argument("--quick", action="store_true")
    p.add_argument("--name", default="shapes_speed")
    args = p.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.quick:
        args.points, args.train_batch, args.sample_batch, args.repeats = 256, 4, 4, 1
        args.name = "shapes_speed_quick"
    torch.set_num_threads(args.threads)
    load0 = os.getloadavg()
    gflops = matmul_gflops()
    rows = []
    for precision in args.precisions:
        for name, (build, params) in NETS.items():
            if name not in args.nets:
                continue
            rows.append(bench(name, build, params, args, precision))
            print(rows[-1], flush=True)
    table = [
        {
            "network": r["network"],
            "prec": r["precision"],
            "params (M)": r["params_M"],
            "train clouds/s": r["train_clouds_per_s"],
            "train / DPM": r["train_vs_dpm"],
            "call ms/cloud": r["call_ms_per_cloud"],
            "compiled": r["call_ms_per_cloud_compiled"] or "-",
            "s/cloud @100 NFE": r["sample_s_per_cloud_nfe100"],
            "vs DPM @100": r["sample_speedup_vs_dpm_nfe100"],
            "vs DPM @20 NFE": r["sample_speedup_vs_dpm_nfe20"],
            "@20, load-adj.": r["sample_speedup_vs_dpm_nfe20"] * ANCHOR_GFLOPS / gflops,
        }
        for r in rows
    ]
    notes = (
        f"Clock: {args.clock}. {args.points} points; training batch {args.train_batch}, "
        "sampling batch "
        f"{args.sample_batch}; torch threads {args.threads}; measured fp32 matmul "
        f"{gflops:.0f} GFLOP/s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores "
        "(shared machine: ratios within this run are what to read). DPM anchor (ANCHORS.md): "
        f"{DPM_TRAIN_CLOUDS_S} clouds/s training at batch 128, {DPM_SAMPLE_S_PER_CLOUD} s per "
        "cloud for 100 steps, timed on an idle machine of this kind — so ratios against it "
        "understate our speed when the machine was loaded. 'vs DPM @20 NFE' is the speed-up "
        "with a 20-step DPM-Solver++ against DPM's 100 steps; equal quality: the second table. "
        "'load-adj.' scales by the anchor's idle matmul rate over the rate measured in this run."
    )
    notes += (
        f" Load average (1 min) {load0[0]:.2f} at the start, {os.getloadavg()[0]:.2f} at the end."
    )
    eq: list[dict] = []
    qpath = Path(args.quality)
    ref_row = next(
        (
            r
            for r in rows
            if r["network"] == args.quality_net and r["precision"] == args.quality_precision
        ),
        None,
    )
    if qpath.is_file() and ref_row is not None:
        eq = equal_quality(
            json.loads(qpath.read_text())["rows"], ref_row["best_call_ms_per_cloud"] / 1e3, args
        )
    write_results(
        args.name,
        {"args": vars(args), "matmul_gflops": gflops, "rows": rows, "equal_quality": eq},
        table,
        "Shapes: denoiser throughput vs DPM (CPU)",
        notes,
    )
    if eq:
        md = RESULTS / f"{args.name}.md"
        cols = list(eq[0])
        lines = [
            "",
            "## Sampling speed at equal quality",
            "",
            f"Quality from `{qpath.name}` (embedded shapes, 512 points, the same PointNet "
            "w128 d4 denoiser); time per call from the "
            f"{args.quality_net} {args.quality_precision} row above at {args.points} points "
            "(fastest of eager/compiled). Equal quality: "
            f"1-NNA-CD <= reference + {args.nna_tol}, COV-CD >= reference - {args.cov_tol}. "
            f"'vs DPM' = DPM's {DPM_SAMPLE_S_PER_CLOUD} s per cloud (100 steps, idle machine) "
            "over ours; the issue's target is >= 10. DPM's own quality cannot be measured here "
            "(its code and ShapeNet are not available), so 'equal' is against our own "
            "100-step (or DDPM 1000-step) quality.",
            "",
            "| " + " | ".join(cols) + " |",
            "|" + "---|" * len(cols),
        ]
        for r in eq:
            cells = [f"{v:.4g}" if isinstance(v, float) else str(v) for v in r.values()]
            lines.append("| " + " | ".join(cells) + " |")
        md.write_text(md.read_text() + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""EGNN speed on CPU against EDM's own code (ANCHORS.md): EGNN 9×256, batch 64.

Measures, in one run on this machine: the fp32 matmul rate (the machine ceiling), one
denoiser call at batch 64 and one training step (forward + backward + AdamW) for the dense
and sparse graph kinds, fp32 and bf16 autocast. Atom counts are drawn from the embedded
set's histogram (its max is 27 atoms, QM9's 29; EDM's timing used QM9's histogram).

    python benchmarks/molecules_speed.py [--quick]

Writes benchmarks/results/molecules_speed.json and .md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

import torch

from multigen.config import load_config
from multigen.generate import generate
from multigen.methods import build_method
from multigen_domains.molecules import get_domain
from multigen_domains.molecules.networks.egnn import EGNNDenoiser


class EDMStyleEGNN(torch.nn.Module):
    """EDM's EGNN computation pattern, re-implemented for a same-run baseline: every pair of
    the padded N×N grid is an edge (masked afterwards), edge MLPs run on gathered and
    concatenated ``[h_i, h_j, d², d0²]``, messages summed with ``index_add``."""

    def __init__(self, in_nf: int, hidden: int = 256, layers: int = 9, coords_range: float = 15.0):
        super().__init__()
        nn = torch.nn
        self.embed = nn.Linear(in_nf + 1, hidden)
        self.out = nn.Linear(hidden, in_nf)
        self.range = coords_range / layers
        self.blocks = nn.ModuleList()
        for _ in range(layers):
            b = nn.Module()
            b.edge = nn.Sequential(
                nn.Linear(2 * hidden + 2, hidden), nn.SiLU(), nn.Linear(hidden, hidden), nn.SiLU()
            )
            b.att = nn.Sequential(nn.Linear(hidden, 1), nn.Sigmoid())
            b.node = nn.Sequential(
                nn.Linear(2 * hidden, hidden), nn.SiLU(), nn.Linear(hidden, hidden)
            )
            b.coord = nn.Sequential(
                nn.Linear(2 * hidden + 2, hidden),
                nn.SiLU(),
                nn.Linear(hidden, hidden),
                nn.SiLU(),
                nn.Linear(hidden, 1, bias=False),
            )
            self.blocks.append(b)

    def forward(self, x, t, cond=None, mask=None):
        mask = mask.bool()
        bsz, n, _ = x.shape
        pos, h = x[..., :3].reshape(-1, 3), x[..., 3:].reshape(bsz * n, -1)
        node_mask = mask.reshape(-1, 1).float()
        ar = torch.arange(n)
        rows = (
            (torch.arange(bsz)[:, None, None] * n + ar[None, :, None]).expand(bsz, n, n).reshape(-1)
        )
        cols = (
            (torch.arange(bsz)[:, None, None] * n + ar[None, None, :]).expand(bsz, n, n).reshape(-1)
        )
        edge_mask = node_mask[rows] * node_mask[cols] * (rows != cols)[:, None].float()
        h = self.embed(torch.cat([h, t.repeat_interleave(n)[:, None] / 1000], -1)) * node_mask
        x0 = pos
        d0 = ((x0[rows] - x0[cols]) ** 2).sum(-1, keepdim=True)
        for b in self.blocks:
            diff = pos[rows] - pos[cols]
            d = (diff**2).sum(-1, keepdim=True)
            e = torch.cat([d, d0], -1)
            m = b.edge(torch.cat([h[rows], h[cols], e], -1))
            m = m * b.att(m) * edge_mask
            agg = torch.zeros_like(h).index_add_(0, rows, m)
            h = (h + b.node(torch.cat([h, agg], -1))) * node_mask
            w = torch.tanh(b.coord(torch.cat([h[rows], h[cols], e], -1))) * self.range
            trans = diff / (d.sqrt() + 1e-8 + 1.0) * w * edge_mask
            pos = (pos + torch.zeros_like(pos).index_add_(0, rows, trans)) * node_mask
        return torch.cat([pos - x0, self.out(h) * node_mask], -1).reshape(bsz, n, -1)


EDM_TRAIN_S = 11.7  # s/step, EDM's code, EGNN 9×256, batch 64, same kind of machine
EDM_CALL_S = 2.53  # s per denoiser call at batch 64
EDM_SAMPLE_MOL_S = 0.025  # molecules/s sampling with 1000 steps (ANCHORS.md)
RESULTS = Path(__file__).parent / "results"


def matmul_gflops(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t) / 1e9


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def measure(net, precision: str, batch, c, _reps: int = 0) -> tuple[float, float]:
    """Seconds of one no-grad denoiser call and of one training step."""
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    bf16 = precision == "bf16"

    def call():
        with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            net(batch.x, c, None, batch.mask)

    def step():
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = net(batch.x, c, None, batch.mask)
        loss = out.float().pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()

    return timed(call), timed(step)


def engine_sampling(d, info, n: int, nfe: int) -> dict:
    """Molecules/s of EDM-sized (9×256, sparse, bf16) sampling through the engine with
    DPM-Solver++ at ``nfe`` evaluations, and the implied time for 1000 molecules."""
    cfg = load_config(
        "configs/molecules/edm_qm9.yaml",
        [
            "data.name=embedded",
            "data.path=null",
            "train.device=cpu",
            "train.compile=false",
            "train.precision=bf16",
            "sample.sampler=dpmpp_2m",
            f"sample.steps={nfe}",
            f"sample.batch_size={n}",
        ],
    )
    torch.manual_seed(0)
    method = build_method(cfg, d, info)
    models = {k: v.eval() for k, v in method.models.items()}
    t = time.perf_counter()
    generate(method, models, d, info, n, cfg.sample, torch.device("cpu"), "bf16")
    seconds = time.perf_counter() - t
    rate = n / seconds
    edm_1000 = 1000 / EDM_SAMPLE_MOL_S
    return {
        "sampler": "dpmpp_2m",
        "nfe": nfe,
        "n": n,
        "seconds": seconds,
        "mol_per_s": rate,
        "seconds_per_1000": 1000 / rate,
        "edm_seconds_per_1000": edm_1000,
        "fraction_of_edm_time": (1000 / rate) / edm_1000,
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="2 timed repeats, smaller net check")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=None, help="timed repeats after one warm-up")
    ap.add_argument("--sample-n", type=int, default=64, help="molecules for the engine timing")
    ap.add_argument("--sample-nfe", type=int, default=50)
    args = ap.parse_args()
    reps = args.reps or (2 if args.quick else 3)
    d = get_domain()
    ds = d.load_dataset("embedded", split="train")
    info = d.describe(ds)
    g = torch.Generator().manual_seed(0)
    tmpl = d.template(info, args.batch, g)
    batch = tmpl.with_x(
        d.noise(tmpl, [torch.Generator().manual_seed(i) for i in range(args.batch)])
    )
    c = torch.full((args.batch,), 500.0)
    variants = [("edm_style", "fp32")] + [
        (g, p) for g in ("dense", "sparse") for p in ("fp32", "bf16")
    ]
    nets = {}
    for graph, precision in variants:
        torch.manual_seed(0)
        if graph == "edm_style":
            nets[graph, precision] = EDMStyleEGNN(info["shape"][-1] - 3)
        else:
            nets[graph, precision] = EGNNDenoiser(info, hidden=256, layers=9, graph=graph)
    # Interleaved rounds (A B C ... A B C ...): load drift on a shared machine hits every
    # variant alike, so the same-run ratios stay fair. Round 0 is a warm-up.
    times: dict[tuple[str, str], list[tuple[float, float]]] = {v: [] for v in variants}
    for rnd in range(reps + 1):
        for v in variants:
            t_call, t_step = measure(nets[v], v[1], batch, c, 0)
            if rnd:
                times[v].append((t_call, t_step))
            print(rnd, v, round(t_call, 3), round(t_step, 3), flush=True)
    rows = []
    for (graph, precision), ts in times.items():
        t_call = statistics.median(t for t, _ in ts)
        t_step = statistics.median(t for _, t in ts)
        rows.append(
            {
                "graph": graph,
                "precision": precision,
                "params": sum(p.numel() for p in nets[graph, precision].parameters()),
                "call_s": t_call,
                "train_step_s": t_step,
                "train_mol_per_s": args.batch / t_step,
                "sample_1000_steps_mol_per_s": args.batch / (1000 * t_call),
                "train_speedup_vs_edm": EDM_TRAIN_S / t_step,
                "call_speedup_vs_edm": EDM_CALL_S / t_call,
            }
        )
    result = {
        "timed_repeats": reps,
        "interleaved": True,
        "machine": {
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "load_average_1min": os.getloadavg()[0],
            "matmul_fp32_gflops": matmul_gflops(),
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "batch": args.batch,
        "atom_counts_mean": float(batch.mask.sum(1).mean()),
        "anchor": {"edm_train_step_s": EDM_TRAIN_S, "edm_call_s": EDM_CALL_S, "edm_params": 5.3e6},
        "rows": rows,
    }
    sampling = engine_sampling(d, info, args.sample_n, args.sample_nfe)
    result["engine_sampling"] = sampling
    base = rows[0]
    for r in rows:
        r["train_speedup_vs_edm_style_same_run"] = base["train_step_s"] / r["train_step_s"]
        r["call_speedup_vs_edm_style_same_run"] = base["call_s"] / r["call_s"]
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "molecules_speed.json").write_text(json.dumps(result, indent=2))
    lines = [
        "# EGNN 9×256 speed, batch 64 (CPU)",
        "",
        f"Machine: {os.cpu_count()} cores, torch threads {torch.get_num_threads()}, "
        f"load average {result['machine']['load_average_1min']:.1f}, "
        f"fp32 matmul {result['machine']['matmul_fp32_gflops']:.0f} GFLOP/s "
        "(measured in this run).",
        f"EDM anchor (its own code, same kind of machine): {EDM_TRAIN_S} s/train step "
        f"({64 / EDM_TRAIN_S:.1f} mol/s), {EDM_CALL_S} s/denoiser call.",
        "",
        "`edm_style` re-implements EDM's computation pattern (all N_max² pairs, gather + concat",
        "edge MLPs) and is timed in the same run: the `× same-run` columns are the fair ratios",
        "on a loaded machine; `× EDM anchor` compares with the ANCHORS.md timing of EDM's code.",
        "",
        "| graph | precision | params | call (s) | train step (s) | train mol/s "
        "| × same-run train | × same-run call | × EDM anchor train | × EDM anchor call "
        "| 1000-step sampling mol/s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['graph']} | {r['precision']} | {r['params'] / 1e6:.2f}M | {r['call_s']:.3f} | "
            f"{r['train_step_s']:.3f} | {r['train_mol_per_s']:.1f} | "
            f"{r['train_speedup_vs_edm_style_same_run']:.2f} | "
            f"{r['call_speedup_vs_edm_style_same_run']:.2f} | "
            f"{r['train_speedup_vs_edm']:.2f} | "
            f"{r['call_speedup_vs_edm']:.2f} | {r['sample_1000_steps_mol_per_s']:.4f} |"
        )
    lines += [
        "",
        f"Sampling through the engine (EDM-sized EGNN, sparse graph, bf16, "
        f"{sampling['sampler']} at {sampling['nfe']} NFE, {sampling['n']} molecules in one "
        f"batch): {sampling['mol_per_s']:.3f} mol/s, so 1000 molecules take "
        f"{sampling['seconds_per_1000']:.0f} s against {sampling['edm_seconds_per_1000']:.0f} s "
        f"for EDM's code at 1000 steps (ANCHORS: {EDM_SAMPLE_MOL_S} mol/s): "
        f"**{sampling['fraction_of_edm_time']:.3f} of EDM's time** (target ≤ 0.05). Whether "
        "50 NFE reach the 1000-step quality: molecules_quality.md (suite molecules_nfe).",
    ]
    (RESULTS / "molecules_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()

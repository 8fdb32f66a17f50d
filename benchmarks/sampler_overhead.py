"""Sampler overhead: the share of sampling time spent outside network calls (goal < 5 %).

Builds each domain's demo network with random weights (quality is irrelevant here), samples
with every sampler at 50 steps, and times the network calls with forward hooks.

    python -m benchmarks.sampler_overhead [--domains toy images] [--n 64]
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.common import write_results
from multigen.api import CONFIG_DIR
from multigen.config import load_config
from multigen.generate import generate
from multigen.methods import build_method
from multigen.registry import get_domain


def measure(domain_name: str, sampler: str, method: str, n: int, steps: int) -> dict:
    cfg = load_config(CONFIG_DIR / domain_name / "demo_fast.yaml", [f"method.name={method}"])
    domain = get_domain(domain_name)
    ds = domain.load_dataset(cfg.data.name, cfg.data.path, "train", **cfg.data.params)
    info = domain.describe(ds)
    m = build_method(cfg, domain, info)
    net = m.models["model"].net
    inside = [0.0]
    start: list[float] = []
    net.register_forward_pre_hook(lambda *a: start.append(time.perf_counter()))
    net.register_forward_hook(
        lambda *a: inside.__setitem__(0, inside[0] + time.perf_counter() - start.pop())
    )
    opts = cfg.sample.model_copy(update={"sampler": sampler, "steps": steps, "batch_size": n})
    generate(m, m.models, domain, info, n, opts, torch.device("cpu"))  # warm-up
    inside[0] = 0.0
    t = time.perf_counter()
    generate(m, m.models, domain, info, n, opts, torch.device("cpu"))
    total = time.perf_counter() - t
    return {
        "domain": domain_name,
        "method": method,
        "sampler": sampler,
        "steps": steps,
        "n": n,
        "total_s": total,
        "network_s": inside[0],
        "overhead_pct": 100 * (total - inside[0]) / total,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--domains", nargs="+", default=["toy", "images"])
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--steps", type=int, default=50)
    args = ap.parse_args()
    rows = []
    for d in args.domains:
        for method, sampler in [
            ("ddpm", "ddpm"),
            ("ddpm", "ddim"),
            ("edm", "heun"),
            ("edm", "dpmpp_2m"),
            ("flow", "euler"),
        ]:
            rows.append(measure(d, sampler, method, args.n, args.steps))
            print(rows[-1])
    write_results(
        "sampler_overhead",
        {"rows": rows},
        rows,
        "Sampler overhead at 50 steps (time outside network calls)",
        "Overhead includes per-sample seeded noise (one generator per sample), float64 state "
        "updates and the template; the goal is < 5 % for real networks.",
    )


if __name__ == "__main__":
    main()

"""Issue 15: how the mel model's sampler settings move its scores (no retraining).

One trained mel-diffusion run (default ``zoo:audio-mel-edm``) is sampled with several
sampler settings — Heun steps, EDM's S_churn, classifier-free guidance — and each draw of 128
clips (16 per class, seed 0) is scored against the embedded test split as
``benchmarks/audio_quality_embedded.py`` scores (same classifier options; the valid split
gives the floor). Writes ``benchmarks/results/audio_mel_sampling.{json,md}``.

    .venv/bin/python -m benchmarks.audio_mel_sampling [--run RUN]
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.audio_quality_embedded import data_floor, ratios, scores_of
from benchmarks.common import write_results
from multigen import api
from multigen.registry import get_domain

# (label, sample options)
SETTINGS = [
    ("heun 18 (the config)", {}),
    ("heun 32", {"steps": 32}),
    # EDM's churn: γ = min(S_churn / steps, √2 - 1) per step, so 10 at 18 steps is the cap
    ("heun 18, churn 5", {"churn": 5.0}),
    ("heun 18, churn 10", {"churn": 10.0}),
    ("heun 32, churn 20", {"steps": 32, "churn": 20.0}),
    ("heun 18, guidance 1.5", {"guidance": 1.5}),
    ("dpmpp_2m 24", {"sampler": "dpmpp_2m", "steps": 24}),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="zoo:audio-mel-edm")
    args = ap.parse_args()
    torch.set_num_threads(1)
    dom = get_domain("audio")
    reference, floor = data_floor(dom)
    run = api.load_run(args.run, device="cpu")
    rows = []
    for label, options in SETTINGS:
        t = time.perf_counter()
        res = api.sample(run, n=len(reference), seed=0, **options)
        seconds = time.perf_counter() - t
        row = {"setting": label, "nfe": res.nfe, "sampling_s": round(seconds, 1)}
        row.update(scores_of(dom, res.samples, reference))
        row.update(ratios(row, floor))
        row["excess_db"] = " ".join(f"{v:+.0f}" for v in row["excess_db"])
        rows.append(row)
        print(row, flush=True)
    keys = ["setting", "nfe", "sampling_s", "accuracy", "acc_ratio", "is", "is_ratio",
            "fd_mel", "fd_mel_ratio", "excess_db"]  # fmt: skip
    table = [{k: r[k] for k in keys} for r in rows]
    notes = (
        f"Run {args.run}; 128 samples (16 per class, seed 0) per setting vs the embedded test "
        f"split; floor (valid vs test): accuracy {floor['accuracy']:.3f}, IS {floor['is']:.2f}, "
        f"fd_mel {floor['fd_mel']:.1f}. One torch thread; sampling_s includes Griffin-Lim."
    )
    write_results(
        "audio_mel_sampling",
        {"run": args.run, "floor": floor, "rows": rows},
        table,
        "Mel diffusion: sampler settings of one trained run",
        notes,
    )


if __name__ == "__main__":
    main()

"""Consistency models beside their teachers and the GAN at the same NFE (issue 17).

Each row samples one model at one sampler/NFE with seed 0 and scores it with the domain's
metrics against the same reference:

- toy (``eight_gaussians``, 2,000 samples vs the 5,000-point test split): the shipped DDPM
  (``zoo:toy-ddpm``) at 1, 2 and ~35 NFE and with its own 100-step ancestral sampler; its
  consistency distillation (``configs/toy/eight_gaussians_consistency_cd.yaml``) and a
  consistency model trained from scratch (``..._ct.yaml``), each at 1 and 2 NFE;
- digits (16x16, 500 samples vs ``digits:train``, the zoo cards' protocol): the GAN
  (``zoo:digits-gan``, 1 NFE), the EDM teacher (``zoo:digits-edm``, guidance 1.5) at 1, 2 and
  35 NFE, and its distillation (``configs/images/digits_cd.yaml``) at 1 and 2 NFE after
  each saved checkpoint.

Goal (issue 17, digits): 1-step FD no worse than the GAN, 2-step within 1.5x the teacher at
35 NFE. Training runs go to ``--out`` (default runs/bench_consistency); a run folder that is
already finished there is reused, not retrained.

    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.consistency                # toy + digits
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.consistency --parts toy
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.consistency --set digits_cd train.steps=400

Writes benchmarks/results/consistency.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
import torch

from benchmarks.common import write_results
from multigen import api
from multigen.train import checkpoint as ckpt

CONFIGS = {
    "toy_cd": "configs/toy/eight_gaussians_consistency_cd.yaml",
    "toy_ct": "configs/toy/eight_gaussians_consistency_ct.yaml",
    "toy_ct_s1280": "configs/toy/eight_gaussians_consistency_ct.yaml",  # the paper's s1
    "digits_cd": "configs/images/digits_cd.yaml",
}
QUIET = ["train.progress=false", "train.tensorboard=false"]
BUILT_IN = {"toy_ct_s1280": ["method.s1=1280"]}  # overrides that define a row
TOY_KEYS = ("energy_distance", "swd", "hq_fraction", "modes_covered", "mode_kl")
DIGIT_KEYS = ("fd_digitcnn", "kid_digitcnn", "precision_digitcnn", "recall_digitcnn")
# zoo cards' figures (500 samples vs digits:train, seed 0), quoted beside the measured rows
CARDS = {"gan_fd_card": 0.789, "teacher_fd_card": 1.107, "data_floor_fd": 0.578}


def train(name: str, out: Path, extra: list[str]) -> tuple[Path, float | None]:
    """Train ``name`` into ``out/name`` unless a finished run is there; (folder, seconds)."""
    run = out / name
    if (run / "metrics.json").is_file():
        print(f"[{name}] reusing the finished run in {run}")
        return run, logged_seconds(run)
    print(f"[{name}] training {CONFIGS[name]} -> {run}")
    t0 = time.perf_counter()
    api.train(CONFIGS[name], out=run, overrides=[*QUIET, *BUILT_IN.get(name, []), *extra])
    return run, time.perf_counter() - t0


def logged_seconds(run: Path) -> float | None:
    """A reused run's training time from its log: the span of its training entries,
    extended by the steps before the first entry."""
    entries = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    train = [e for e in entries if any(k.startswith("loss_") for k in e)]
    if len(train) < 2:
        return None
    first, last = train[0], train[-1]
    span = last["time"] - first["time"]
    return span * last["step"] / max(1, last["step"] - first["step"])


def score(label: str, model, n: int, keys, checkpoint: str = "latest", **options) -> dict:
    """One row: sample ``n`` (seed 0) with ``options``, score against the run's reference."""
    loaded = api.load_run(model, checkpoint=checkpoint, device="cpu")
    t0 = time.perf_counter()
    res = api.sample(loaded, n=n, seed=0, batch_size=min(n, 500), **options)
    seconds = time.perf_counter() - t0
    from multigen.train.reference import reference_samples

    ref = reference_samples(loaded.domain, loaded.config, loaded.info, n)
    scores = api.evaluate(loaded.domain, res.samples, ref, **loaded.config.eval.options)
    row = {"model": label, "sampler": options.get("sampler") or "generator", "nfe": res.nfe}
    row |= {k: float(scores[k]) for k in keys}
    row["ms_per_sample"] = 1000 * seconds / n
    print(row)
    return row


def toy(out: Path, sets: dict[str, list[str]]) -> tuple[list[dict], dict]:
    n = 2000
    rows, info = [], {}
    teacher = "zoo:toy-ddpm"
    rows.append(score("toy-ddpm (teacher)", teacher, n, TOY_KEYS, sampler="ddpm", steps=100))
    rows.append(score("toy-ddpm (teacher)", teacher, n, TOY_KEYS, sampler="heun", steps=18))
    for steps in (1, 2):
        rows.append(score("toy-ddpm (teacher)", teacher, n, TOY_KEYS, sampler="euler", steps=steps))
    rows.append(score("toy-ddpm (teacher)", teacher, n, TOY_KEYS, sampler="dpmpp_2m", steps=2))
    for name in ("toy_cd", "toy_ct", "toy_ct_s1280"):
        run, seconds = train(name, out, sets.get(name, []))
        info[name] = {"run": str(run), "train_seconds": seconds}
        for steps in (1, 2):
            rows.append(score(name, run, n, TOY_KEYS, sampler="consistency", steps=steps))
    return rows, info


def digits(out: Path, sets: dict[str, list[str]]) -> tuple[list[dict], dict]:
    n = 500
    rows = [score("zoo:digits-gan", "zoo:digits-gan", n, DIGIT_KEYS)]
    teacher = "zoo:digits-edm"
    rows.append(score("digits-edm (teacher)", teacher, n, DIGIT_KEYS, sampler="heun", steps=18))
    for steps in (1, 2):
        rows.append(score("digits-edm (teacher)", teacher, n, DIGIT_KEYS, sampler="euler",
                          steps=steps))  # fmt: skip
    run, seconds = train("digits_cd", out, sets.get("digits_cd", []))
    info = {"digits_cd": {"run": str(run), "train_seconds": seconds}}
    checkpoints = sorted((run / "checkpoints").glob("step_*"))
    for path in checkpoints:
        step = ckpt.read_meta(path)["step"]
        for steps in (1, 2):
            label = f"digits_cd @ step {step}"
            rows.append(score(label, run, n, DIGIT_KEYS, checkpoint=str(path),
                              sampler="consistency", steps=steps))  # fmt: skip
    return rows, info


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--parts", nargs="+", default=["toy", "digits"], choices=["toy", "digits"])
    ap.add_argument("--out", type=Path, default=Path("runs/bench_consistency"))
    ap.add_argument(
        "--set", nargs=2, action="append", default=[], metavar=("RUN", "KEY=VALUE"),
        help=f"override a training config ({', '.join(CONFIGS)})",
    )  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(1)
    sets: dict[str, list[str]] = {}
    for name, assignment in args.set:
        sets.setdefault(name, []).append(assignment)
    rows, info = [], {}
    t0 = time.perf_counter()
    if "toy" in args.parts:
        r, i = toy(args.out, sets)
        rows += [{"part": "toy", **row} for row in r]
        info |= i
    if "digits" in args.parts:
        r, i = digits(args.out, sets)
        rows += [{"part": "digits", **row} for row in r]
        info |= i
    notes = notes_text(rows, info, time.perf_counter() - t0)
    data = {"rows": rows, "runs": info, "cards": CARDS, "overrides": sets}
    title = "Consistency models beside their teachers and the GAN"
    write_results("consistency", data, [_table_row(r) for r in rows], title, notes, echo=True)


def _table_row(row: dict) -> dict:
    keys = ["part", "model", "sampler", "nfe", *TOY_KEYS, *DIGIT_KEYS, "ms_per_sample"]
    return {k: row.get(k, "") for k in keys}


def notes_text(rows: list[dict], info: dict, seconds: float) -> str:
    lines = [
        f"This script: {seconds / 60:.1f} min on 2 shared CPU cores, 1 thread (reused runs: "
        "training time estimated from their log.jsonl). Runs: " + json.dumps(info),
        "toy_ct is the shipped config (s1 = 160); toy_ct_s1280 the same with the paper's "
        "s1 = 1280. Teacher rows at 1-2 NFE use the teacher's own sigma list (EDM: Karras, "
        "so 2 Euler steps end at sigma_min and equal 1).",
    ]
    dig = [r for r in rows if r["part"] == "digits"]
    if dig:
        gan = next(r["fd_digitcnn"] for r in dig if r["model"] == "zoo:digits-gan")
        teacher = next(r["fd_digitcnn"] for r in dig if r["nfe"] == 35)
        cd = [r for r in dig if r["model"].startswith("digits_cd")]
        best1 = min((r["fd_digitcnn"] for r in cd if r["nfe"] == 1), default=float("nan"))
        best2 = min((r["fd_digitcnn"] for r in cd if r["nfe"] == 2), default=float("nan"))
        lines.append(
            f"Digits goal: 1-step FD {best1:.3f} vs GAN {gan:.3f} "
            f"({'met' if best1 <= gan else 'not met'}); 2-step FD {best2:.3f} vs 1.5 x teacher "
            f"{1.5 * teacher:.3f} ({'met' if best2 <= 1.5 * teacher else 'not met'}). "
            f"Zoo cards: GAN {CARDS['gan_fd_card']}, teacher {CARDS['teacher_fd_card']}, data "
            f"floor {CARDS['data_floor_fd']} (500 vs digits:train)."
        )
        lines.append(
            f"1 step = {best1 / teacher:.2f} x and 2 steps = {best2 / teacher:.2f} x the teacher's "
            f"35-NFE FD. A distilled student approaches its teacher, so the 1-step goal needs a "
            f"teacher better than the GAN: this one ({teacher:.3f} at 35 NFE) is not."
        )
    return "\n\n".join(lines)


if __name__ == "__main__":
    main()

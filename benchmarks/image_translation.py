"""Paired image-to-image on digits (issue 18): pix2pix against SR3-style conditional
diffusion at equal training steps, on super-resolution (4x4 -> 16x16) and edges -> digit.

Each (task, method) trains from its shipped config (``configs/images/digits_{task}_{method}
.yaml``) for ``--steps`` steps with the project's Trainer (one thread: run it with
OMP_NUM_THREADS=1; CPU and wall seconds are both recorded). Then the held-out test pairs
(359 digits, the digits test split) are translated through the user's path: the test
sources are written as PNG files and given to ``api.translate`` (the diffusion model with
its config's sampler, EDM Heun at 18 steps = 35 NFE; pix2pix in one pass). Scored against
the paired targets: PSNR (dB) and SSIM (``domains/images/translation.py``), and the
Fréchet distance of the outputs to the test digits in the digit CNN's features
(``fd_digitcnn``, the suite's image FD). Floors: the trivial answers (bicubic upsampling of
the source for super-resolution; the edge map itself for edges) and, for FD, 359 real
training digits scored the same way.

    OMP_NUM_THREADS=1 nice -n 5 .venv/bin/python -m benchmarks.image_translation
    .venv/bin/python -m benchmarks.image_translation --steps 20 --tag smoke   # quick check

Writes benchmarks/results/image_translation.{json,md} (``--tag`` adds a suffix) and, untagged,
image_translation.png (rows per task: upsampled source, pix2pix, diffusion, target); the run
folders go to ``--runs`` (default runs/image_translation) and are reused when complete.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
import torch

from benchmarks.common import RESULTS, write_results
from domains.images import translation as T
from domains.images.data import load_digits_dataset
from domains.images.io import make_grid, write_png
from domains.images.metrics import ImageSet
from multigen import api
from multigen.metrics.checks import SmallSampleWarning

TASKS = ("sr", "edges")
METHODS = ("pix2pix", "diffusion")
SIZE = 16


def fd(images: torch.Tensor, reference: ImageSet, options: dict) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        scores = api.evaluate("images", images, reference, **options)
    return float(scores["fd_digitcnn"])


def scores(outputs, targets, reference, options) -> dict:
    return {**T.paired_scores(outputs, targets), "fd_digitcnn": fd(outputs, reference, options)}


def train(task: str, method: str, steps: int, runs: Path, options: dict) -> tuple[Path, dict]:
    out = runs / f"{task}_{method}"
    overrides = [
        f"train.steps={steps}",
        "train.progress=false",
        "train.tensorboard=false",
        "train.precision=fp32",
        f"train.checkpoint_every={steps}",
        "eval.n_samples=100",
        "sample.n=16",
        f"eval.options={json.dumps(options)}",
    ]
    cpu, wall = time.process_time(), time.perf_counter()
    api.train(f"configs/images/digits_{task}_{method}.yaml", out=out, overrides=overrides)
    timing = {"train_cpu_s": time.process_time() - cpu, "train_wall_s": time.perf_counter() - wall}
    return out, timing


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=2000, help="training steps of every model")
    ap.add_argument("--tasks", nargs="+", default=list(TASKS), choices=TASKS)
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=METHODS)
    ap.add_argument("--runs", type=Path, default=Path("runs/image_translation"))
    ap.add_argument("--tag", default="")
    ap.add_argument("--classifier-steps", type=int, default=400, help="feature CNN's steps")
    args = ap.parse_args()
    name = "image_translation" + (f"_{args.tag}" if args.tag else "")
    options = {"classifier_steps": args.classifier_steps}
    reference = api.get_domain("images").reference("digits:test")
    train_digits = load_digits_dataset(None, "train", size=SIZE).images
    picks = torch.linspace(0, len(train_digits) - 1, len(reference)).round().long()
    floor_fd = fd(train_digits[picks], reference, options)
    rows, records = [], []

    def record(task: str, method: str, s: dict, extra: dict) -> None:
        row = {"task": task, "method": method, **s, **extra}
        records.append(row)
        rows.append(
            {
                "task": task,
                "method": method,
                "PSNR dB": s["psnr"],
                "SSIM": s["ssim"],
                "FD digitcnn": s["fd_digitcnn"],
                "steps": extra.get("steps", "-"),
                "NFE": extra.get("nfe", "-"),
                "train CPU s": extra.get("train_cpu_s", "-"),
                "translate s": extra.get("translate_s", "-"),
            }
        )
        write_results(name, {"steps": args.steps, "fd_real_train": floor_fd, "rows": records},
                      rows, TITLE, notes(args.steps, floor_fd), echo=False)  # fmt: skip

    for task in args.tasks:
        test = T.load_digits_pairs(None, "test", size=SIZE, task=task)
        targets = test.images
        baseline = T.bicubic_baseline(test.sources, SIZE) if task == "sr" else test.sources
        label = "bicubic upsampling" if task == "sr" else "the edge map itself"
        record(task, label, scores(baseline, targets, reference, options), {})
        src_dir = args.runs / f"{task}_test_sources"
        if not src_dir.is_dir():
            T.write_named(test.sources, [f"{i:03d}" for i in range(len(test))], src_dir)
        for method in args.methods:
            run, timing = train(task, method, args.steps, args.runs, options)
            res = api.translate(run, src_dir, out=args.runs / f"{task}_{method}_test_outputs")
            s = scores(res.samples, targets, reference, options)
            extra = {"steps": args.steps, "nfe": res.nfe, "translate_s": res.seconds, **timing}
            record(task, method, s, extra)
            print(task, method, {k: round(v, 4) for k, v in s.items()}, flush=True)
            grid = torch.cat(  # rows: bicubic-upsampled source, output, target
                [T.bicubic_baseline(test.sources[:16], SIZE), res.samples[:16], targets[:16]]
            )
            write_png(make_grid(grid, nrow=16), args.runs / f"{task}_{method}_grid.png")
    if not args.tag:
        write_grid(args.runs, args.tasks, args.methods)


def write_grid(runs: Path, tasks=TASKS, methods=METHODS, n: int = 16) -> Path:
    """benchmarks/results/image_translation.png: per task, rows of the first ``n`` test pairs:
    the source (bicubic-upsampled), each method's output, the target."""
    from domains.images.data import load_image_files

    rows = []
    for task in tasks:
        test = T.load_digits_pairs(None, "test", size=SIZE, task=task)
        rows.append(T.bicubic_baseline(test.sources[:n], SIZE))
        for method in methods:
            rows.append(load_image_files(runs / f"{task}_{method}_test_outputs")[0][:n])
        rows.append(test.images[:n])
    path = RESULTS / "image_translation.png"
    write_png(make_grid(torch.cat(rows), nrow=n), path)
    return path


TITLE = "Paired image-to-image on digits: pix2pix vs SR3-style conditional diffusion (issue 18)"


def notes(steps: int, floor_fd: float) -> str:
    return (
        f"Each model trained {steps} steps (batch 32) from configs/images/digits_{{sr,edges}}_"
        "{pix2pix,diffusion}.yaml on the 1,438 training digits at 16x16, one CPU thread, "
        "seed 0, one run each; scored on the 359 held-out test pairs translated through "
        "api.translate from PNG files (diffusion: EDM Heun, 18 steps = 35 NFE; pix2pix: one "
        "pass). PSNR/SSIM: mean over images against the paired target (uint8, range 255; "
        "SSIM: Gaussian 11x11 window, sigma 1.5). FD: fd_digitcnn of the outputs against the "
        f"359 test digits; 359 real training digits score {floor_fd:.4g} (the data floor). "
        "Baselines: bicubic upsampling of the 4x4 source (sr); the edge map itself (edges). "
        "'train CPU s' includes the trainer's own final sampling and scoring."
    )


if __name__ == "__main__":
    main()

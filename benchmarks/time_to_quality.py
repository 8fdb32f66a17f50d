"""Quality against training minutes for the zoo's runs (issue 16).

Scores every kept checkpoint of each ``runs/zoo/<name>`` (trained by
``python -m benchmarks.zoo_entries train NAME``) with the recipe's headline metric at the
card's sample size and sampler, beside the data floor at the same size; minutes come from the
run's ``log.jsonl``. Also records the recipes that were tried and dropped (``TRIED``).

    python -m benchmarks.time_to_quality                 # every run present
    python -m benchmarks.time_to_quality digits-edm      # some of them

Writes benchmarks/results/time_to_quality.{json,md,png}.
"""

from __future__ import annotations

import argparse
import json
import sys

import torch

from benchmarks.common import RESULTS, write_results
from benchmarks.zoo_entries import RECIPES, RUNS
from multigen import api
from multigen.train.checkpoint import list_checkpoints, read_meta
from multigen.zoo.build import training_seconds, with_scoring
from multigen.zoo.scoring import data_floor, score

# Recipes tried and dropped, with what was seen (filled in by hand from the runs' logs).
TRIED = [
    {
        "entry": "digits-edm",
        "recipe": "configs/images/digits_edm.yaml as shipped (U-Net 32 ch, [1, 2, 2], attn 8)",
        "seen": "1.25 s/step on the shared cores: 4,000 steps would take ~80 min; stopped at "
        "step 100 in favour of the 16-channel U-Net",
    },
    {
        "entry": "toy-flow (not shipped)",
        "recipe": "configs/toy/eight_gaussians_flow.yaml (3,000 steps, EMA 0.995)",
        "seen": "energy distance 0.0031 (floor 0.0012) at euler 50; heun 25/50, dpmpp_2m 50 "
        "and euler 200 0.0031-0.0032; the 2,500-step checkpoint 0.0017: checkpoint-to-"
        "checkpoint noise is as large as the gap to the floor. DDPM (toy-ddpm) shipped "
        "instead",
    },
    {
        "entry": "toy-ddpm (first version)",
        "recipe": "configs/toy/eight_gaussians_ddpm.yaml as shipped (3,000 steps, EMA 0.995)",
        "seen": "energy distance 0.0022 at its last step (1.9x the floor), 0.0016-0.0029 "
        "across its checkpoints; sampler sweep on those weights: ddpm 100 steps 0.0022, "
        "ddpm 250 0.0033, ddpm 1000 0.0048, dpmpp_2m 50 0.0040, heun 50 0.0052: the "
        "model, not the sampler, was the limit. 6,000 steps with EMA 0.999 (shipped) "
        "reached 0.0011, at the floor",
    },
    {
        "entry": "shapes-edm",
        "recipe": "configs/shapes/embedded_edm.yaml, 4,000 steps, train.precision auto",
        "seen": "auto timed one step at 1.00x in bf16 on the loaded machine and kept fp32 "
        "(31 samples/s over the first 100 steps, ETA 66 min); restarted with "
        "train.precision=bf16 (2.3-3.2x on a quieter machine: precision_auto.md), which ran "
        "at 18-21 samples/s under a load average of 8-9: the two rates are not comparable, "
        "the load moved too much; stopped early at a checkpoint to fit the session",
    },
    {
        "entry": "shapes-edm (first version)",
        "recipe": "configs/shapes/embedded_edm.yaml, EMA 0.995, bf16, stopped at 2,000 steps",
        "seen": "1-NNA-CD 0.828 at 64 vs 64 (dpmpp_2m 20) after 48 min; replaced by the "
        "EMA 0.999 run of benchmarks/shapes_zoo_search.py (4,500 steps, 60 min)",
    },
    {
        "entry": "shapes point DiT (not shipped)",
        "recipe": "configs/shapes/embedded_point_dit.yaml (128x4, 1.27M), EMA 0.999, bf16",
        "seen": "2.2 s/step against PointNet's 0.7 on the shared cores (7x on a quiet "
        "core); 1-NNA-CD 0.97 after 300 steps / 10 min, where PointNet had 0.91 at 11 min "
        "(shapes_zoo_search.md): stopped there, the 60-minute budget went to PointNet",
    },
]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("names", nargs="*", help="recipes to score (default: every run present)")
    p.add_argument("--every", type=int, default=1, help="score every K-th checkpoint (+ last)")
    args = p.parse_args()
    torch.set_num_threads(1)
    names = args.names or [n for n in RECIPES if (RUNS / n).is_dir()]
    old = RESULTS / "time_to_quality.json"
    rows = (
        [r for r in json.loads(old.read_text())["rows"] if r["entry"] not in names]
        if (old.is_file())
        else []
    )
    for name in names:
        rows += curve(name, args.every)
    rows.sort(key=lambda r: (r["entry"], r["step"]))
    write_results(
        "time_to_quality",
        {"rows": rows, "tried": TRIED},
        [{k: r[k] for k in COLUMNS} for r in rows],
        "Zoo: quality against training minutes (2 shared CPU cores, 1 torch thread)",
        notes=NOTES
        + "\n\nTried and dropped:\n\n"
        + "\n".join(f"- {t['entry']}: {t['recipe']} — {t['seen']}" for t in TRIED),
    )
    plot(rows)


COLUMNS = ["entry", "method", "step", "minutes", "metric", "value", "floor", "x_floor", "n"]
NOTES = (
    "Each row: one kept checkpoint of the zoo run, EMA weights, sampled with the recipe's "
    "sampler and scored like the card (n samples vs n reference items, seed 0). minutes = "
    "wall-clock to that step from log.jsonl, on cores shared with other jobs (so minutes "
    "are an upper bound of a quiet machine's). x_floor = value / floor (1 = as good as "
    "real held-out data; above 1 is worse for lower-is-better metrics, below 1 for "
    "higher-is-better ones such as atom_stability)."
)


def curve(name: str, every: int = 1) -> list[dict]:
    recipe = RECIPES[name]
    run_dir = RUNS / name
    rows = []
    floor = None
    kept = list_checkpoints(run_dir)
    for path in kept[every - 1 :: every] + ([kept[-1]] if len(kept) % every else []):
        step = read_meta(path)["step"]
        run = api.load_run(run_dir, checkpoint=str(path), device="cpu")
        run = with_scoring(run, recipe.scoring)
        if floor is None:
            floor = data_floor(run, recipe.n)[0][recipe.headline]
        value = score(run, recipe.n)[recipe.headline]
        seconds = training_seconds(run_dir, step)
        rows.append(
            {
                "entry": name,
                "domain": run.config.domain,
                "method": run.config.method.name,
                "step": step,
                "minutes": None if seconds is None else round(seconds / 60, 2),
                "metric": recipe.headline,
                "value": value,
                "floor": floor,
                "better": recipe.better,
                "x_floor": value / floor if floor else None,
                "n": recipe.n,
            }
        )
        print(f"{name} step {step}: {recipe.headline} {value:.4g} (floor {floor:.4g})", flush=True)
    return rows


def plot(rows: list[dict]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = sorted({r["entry"] for r in rows})
    fig, axes = plt.subplots(1, len(entries), figsize=(3.2 * len(entries), 3), squeeze=False)
    for ax, name in zip(axes[0], entries, strict=True):
        pts = [r for r in rows if r["entry"] == name and r["minutes"] is not None]
        ax.plot([r["minutes"] for r in pts], [r["value"] for r in pts], "o-", label="model")
        ax.axhline(pts[0]["floor"], color="k", ls="--", lw=1, label="data floor")
        ax.set_title(name, fontsize=9)
        ax.set_xlabel("training minutes")
        ax.set_ylabel(pts[0]["metric"])
        ax.set_yscale("log")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(RESULTS / "time_to_quality.png", dpi=90)


if __name__ == "__main__":
    if __package__ in (None, ""):
        sys.exit("run as: python -m benchmarks.time_to_quality")
    main()

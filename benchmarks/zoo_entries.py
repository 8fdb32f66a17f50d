"""The zoo's recipes: how each shipped model was trained and what its card says, in one place.

    python -m benchmarks.zoo_entries train NAME   # runs/zoo/NAME, one torch thread
    python -m benchmarks.zoo_entries add NAME     # multigen/zoo/models/NAME from that run
    python -m benchmarks.zoo_entries list

Each recipe is a shipped config plus overrides; the card's "reproduce" command is built from
the same strings, so the card and the recipe cannot disagree. Training here used
``OMP_NUM_THREADS=1`` on 2 shared cores (two other engineers' jobs beside it).
"""

from __future__ import annotations

import argparse
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUNS = ROOT / "runs" / "zoo"
KEEP = ["train.keep_last=50", "train.tensorboard=false"]  # every checkpoint for the curves

DIGITS_UNET = (
    "model.params={channels: 16, channel_mult: [1, 2], num_res_blocks: 1, attn_resolutions: []}"
)


@dataclass
class Recipe:
    config: str
    overrides: list[str]
    title: str
    summary: str
    headline: str
    n: int  # samples scored for the card
    check_n: int  # samples of the card test's check
    anchor: dict[str, str] | None = None
    notes: str = ""
    checkpoint_every: int = 500
    scoring: list[str] = field(default_factory=list)  # sample./eval. settings of the entry
    better: str = "lower"  # direction of the headline metric

    def command(self, name: str) -> str:
        sets = " ".join(f"--set {shlex.quote(o)}" for o in self.overrides)
        return f"multigen train {self.config} --out runs/{name} {sets}".strip()


RECIPES: dict[str, Recipe] = {
    "toy-ddpm": Recipe(
        config="configs/toy/eight_gaussians_ddpm.yaml",
        overrides=["train.steps=6000", "train.ema_decay=0.999"],
        title="DDPM on eight Gaussians",
        summary="2-D mixture of eight Gaussians (radius 2, std 0.02): the quickest check "
        "that a sampler and a model work.",
        headline="energy_distance",
        n=2000,
        check_n=256,
        notes="The shipped config (3,000 steps, EMA 0.995) reached energy distance 0.0022 "
        "(1.9x the floor) with checkpoint-to-checkpoint swings of 0.0016-0.0029; twice the "
        "steps with a longer EMA (0.999) averages the constant-learning-rate noise away.",
    ),
    "toy-flow": Recipe(
        config="configs/toy/eight_gaussians_flow.yaml",
        overrides=[],
        title="Flow matching on eight Gaussians",
        summary="2-D mixture of eight Gaussians (radius 2, std 0.02), rectified flow.",
        headline="energy_distance",
        n=2000,
        check_n=256,
    ),
    "digits-edm": Recipe(
        config="configs/images/digits_edm.yaml",
        overrides=[DIGITS_UNET, "train.steps=2000", "train.lr=2.0e-3"],
        title="Class-conditional EDM on 16×16 digits",
        summary="scikit-learn's 8×8 digits upsampled to 16×16, class-conditional EDM with "
        "classifier-free guidance; sample i is digit i mod 10.",
        headline="fd_digitcnn",
        n=500,
        check_n=128,
        checkpoint_every=250,
        notes="The shipped digits_edm.yaml U-Net (32 channels, [1, 2, 2], attention at 8×8) "
        "ran at 1.25 s/step on the loaded machine (4,000 steps ≈ 80 min): stopped at step 100. "
        "The CPU-suite U-Net (16 channels, [1, 2], no attention) at lr 2e-3 is what shipped.",
    ),
    "digits-gan": Recipe(
        config="configs/images/digits_gan.yaml",
        overrides=[
            "model.params={latent_dim: 32, channels: 32, norm: batch}",
            "discriminator.params={channels: 32, projection: true}",
            "train.steps=3000",
        ],
        title="Class-conditional DCGAN on 16×16 digits",
        summary="A one-pass generator (projection discriminator, non-saturating loss, lazy R1); "
        "sample i is digit i mod 10.",
        headline="fd_digitcnn",
        n=500,
        check_n=128,
        notes="FD alone flatters this GAN: its recall on the digit CNN's features is 0.49 "
        "against the data's 0.92 (it draws about half of each class's variety) while its "
        "precision is 0.96; the EDM model (zoo:digits-edm) has recall 0.80.",
    ),
    "shapes-edm": Recipe(
        config="configs/shapes/embedded_edm.yaml",
        overrides=["train.steps=4500", "train.precision=bf16", "train.ema_decay=0.999"],
        # sampler: benchmarks/results/shapes_zoo_search_samplers.md; 1-NNA-EMD costs minutes
        scoring=["sample.sampler=heun", "sample.steps=18", "eval.options={metrics: [cd]}"],
        notes="Chosen by a recorded search at 60 training minutes on one thread "
        "(benchmarks/shapes_zoo_search.py, results/shapes_zoo_search*.md): trained there in "
        "2,000-step chunks resumed exactly (constant learning rate after warm-up, so the "
        "command above ends at the same weights) and stopped at its 4,500-step checkpoint, "
        "60 training minutes. The point DiT learns more per step but costs ~7x a PointNet "
        "step at 512 points on this CPU. Heun 18 steps scored best of the samplers tried on "
        "these weights; churn made 1-NNA worse. The issue's target, 1-NNA-CD 0.60, is below "
        "this card's own data floor at 64 vs 64 (0.64, train split vs test): 64 real clouds "
        "do not reach it either, so the floor, not 0.60, is what to compare with. Seed 0 "
        "is a good draw: the card's 4 seed blocks of 64 gave 0.695, 0.812, 0.852, 0.797 "
        "(mean 0.79; the 3,500-step checkpoint 0.75), so the sampler rows of the search, "
        "all at seed 0, differ by less than this spread.",
        title="EDM point clouds on the embedded shapes",
        summary="512-point clouds of six procedural families (chairs, tables, airplanes, "
        "vases, mugs, lamps), unconditional; PointNet-style denoiser.",
        headline="nna_cd",
        n=64,
        check_n=64,
        anchor={
            "label": "published, different data: ShapeNet PC15k, 2048 points",
            "text": "1-NNA-CD chair: PointFlow 62.84 %, PVD 56.26 %, LION 53.70 % (50 % ideal; "
            "PVD/LION tables, LION's verified from its scoring script); not comparable with "
            "this embedded set",
        },
    ),
    "audio-mel-edm": Recipe(
        config="configs/audio/embedded_mel_edm.yaml",
        overrides=[],
        # the audio CNN is trained per machine; churn: benchmarks/results/audio_mel_sampling.md
        scoring=["eval.options={classifier: false}", "sample.churn=10.0"],
        title="Class-conditional mel diffusion on the embedded audio set",
        summary="0.5-s clips of eight procedural instruments (8 kHz); EDM with a tiny DiT on "
        "64x64 log-mel spectrograms, decoded by Griffin-Lim; sample i is class i mod 8.",
        headline="fd_mel",
        n=128,
        check_n=128,
        notes="Trained by benchmarks/audio_quality.py (--config embedded_mel_edm, chunks of "
        "1,500/3,000/6,000/8,500 steps resumed exactly; 1,754 CPU s on one thread). Scored here "
        "on fd_mel only: the classifier metrics use a CNN trained on each machine, so a card "
        "cannot pin them. On that CNN (audio_quality_embedded_mel.md): accuracy 0.82 (real "
        "0.945), IS 4.04 (7.35) without churn, 0.87 and 4.54 with it; real clips through "
        "Griffin-Lim score fd_mel 207, the floor of this route. Short of issue 15's IS and "
        "fd_mel targets.",
    ),
    "qm9-edm": Recipe(
        config="configs/molecules/qm9_edm_cpu.yaml",
        overrides=[
            "model.params={hidden: 128, layers: 6}",
            "train.steps=3000",  # run for 10,000, stopped at its 3,000-step checkpoint (time)
        ],
        title="EDM molecules on QM9 (with hydrogens)",
        summary="3-D molecules of QM9 (≤ 9 heavy atoms, C/N/O/F with H), EDM's method "
        "(Hoogeboom et al. 2022: ε-prediction, polynomial schedule, T = 1000) with an "
        "E(3)-equivariant EGNN 6×128, sampled with 50 DDIM steps at η = 1.5; bonds inferred "
        "from distances with EDM's table.",
        headline="atom_stability",
        better="higher",
        n=256,
        check_n=32,  # 50 network calls of a 6x128 EGNN per draw: the card test stays quick
        checkpoint_every=1000,
        anchor={
            "label": "published, same data (QM9, EDM protocol): EGNN 9×256, ~3000 epochs, "
            "1000 ancestral steps",
            "text": "EDM atom stability 98.7 %, molecule stability 82.0 %, validity 91.9 %, "
            "validity×uniqueness 90.7 % (QM9 itself: 99.0 / 95.2 / 97.7 / 97.7)",
        },
        notes="Far from the published row and from the data: atom stability 0.75 against EDM's "
        "0.987 and the floor's 0.99, molecule stability 0.4 % against 82 % and 95 %, validity "
        "(= V×U here) 0.29 against 0.919 and 0.98. Bond lengths are off by a few hundredths of "
        "an Å (bond-length W1 0.028 Å against the floor's 0.005), enough for bonds inferred "
        "from distances to break an atom's valence, and 55 % of samples are not one connected "
        "molecule. EDM trained a 9×256 EGNN for ~3,000 epochs; this is 6×128 for 3,000 steps "
        "of 32 (≈ 1 epoch of QM9's 100,000 training "
        "molecules). The run was set for 10,000 steps and stopped at its 3,000-step checkpoint "
        "for time (the learning rate is constant after warm-up, so the command above ends at "
        "the same weights); precision auto trained in bf16 on this CPU (fp32 elsewhere). "
        "Along the run, atom stability at 64 samples: 0.53 at 1,000 steps, 0.70 at 2,000. "
        "Chosen over the EGNN 4×64 of qm9_edm_cpu.yaml, whose recorded 2,500-step run scored "
        "atom stability 0.65, validity 0.32 at 1,000 samples (molecules_qm9_run.md; validity "
        "here is no better) and over the embedded set's 4×64 models (0.67–0.73 after 6,000 "
        "steps, molecules_quality.md); network size was not searched further. Scored against "
        "the first 256 (n) molecules of QM9's training split, so novelty is against those "
        "only; the floor is QM9's test split scored the same way. bf16 weights scored "
        "differently (QED/logP means over the valid molecules, per-bond-type length W1): "
        "fp32 ships.",
    ),
}


def _recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise SystemExit(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}")
    return RECIPES[name]


def train(name: str) -> Path:
    import torch

    from multigen import api

    torch.set_num_threads(1)
    r = _recipe(name)
    every = f"train.checkpoint_every={r.checkpoint_every}"
    return api.train(ROOT / r.config, out=RUNS / name, overrides=[*r.overrides, *KEEP, every])


def add(name: str) -> Path:
    import torch

    from multigen.zoo.build import add as build
    from multigen.zoo.build import machine_text

    torch.set_num_threads(1)
    r = _recipe(name)
    return build(
        RUNS / name,
        name,
        title=r.title,
        summary=r.summary,
        retrain=r.command(name),
        scoring=r.scoring,
        headline=r.headline,
        n=r.n,
        check_n=r.check_n,
        anchor=r.anchor,
        notes=r.notes,
        machine=f"{machine_text()}; other engineers' jobs shared the cores",
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("action", choices=["train", "add", "list"])
    p.add_argument("names", nargs="*")
    args = p.parse_args()
    if args.action == "list":
        for name, r in RECIPES.items():
            print(f"{name}: {r.command(name)}")
        return
    for name in args.names or list(RECIPES):
        print(f"{args.action} {name}: {(train if args.action == 'train' else add)(name)}")


if __name__ == "__main__":
    main()

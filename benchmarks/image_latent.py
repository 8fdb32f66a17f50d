"""Latent vs pixel-space diffusion on 16x16 digits at equal training CPU time (issue 17,
latent diffusion).

Pixel row: class-conditional EDM from ``configs/images/digits_edm.yaml``, trained until its
process has spent ``--budget`` CPU-seconds in training steps. Latent row: the same budget
split between the KL autoencoder (``configs/images/digits_autoencoder.yaml``, trained for
``--ae-share`` of the budget) and EDM on its standardised latents
(``configs/images/digits_latent_edm.yaml``), the latent trainer's set-up (loading the
autoencoder, encoding the training set) charged to the budget as well. CPU time, one thread
(OMP_NUM_THREADS=1), because the machine is shared and wall time measures the neighbours;
both are recorded. Each model keeps its config's batch, learning rate and EMA; fp32, seed 0.

Scoring (not charged): EMA weights, EDM Heun 18 steps = 35 NFE, no guidance, ``--n``
samples against as many training digits with the digit CNN (``fd_digitcnn``, lower is
better), on two disjoint seed blocks (their spread is the noise of one FD at this N). The
data floor is ``--n`` held-out test digits scored the same way. The autoencoder row is the
latent route's ceiling: every test digit reconstructed from its posterior mean, scored the
same way, with its PSNR (dB, 8-bit images) against the originals.

    OMP_NUM_THREADS=1 nice -n 10 .venv/bin/python -m benchmarks.image_latent
        # 2 x 6 CPU-min of training + scoring: ~16 CPU-min
    OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.image_latent --budget 30 --n 50 --tag smoke

Writes benchmarks/results/image_latent.{json,md} (``--tag`` adds a suffix).
"""

from __future__ import annotations

import argparse
import math
import shutil
import tempfile
import time
import types
from pathlib import Path

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
import torch

from benchmarks.common import matmul_gflops, write_results
from multigen import api
from multigen.config import load_config
from multigen.domain import Batch
from multigen.registry import run_domain
from multigen.train.trainer import Trainer
from multigen.zoo.scoring import data_floor

PIXEL = "configs/images/digits_edm.yaml"
AUTOENCODER = "configs/images/digits_autoencoder.yaml"
LATENT = "configs/images/digits_latent_edm.yaml"
METRIC = "fd_digitcnn"


def trainer(config: str, out: Path, args, extra: list[str] = ()) -> Trainer:
    overrides = [
        "train.steps=1000000",  # the budget stops it
        "train.precision=fp32",
        "train.progress=false",
        "train.tensorboard=false",
        "train.seed=0",
        "sample.sampler=heun",
        "sample.steps=18",
        "sample.guidance=1.0",
        f"sample.batch_size={min(args.n, 100)}",
        f"eval.n_samples={args.n}",
        "eval.reference=digits:train",
        *extra,
    ]
    cfg = load_config(config, overrides)
    return Trainer(cfg, run_domain(cfg), out)


def train_until(tr: Trainer, budget: float) -> dict:
    """Training steps until the process has spent ``budget`` CPU-seconds in them."""
    loader = iter(tr._loader())
    cpu = wall = 0.0
    while cpu < budget:
        batch = next(loader)
        c0, w0 = time.process_time(), time.perf_counter()
        tr.train_step(batch.to(tr.device))
        cpu += time.process_time() - c0
        wall += time.perf_counter() - w0
    return {"steps": tr.step, "cpu_s": round(cpu, 1), "wall_s": round(wall, 1)}


def two_blocks(tr: Trainer, n: int) -> list[float]:
    out = [tr.evaluate()[METRIC]]
    tr.cfg.sample.seed = n  # a second, disjoint block of sample seeds
    out.append(tr.evaluate()[METRIC])
    tr.cfg.sample.seed = 0
    return out


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """PSNR (dB) of 8-bit images over the whole set."""
    mse = (a.double() - b.double()).pow(2).mean().item()
    return math.inf if mse == 0 else 10 * math.log10(255.0**2 / mse)


def reconstruction(ae_dir: Path, pixel: Trainer, n: int) -> dict:
    """Every test digit through the autoencoder (EMA, posterior mean): PSNR over all of
    them; FD of the reconstructions of the ``n`` test digits the data floor scores (the same
    picks), against the pixel run's reference, so the two differ only by the autoencoder."""
    run = api.load_run(ae_dir)
    domain, info = pixel.domain, pixel.info
    held_out = run.method.held_out()
    with torch.no_grad():
        ae = run.models["autoencoder"]
        recon = ae.decode(ae.encode(held_out)[0]).clamp(-1, 1)
    images = domain.decode(Batch(recon), info)
    originals = domain.decode(Batch(held_out), info)
    count = min(n, len(images))  # data_floor's picks, spread over the class-ordered split
    picks = torch.linspace(0, len(images) - 1, count).round().long().unique()
    scores = domain.evaluate(images[picks], pixel.reference(), **pixel.cfg.eval.options)
    return {"n_psnr": len(images), "n_fd": len(picks), METRIC: float(scores[METRIC]),
            "psnr_db": psnr(images, originals)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--budget", type=float, default=360.0, help="CPU-seconds of training each")
    ap.add_argument("--ae-share", type=float, default=0.25,
                    help="the latent row's budget fraction spent on the autoencoder")  # fmt: skip
    ap.add_argument("--n", type=int, default=300, help="samples scored (vs as many train digits)")
    ap.add_argument("--tag", default="", help="results file suffix")
    args = ap.parse_args()
    torch.set_num_threads(1)
    rate = matmul_gflops(n=1024)
    root = Path(tempfile.mkdtemp(prefix="image_latent_"))
    results: dict = {}
    try:
        pixel = trainer(PIXEL, root / "pixel", args)
        pixel.check_evaluation()  # the reference and the digit CNN, before timing
        results["pixel"] = train_until(pixel, args.budget)
        results["pixel"]["fd_blocks"] = two_blocks(pixel, args.n)
        print("[pixel]", results["pixel"], flush=True)
        floor = data_floor(
            types.SimpleNamespace(config=pixel.cfg, domain=pixel.domain, info=pixel.info), args.n
        )[0][METRIC]

        ae_dir = root / "ae"
        ae = trainer(AUTOENCODER, ae_dir, args, ["eval.reference=digits:test"])
        results["autoencoder"] = train_until(ae, args.ae_share * args.budget)
        ae.save()
        results["autoencoder"].update(reconstruction(ae_dir, pixel, args.n))
        print("[autoencoder]", results["autoencoder"], flush=True)

        c0, w0 = time.process_time(), time.perf_counter()
        latent = trainer(LATENT, root / "latent", args, [f"latent.params={{run: {ae_dir}}}"])
        setup = {"cpu_s": round(time.process_time() - c0, 1),
                 "wall_s": round(time.perf_counter() - w0, 1)}  # fmt: skip
        latent.check_evaluation()
        spent = results["autoencoder"]["cpu_s"] + setup["cpu_s"]
        results["latent"] = train_until(latent, args.budget - spent)
        results["latent"].update(setup=setup, shape=list(latent.info.shape))
        results["latent"]["fd_blocks"] = two_blocks(latent, args.n)
        print("[latent]", results["latent"], flush=True)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    def fd(r: dict) -> float:
        return sum(r["fd_blocks"]) / len(r["fd_blocks"])

    p, a, lat = results["pixel"], results["autoencoder"], results["latent"]
    table = [
        {"route": "pixel EDM (16x16x1)", "AE steps": "-", "AE cpu_s": "-",
         "EDM steps": p["steps"], "total cpu_s": p["cpu_s"],
         "s/EDM step": p["cpu_s"] / p["steps"], f"{METRIC} (2 blocks)": fd(p),
         "blocks": " / ".join(f"{b:.3f}" for b in p["fd_blocks"]), "x floor": fd(p) / floor},
        {"route": f"latent EDM ({'x'.join(map(str, lat['shape']))} latents)",
         "AE steps": a["steps"], "AE cpu_s": a["cpu_s"], "EDM steps": lat["steps"],
         "total cpu_s": round(a["cpu_s"] + lat["setup"]["cpu_s"] + lat["cpu_s"], 1),
         "s/EDM step": lat["cpu_s"] / lat["steps"], f"{METRIC} (2 blocks)": fd(lat),
         "blocks": " / ".join(f"{b:.3f}" for b in lat["fd_blocks"]),
         "x floor": fd(lat) / floor},
        {"route": f"AE reconstructions ({a['n_fd']} test digits; PSNR {a['psnr_db']:.1f} dB)",
         "AE steps": a["steps"], "AE cpu_s": a["cpu_s"], "EDM steps": "-", "total cpu_s": "-",
         "s/EDM step": "-", f"{METRIC} (2 blocks)": a[METRIC], "blocks": "one set",
         "x floor": a[METRIC] / floor},
    ]  # fmt: skip
    spread = max(abs(r["fd_blocks"][0] - r["fd_blocks"][1]) for r in (p, lat))
    notes = (
        f"16x16 digits, class-conditional EDM, fp32, seed 0; each route trained for "
        f"{args.budget:.0f} CPU-seconds (one thread on a shared 2-core machine, measured fp32 "
        f"matmul {rate:.0f} GFLOP/s). The latent route spends {a['cpu_s']:.0f} CPU-s on the "
        f"KL autoencoder ({a['steps']} steps), {lat['setup']['cpu_s']:.1f} on loading it and "
        f"encoding the training set, and the rest on EDM over its latents. Scored with EMA "
        f"weights, Heun 18 steps = 35 NFE, no guidance, {args.n} samples vs {args.n} training "
        f"digits, mean of two seed blocks (largest block-to-block difference {spread:.3f}). "
        f"Data floor ({args.n} held-out test digits scored the same way): {floor:.3f}. The "
        f"autoencoder row scores the reconstructions of those same test digits: the best FD "
        f"the latent route can reach with this autoencoder (PSNR {a['psnr_db']:.2f} dB over "
        f"all {a['n_psnr']} test digits)."
    )
    name = "image_latent" + (f"_{args.tag}" if args.tag else "")
    data = {"args": {k: str(v) for k, v in vars(args).items()}, "matmul_gflops": rate,
            "floor": floor, "results": results}  # fmt: skip
    write_results(name, data, table, "Latent vs pixel-space EDM on digits at equal training "
                  "CPU time", notes, echo=True)  # fmt: skip


if __name__ == "__main__":
    main()

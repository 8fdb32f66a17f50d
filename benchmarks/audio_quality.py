"""Audio quality benchmarks.

``--data embedded`` (issue 15): class-conditional generation on the embedded procedural set
measured against the issue's targets — the eval classifier's accuracy on generated clips vs
on held-out real clips, inception score vs the real clips' and ``fd_mel`` vs the data floor
(held-out real clips against the reference). The waveform diffusion recipe
(``configs/audio/embedded_unet_edm.yaml``) is scored at several training budgets, and the
WaveGAN (``embedded_gan.yaml``) at the same CPU time. Training runs in chunks (resumed
exactly), so each budget point is the process CPU time spent training up to it. Writes
benchmarks/results/audio_quality_embedded.{json,md}.

    .venv/bin/python -m benchmarks.audio_quality --data embedded

``--data spoken-digits`` (the default; issue 4): quality vs. NFE on the spoken-digit set.

One DDPM run (ε, linear β, T=200 as DiffWave's SC09 model) is sampled with ancestral DDPM at
6 (DiffWave's fast schedule and the plain 6-step subset), 20, 50 and 200 NFE and with
DPM-Solver++(2M) at 6 and 20; a flow-matching run (same network) with Euler at 6, 20, 50;
a WaveGAN at 1 NFE. Every row is scored against the same reference (the spoken-digit *test*
split, unseen voices) with classifier FD / IS (the project's log-mel CNN trained
reproducibly on that reference, see domains/audio/metrics/classifier.py) and ``fd_mel``.
The ``data`` row scores held-out real clips (the *valid* split, other unseen voices) the same
way: the floor a perfect model would reach.

CPU budget (~20-25 min on 2 shared cores): clips are resampled to 8 kHz (1 s, 8,000
samples), the DiffWave is small (10 layers x 32 channels, bf16) and trained for a few hundred
steps, and 200 NFE uses fewer samples. Numbers compare rows of one run with each other;
they are far from a converged SC09 model and not comparable with ANCHORS' published table.

    .venv/bin/python benchmarks/audio_quality.py               # the recorded run
    .venv/bin/python benchmarks/audio_quality.py --smoke       # a minute, checks the wiring

A run folder ``--out/<ddpm|flow|gan>`` that already holds checkpoints is scored as it is, so
a long (GPU) training run answers the "6 fast steps vs 50 steps" question on a model that
makes digits: train it into ``OUT/ddpm`` with the same ``--rate``, then run this script
with ``--out OUT --device cuda``.

``multigen data prepare spoken-digits`` must have been run. Writes
benchmarks/results/audio_quality.json and .md (``--smoke``: audio_quality_smoke.*).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
import torch

from multigen import api
from multigen.registry import get_domain

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
KEYS = ["fd_cls", "is", "fd_mel", "ndb"]


def overrides(args: argparse.Namespace, gan: bool = False) -> list[str]:
    data = f"data.params={{sample_rate: {args.rate}, length: {args.rate}, resample: true}}"
    out = ["data.name=spoken-digits", data, "data.conditional=false",
           f"data.batch_size={args.batch}", f"train.steps={args.steps}",
           f"train.checkpoint_every={args.steps}", f"train.log_every={max(1, args.steps // 6)}",
           "train.progress=false", "train.tensorboard=false", "train.warmup=50",
           "train.ema_decay=0.99", "train.precision=fp32", "sample.n=2", "sample.steps=6",
           "eval.n_samples=2", "eval.options={classifier: false}"]  # fmt: skip
    if gan:
        out += ["train.lr=2.0e-4", "model.params={latent_dim: 64, width: 16, layers: 5}"]
    else:
        net = f"residual_layers: {args.layers}, residual_channels: {args.channels}"
        out += ["train.lr=5.0e-4", f"model.params={{{net}, dilation_cycle: 10, bf16: true}}"]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="spoken-digits", choices=["spoken-digits", "embedded"])
    ap.add_argument(
        "--budgets",
        type=int,
        nargs="*",
        default=[750, 1500, 3000],
        help="embedded: diffusion training steps at which it is scored",
    )
    ap.add_argument(
        "--gan-chunk",
        type=int,
        default=1500,
        help="embedded: GAN steps between scoring points (0: no GAN rows)",
    )
    ap.add_argument(
        "--gan-cpu",
        type=float,
        default=0.0,
        help="embedded: GAN training CPU seconds (0: the diffusion rows' total)",
    )
    ap.add_argument(
        "--config",
        default="embedded_unet_edm",
        help="embedded: the diffusion config (configs/audio/NAME.yaml), e.g. embedded_mel_edm",
    )
    ap.add_argument(
        "--guidance",
        type=float,
        nargs="*",
        default=[],
        help="embedded: classifier-free guidance weights also scored at the last budget",
    )
    ap.add_argument("--tag", default="", help="embedded: results file suffix (a part)")
    ap.add_argument("--merge", nargs="+", metavar="TAG", help="embedded: join tagged parts")
    ap.add_argument(
        "--set",
        nargs="*",
        metavar="KEY=VALUE",
        help="embedded: config overrides for the diffusion run (e.g. data.params.whiten=true)",
    )
    ap.add_argument("--steps", type=int, default=300, help="training steps per run")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--rate", type=int, default=8000, help="sample rate; clips are 1 s")
    ap.add_argument("--layers", type=int, default=10)
    ap.add_argument("--channels", type=int, default=32)
    ap.add_argument("--n", type=int, default=48, help="samples per row")
    ap.add_argument("--n200", type=int, default=24, help="samples for the 200-NFE row")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch default)")
    ap.add_argument(
        "--out",
        default="/tmp/audio_quality",
        help="run folders OUT/{ddpm,flow,gan}; one holding checkpoints is reused",
    )
    ap.add_argument("--device", default="cpu", help="where to sample: cpu, cuda or auto")
    ap.add_argument("--smoke", action="store_true", help="tiny budget, checks the wiring")
    ap.add_argument(
        "--runs",
        nargs="+",
        choices=["ddpm", "flow", "gan"],
        help="only these runs; the table then goes to audio_quality_rerun.* beside the "
        "recorded rows (audio_quality.json) of the same run/sampler/schedule/NFE",
    )
    ap.add_argument("--max-nfe", type=int, default=0, help="skip rows above this NFE (0: none)")
    args = ap.parse_args()
    if args.data == "embedded":
        from benchmarks.audio_quality_embedded import run_embedded

        return run_embedded(args)
    if args.smoke:
        args.steps, args.n, args.n200, args.layers, args.channels = 4, 4, 2, 2, 8
    if args.threads:
        torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    out = Path(args.out)
    dom = get_domain("audio")
    params = dict(sample_rate=args.rate, length=args.rate, resample=True)
    reference = dom.load_dataset("spoken-digits", None, "test", **params)
    held_out = dom.load_dataset("spoken-digits", None, "valid", **params)
    eval_opts = {"classifier_steps": 60 if args.smoke else 400, "pairing": "none"}

    rows = []

    def score(row: dict, samples) -> None:
        t = time.perf_counter()
        row.update(api.evaluate(dom, samples, reference, **eval_opts))
        row["eval_s"] = time.perf_counter() - t
        rows.append(row)
        print({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()},
              flush=True)  # fmt: skip

    score({"run": "data (valid split)", "sampler": "-", "schedule": "-", "nfe": 0,
           "seconds": 0.0}, held_out)  # fmt: skip
    train_s = {}
    runs = {}
    for name, config in (("ddpm", "embedded_ddpm"), ("flow", "embedded_flow"),
                         ("gan", "embedded_gan")):  # fmt: skip
        if args.runs and name not in args.runs:
            continue
        if (out / name / "checkpoints").is_dir():  # trained before (e.g. a long GPU run)
            runs[name], train_s[name] = out / name, None
            print(f"reusing the trained run {out / name}", flush=True)
            continue
        t = time.perf_counter()
        runs[name] = api.train(
            ROOT / f"configs/audio/{config}.yaml", out / name, overrides(args, name == "gan")
        )
        train_s[name] = time.perf_counter() - t
        print(f"trained {name} in {train_s[name]:.0f} s", flush=True)
    plan = [("ddpm", "ddpm", "diffwave_fast", 6, args.n), ("ddpm", "ddpm", "default", 6, args.n),
            ("ddpm", "dpmpp_2m", "default", 6, args.n), ("ddpm", "ddpm", "default", 20, args.n),
            ("ddpm", "dpmpp_2m", "default", 20, args.n), ("ddpm", "ddpm", "default", 50, args.n),
            ("ddpm", "ddpm", "default", 200, args.n200), ("flow", "euler", "default", 6, args.n),
            ("flow", "euler", "default", 20, args.n), ("flow", "euler", "default", 50, args.n),
            ("gan", None, "default", 1, args.n)]  # fmt: skip
    plan = [p for p in plan if p[0] in runs and (not args.max_nfe or p[3] <= args.max_nfe)]
    loaded = {k: api.load_run(v, device=args.device) for k, v in runs.items()}
    for run, sampler, schedule, steps, n in plan:
        res = api.sample(loaded[run], n=n, sampler=sampler, steps=steps, seed=0,
                         schedule=None if schedule == "default" else schedule)  # fmt: skip
        score({"run": run, "sampler": sampler or "generator", "schedule": schedule,
               "nfe": res.nfe, "seconds": res.seconds}, res.samples)  # fmt: skip
    total = time.perf_counter() - t_start
    meta = {
        "data": "spoken-digits (espeak-ng), train split for training, test split (unseen "
        f"voices, {len(reference)} clips) as reference, valid split for the data row",
        "sample_rate": args.rate, "clip_samples": args.rate, "train_steps": args.steps,
        "batch": args.batch, "diffwave": f"{args.layers} layers x {args.channels} ch, bf16",
        "gan": "WaveGAN latent 64, width 16, 5 layers, hinge loss",
        "n": args.n, "n_200_nfe": args.n200, "train_seconds": train_s,
        "total_seconds": total, "threads": torch.get_num_threads(),
        "load_avg_1min_end": os.getloadavg()[0], "time": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                        time.gmtime()),
    }  # fmt: skip
    name = "audio_quality_smoke" if args.smoke else "audio_quality"
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.runs:
        write_rerun(meta, rows)
        return
    (RESULTS / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    (RESULTS / f"{name}.md").write_text(markdown(meta, rows))
    print(markdown(meta, rows))


def write_rerun(meta: dict, rows: list[dict]) -> None:
    """The re-run rows beside the recorded ones with the same run/sampler/schedule/NFE."""
    recorded = json.loads((RESULTS / "audio_quality.json").read_text())
    old = {(r["run"], r["sampler"], r["schedule"], r["nfe"]): r for r in recorded["rows"]}
    lines = [
        "# Audio quality: recorded rows vs a re-run after the EMA warm-up fix",
        "",
        f"Recorded: {recorded['meta']['time']} (EMA decay 0.99, no warm-up). Re-run: "
        f"{meta['time']}, same script, data, sizes ({meta['diffwave']}), "
        f"{meta['train_steps']} steps, batch {meta['batch']}, n = {meta['n']}, seed 0; the "
        "EMA now warms up (decay min(0.99, (1+k)/(10+k))). Training s: "
        + ", ".join(f"{k} {train_note(v)}" for k, v in meta["train_seconds"].items())
        + f"; 1-min load at the end {meta['load_avg_1min_end']:.1f}.",
        "",
        "| run | sampler | schedule | NFE | fd_cls recorded | fd_cls re-run | IS recorded | "
        "IS re-run | fd_mel recorded | fd_mel re-run |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        o = old.get((r["run"], r["sampler"], r["schedule"], r["nfe"]), {})
        cells = []
        for k in ("fd_cls", "is", "fd_mel"):
            cells += [f"{o[k]:.3g}" if k in o else "-", f"{r[k]:.3g}" if k in r else "-"]
        lines.append(f"| {r['run']} | {r['sampler']} | {r['schedule']} | {r['nfe']} | "
                     + " | ".join(cells) + " |")  # fmt: skip
    (RESULTS / "audio_quality_rerun.md").write_text("\n".join(lines) + "\n")
    (RESULTS / "audio_quality_rerun.json").write_text(
        json.dumps({"meta": meta, "rows": rows, "recorded": recorded["rows"]}, indent=1)
    )
    print("\n".join(lines))


def train_note(seconds: float | None) -> str:
    if seconds is None:
        return "reused (its own config.yaml applies, not the sizes above)"
    return f"{seconds:.0f}"


def markdown(meta: dict, rows: list[dict]) -> str:
    lines = [
        "# Audio quality vs NFE (spoken-digit set)",
        "",
        f"Data: {meta['data']}. Clips resampled to {meta['sample_rate']} Hz, 1 s "
        f"({meta['clip_samples']} samples) to fit a CPU budget. DiffWave {meta['diffwave']}, "
        f"{meta['train_steps']} training steps at batch {meta['batch']} (EMA 0.99) for both "
        f"the DDPM (ε, linear β, T=200) and the flow-matching run; {meta['gan']}, same steps. "
        f"n = {meta['n']} samples per row ({meta['n_200_nfe']} for 200 NFE). Scores against "
        "the test split: fd_cls / is / ndb from the project's log-mel CNN classifier "
        "trained on that split (not the papers' ResNeXt; compare rows, not with ANCHORS), "
        "fd_mel from log-mel statistics. FD on a few dozen samples is biased upwards "
        "(compare rows with equal n).",
        "",
        f"Total {meta['total_seconds'] / 60:.1f} min on {meta['threads']} torch thread(s); "
        "training s: "
        + ", ".join(f"{k} {train_note(v)}" for k, v in meta["train_seconds"].items())
        + f"; 1-min load average at the end {meta['load_avg_1min_end']:.1f}; {meta['time']}.",
        "",
        "| run | sampler | schedule | NFE | n | sampling s | fd_cls | IS | fd_mel | NDB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]  # fmt: skip
    for r in rows:
        vals = " | ".join(f"{r[k]:.3g}" if k in r else "-" for k in KEYS)
        lines.append(f"| {r['run']} | {r['sampler']} | {r['schedule']} | {r['nfe']} | "
                     f"{int(r['n_samples'])} | {r['seconds']:.1f} | {vals} |")  # fmt: skip
    models = [r for r in rows if r["run"] != "data (valid split)"]
    if models and max(r.get("is", 0) for r in models) < 1.5:
        lines += ["", "**Reading: at this budget no model makes digits yet.** IS stays at 1.0 "
                  "(the classifier recognises no digit in any sample; real held-out clips: "
                  f"{rows[0].get('is', float('nan')):.2f}) and fd_cls is ~100x the data floor, "
                  "so the rows measure how far each method/NFE is from data while all are far "
                  "off, not quality at convergence; DiffWave trains for ~1M steps on SC09. "
                  "Differences between NFE of one model are then small and partly noise "
                  f"(n = {meta['n']}). Rerun with more `--steps` (or on a GPU) for a "
                  "meaningful curve."]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

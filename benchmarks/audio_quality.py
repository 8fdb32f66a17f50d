"""Quality vs. NFE for audio: classifier FD / IS / fd_mel of one trained diffusion run sampled
with several samplers and step counts (6 = DiffWave's fast schedule length, 20, 50, 200),
a flow-matching run, and a GAN at 1 NFE, all scored against the same reference split.

    .venv/bin/python benchmarks/audio_quality.py --data spoken-digits --steps 20000   # real
    .venv/bin/python benchmarks/audio_quality.py --data embedded --steps 300 --n 64   # smoke

``spoken-digits`` must be prepared first (``multigen data prepare spoken-digits``). Writes
benchmarks/results/audio_quality_<data>.json and .md.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from multigen import api

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def overrides(data: str, steps: int, small: bool) -> list[str]:
    out = [f"train.steps={steps}", f"train.checkpoint_every={steps}", "train.progress=false",
           "train.tensorboard=false", "sample.n=4", "eval.n_samples=8",
           "eval.options={classifier: false}"]  # fmt: skip
    if data == "spoken-digits":
        out += ["data.name=spoken-digits", "data.params={}", "data.conditional=false"]
    if small:
        out.append("data.params={n_per_class: 16}")
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="embedded", choices=["embedded", "spoken-digits"])
    ap.add_argument("--steps", type=int, default=300, help="training steps per run")
    ap.add_argument("--n", type=int, default=64, help="samples per evaluation")
    ap.add_argument("--nfe", default="6,20,50,200")
    ap.add_argument("--out", default="/tmp/audio_quality")
    ap.add_argument("--small", action="store_true", help="small embedded set (smoke test)")
    args = ap.parse_args()
    out = Path(args.out)
    reference = "spoken-digits:test" if args.data == "spoken-digits" else "embedded:test"
    ov = overrides(args.data, args.steps, args.small)
    runs = {
        "ddpm": api.train(ROOT / "configs/audio/embedded_ddpm.yaml", out / "ddpm", ov),
        "flow": api.train(ROOT / "configs/audio/embedded_flow.yaml", out / "flow", ov),
        "gan": api.train(ROOT / "configs/audio/embedded_gan.yaml", out / "gan", ov),
    }
    plan = [("ddpm", s, int(k)) for s in ("ddpm", "dpmpp_2m") for k in args.nfe.split(",")]
    plan += [("flow", "euler", int(k)) for k in args.nfe.split(",")[:3]]
    plan += [("gan", None, 1)]
    rows = []
    for run, sampler, steps in plan:
        res = api.sample(runs[run], n=args.n, sampler=sampler, steps=steps, seed=0)
        scores = api.evaluate("audio", res.samples, reference, n=max(args.n, 256))
        rows.append({"run": run, "sampler": sampler or "generator", "steps": steps,
                     "nfe": res.nfe, "seconds": res.seconds, **scores})  # fmt: skip
        print(rows[-1], flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = f"audio_quality_{args.data.replace('-', '_')}"
    meta = {"data": args.data, "train_steps": args.steps, "n": args.n, "time": time.ctime()}
    (RESULTS / f"{name}.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    keys = ["fd_cls", "is", "fd_mel", "accuracy"]
    lines = [f"# Audio quality vs NFE ({args.data}, {args.steps} training steps, n={args.n})", "",
             "| run | sampler | NFE | s | " + " | ".join(keys) + " |",
             "|---|---|---|---|" + "---|" * len(keys)]  # fmt: skip
    for r in rows:
        vals = " | ".join(f"{r[k]:.3g}" if k in r else "-" for k in keys)
        lines.append(f"| {r['run']} | {r['sampler']} | {r['nfe']} | {r['seconds']:.1f} | {vals} |")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

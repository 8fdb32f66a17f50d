"""Audio speed benchmark: DiffWave training throughput and sampling real-time factor.

Compares, in one run on one machine, multigen's DiffWave (channels-last GEMM formulation:
fp32, bf16, bf16 + torch.compile) with the same architecture written as DiffWave's
reference code does it (``[B, C, T]`` Conv1d per layer, fp32), at DiffWave-BASE size:
30 layers x 64 channels, 16,000-sample clips, batch 4 for training. Variants run
interleaved (round-robin, after a warm-up call that also compiles) and the median of the
repeats is reported, since these shared machines are noisy. Sampling goes through the
engine (``multigen.generate``) per sampler, step count and batch size (1 and 8 clips per
call), so sampler overhead counts. Also recorded: the WaveGAN generator (1 NFE), a short
fp32 vs bf16 (vs bf16 + compile) loss comparison through the trainer, the 1-min load
average, and the ratios to ANCHORS.md's timings of DiffWave's own code on this kind of
machine (1.75 clips/s training; 9.6 s per clip at 50 steps, 1.14 s at 6).

    .venv/bin/python -m benchmarks.audio_speed [--repeats 5] [--quick]

Writes benchmarks/results/audio_speed.json and .md. Compiled graphs are static per batch
size (``automatic_dynamic_shapes`` off), as in a sampling run with one batch size.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY=PASSIVE before torch loads)

# isort: split
import torch
import torch._dynamo
from torch import nn
from torch.nn import functional as F

from benchmarks.common import cpu_model
from multigen import api
from multigen.config import load_config
from multigen.generate import generate
from multigen.methods import build_method, nfe
from multigen.precision import cpu_bf16_features
from multigen_domains.audio import get_domain
from multigen_domains.audio.networks.diffwave import DiffWave
from multigen_domains.audio.networks.wavegan import WaveGANGenerator

ANCHOR_TRAIN_CLIPS_S = 1.75
ANCHOR_SAMPLE_S = {50: 9.6, 6: 1.14}
TARGET_TRAIN_RATIO = 1.5
ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
L, C, CYC, T, B_TRAIN = 30, 64, 10, 16000, 4


class ReferenceDiffWave(nn.Module):
    """DiffWave's architecture in its reference form: [B, C, T] tensors, one Conv1d per
    dilated conv and 1x1 projection, per-layer Linear step projection, fp32."""

    def __init__(self, layers: int = 30, channels: int = 64, cycle: int = 10):
        super().__init__()
        self.inp = nn.Conv1d(1, channels, 1)
        self.emb = nn.Sequential(nn.Linear(128, 512), nn.SiLU(), nn.Linear(512, 512), nn.SiLU())
        self.dil = nn.ModuleList(
            nn.Conv1d(
                channels, 2 * channels, 3, padding=2 ** (i % cycle), dilation=2 ** (i % cycle)
            )
            for i in range(layers)
        )
        self.step = nn.ModuleList(nn.Linear(512, channels) for _ in range(layers))
        self.out_proj = nn.ModuleList(nn.Conv1d(channels, 2 * channels, 1) for _ in range(layers))
        self.skip = nn.Conv1d(channels, channels, 1)
        self.out = nn.Conv1d(channels, 1, 1)

    def forward(self, x, c_noise, cond=None, mask=None):
        half = 64
        freqs = torch.exp(-math.log(10_000) * torch.arange(half) / half)
        e = torch.cat([torch.cos(c_noise[:, None] * freqs), torch.sin(c_noise[:, None] * freqs)], 1)
        e = self.emb(e)
        h = F.relu(self.inp(x))
        skip = 0
        for dil, step, proj in zip(self.dil, self.step, self.out_proj):
            y = dil(h + step(e)[:, :, None])
            gate, filt = y.chunk(2, 1)
            res, sk = proj(torch.sigmoid(gate) * torch.tanh(filt)).chunk(2, 1)
            h = (h + res) / math.sqrt(2)
            skip = skip + sk
        return self.out(F.relu(self.skip(skip / math.sqrt(len(self.dil)))))


def interleaved(fns: dict[str, callable], repeats: int) -> dict[str, list[float]]:
    """Warm-up call each (allocator, oneDNN kernels, compilation), then round-robin."""
    for fn in fns.values():
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            times[k].append(fn())
    return times


def med(times: dict[str, list[float]]) -> dict[str, float]:
    return {k: statistics.median(v) for k, v in times.items()}


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def train_step_fn(model: nn.Module, batch: int, length: int):
    opt = torch.optim.AdamW(model.parameters(), 2e-4)
    x = torch.randn(batch, 1, length)
    c = torch.rand(batch) * 200

    def step() -> None:
        loss = F.mse_loss(model(x, c), x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    return lambda: timed(step)


def forward_fn(model: nn.Module, batch: int, length: int):
    x = torch.randn(batch, 1, length)
    c = torch.rand(batch) * 200

    @torch.no_grad()
    def fwd() -> None:
        model(x, c)

    return lambda: timed(fwd)


def models_under_test(seed: int = 0) -> dict[str, nn.Module]:
    torch.manual_seed(seed)
    ref = ReferenceDiffWave(L, C, CYC)
    bf16 = DiffWave(L, C, CYC, bf16=True)
    compiled = DiffWave(L, C, CYC, bf16=True)
    compiled.load_state_dict(bf16.state_dict())
    return {"reference_fp32": ref, "multigen_fp32": DiffWave(L, C, CYC, bf16=False),
            "multigen_bf16": bf16, "multigen_bf16_compile": torch.compile(compiled)}  # fmt: skip


def engine_rows(quick: bool) -> list[dict]:
    """(method, sampler, schedule, steps, clips per call, compile) rows of the sampling table."""
    rows = []
    for sampler, schedule in (("ddpm", "diffwave_fast"), ("dpmpp_2m", "default")):
        for batch, comp in ((1, False), (1, True), (8, True)):
            rows.append(dict(method="ddpm", sampler=sampler, schedule=schedule, steps=6,
                             batch=batch, compile=comp))  # fmt: skip
    rows.append(dict(method="ddpm", sampler="ddim", schedule="default", steps=10, batch=1,
                     compile=True))  # fmt: skip
    rows.append(dict(method="flow", sampler="euler", schedule="default", steps=10, batch=1,
                     compile=True))  # fmt: skip
    if not quick:
        rows.append(dict(method="ddpm", sampler="ddpm", schedule="default", steps=50, batch=1,
                         compile=True))  # fmt: skip
    return rows


def row_key(r: dict) -> str:
    sched = "" if r["schedule"] == "default" else f"[{r['schedule']}]"
    tag = "bf16+compile" if r["compile"] else "bf16"
    return f"{r['method']}/{r['sampler']}{sched}/{r['steps']} steps, batch {r['batch']}, {tag}"


def engine_sampling(rows: list[dict], repeats: int) -> dict[str, dict]:
    """Seconds per call through ``generate`` (n = batch clips) for each row; one method (and
    network) per (method, batch, compile), so compiled graphs stay static per batch size."""
    dom = get_domain()
    info = {"shape": [1, T], "num_classes": 0, "cond_dim": 0, "sigma_data": 0.2,
            "sample_rate": 16000, "class_names": []}  # fmt: skip
    built, fns, meta = {}, {}, {}
    for r in rows:
        raw = {
            "domain": "audio",
            "data": {"name": "embedded"},
            "model": {"name": "diffwave", "params": {"residual_layers": L,
                      "residual_channels": C, "dilation_cycle": CYC, "bf16": True}},
            "method": {"name": r["method"], **({"timesteps": 200} if r["method"] == "ddpm"
                                                else {})},
            "sample": {"sampler": r["sampler"], "steps": r["steps"], "schedule": r["schedule"],
                       "n": r["batch"], "batch_size": r["batch"], "compile": r["compile"]},
        }  # fmt: skip
        cfg = load_config(raw)
        key = (r["method"], r["batch"], r["compile"])
        if key not in built:
            torch.manual_seed(0)
            m = build_method(cfg, dom, info)
            models = {k: v.eval() for k, v in m.models.items()}
            if r["compile"]:  # compile once here; generate() then wraps the compiled module
                models = {k: torch.compile(v) for k, v in models.items()}
            built[key] = (m, models)
        m, models = built[key]
        opts = cfg.sample.model_copy(update={"compile": False})
        name = row_key(r)
        meta[name] = {**r, "nfe": nfe(m, r["sampler"], r["steps"])}
        fns[name] = lambda m=m, models=models, opts=opts, b=r["batch"]: timed(
            lambda: generate(m, models, dom, info, b, opts, torch.device("cpu"))
        )
    times = med(interleaved(fns, repeats))
    out = {}
    for name, sec in times.items():
        per_clip = sec / meta[name]["batch"]
        rtf = {"rtf_16k": (T / 16000) / per_clip, "rtf_22k": (T / 22050) / per_clip}
        out[name] = {**meta[name], "s_per_call": sec, "s_per_clip": per_clip, **rtf}
    return out


def loss_check(steps: int) -> dict:
    """Same seed, data and noise draws through the trainer: fp32 vs bf16 vs bf16 + compile
    at DiffWave-BASE size on the embedded set (4,096-sample clips, batch 4)."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, bf16, comp in (("fp32", False, False), ("bf16", True, False),
                                 ("bf16_compile", True, True)):  # fmt: skip
            ov = [f"train.steps={steps}", f"train.checkpoint_every={steps}", "train.log_every=1",
                  "train.progress=false", "train.tensorboard=false", "train.warmup=10",
                  "train.lr=2.0e-4", "data.batch_size=4", "sample.n=2", "sample.steps=2",
                  "sample.sampler=ddim", "eval.n_samples=2", "eval.options={classifier: false}",
                  f"train.compile={str(comp).lower()}",
                  f"model.params={{residual_layers: {L}, residual_channels: {C}, "
                  f"dilation_cycle: {CYC}, bf16: {str(bf16).lower()}}}"]  # fmt: skip
            t = time.perf_counter()
            run = api.train(ROOT / "configs/audio/embedded_ddpm.yaml", Path(tmp) / name, ov)
            wall = time.perf_counter() - t
            logs = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
            out[name] = {"loss": [x["loss_denoise"] for x in logs if "loss_denoise" in x],
                         "wall_s": wall}  # fmt: skip
    ref = out["fp32"]["loss"]
    for name in ("bf16", "bf16_compile"):
        cur = out[name]["loss"]
        diffs = [abs(a - b) / abs(a) for a, b in zip(ref, cur, strict=True)]
        out[name]["max_rel_diff_vs_fp32"] = max(diffs)
        out[name]["mean_rel_diff_vs_fp32"] = sum(diffs) / len(diffs)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no 50-step row")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--loss-steps", type=int, default=40, help="0 skips the loss comparison")
    ap.add_argument("--tiny", action="store_true", help="tiny model and clips: checks wiring only")
    args = ap.parse_args()
    if args.tiny:
        global L, C, T
        L, C, T = 2, 8, 2000
    torch._dynamo.config.automatic_dynamic_shapes = False
    torch._dynamo.config.cache_size_limit = 64
    reps = 2 if args.quick else args.repeats
    loads = [os.getloadavg()[0]]
    t_start = time.perf_counter()

    models = models_under_test()
    params = sum(p.numel() for p in models["multigen_fp32"].parameters())
    ref_params = sum(p.numel() for p in models["reference_fp32"].parameters())
    train_t = interleaved({k: train_step_fn(m, B_TRAIN, T) for k, m in models.items()}, reps)
    loads.append(os.getloadavg()[0])
    fwd = {}
    for batch in (1, 8):
        fwd[batch] = med(interleaved({k: forward_fn(m, batch, T) for k, m in models.items()},
                                     reps))  # fmt: skip
    loads.append(os.getloadavg()[0])
    engine = engine_sampling(engine_rows(args.quick), max(2, reps - 2))
    loads.append(os.getloadavg()[0])
    g = WaveGANGenerator(T, latent_dim=100, width=64, layers=5).eval()
    gan = {}
    for batch in (1, 8):
        z = torch.randn(batch, 100)
        with torch.no_grad():
            gan[batch] = statistics.median(interleaved({"g": lambda z=z: timed(lambda: g(z))},
                                                       reps)["g"]) / batch  # fmt: skip
    losses = loss_check(args.loss_steps) if args.loss_steps else {}
    loads.append(os.getloadavg()[0])

    train = {k: B_TRAIN / statistics.median(v) for k, v in train_t.items()}
    fast = [r for r in engine.values() if r["steps"] == 6]
    best6 = min(fast, key=lambda r: r["s_per_clip"])
    best6_b1 = min((r for r in fast if r["batch"] == 1), key=lambda r: r["s_per_clip"])
    fifty = [r for r in engine.values() if r["steps"] == 50]
    result = {
        "machine": {
            "cpu": cpu_model(),
            "cpu_bf16": list(cpu_bf16_features()),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "load_avg_1min": loads,
            "load_avg_1min_max": max(loads),
            "time": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "total_s": time.perf_counter() - t_start,
        },
        "config": {
            "layers": L,
            "channels": C,
            "dilation_cycle": CYC,
            "clip_samples": T,
            "train_batch": B_TRAIN,
            "params_multigen": params,
            "params_reference": ref_params,
            "repeats": reps,
        },  # fmt: skip
        "train_clips_per_s": train,
        "train_step_s_all": train_t,
        "train_speedup_vs_reference_same_run": {
            k: v / train["reference_fp32"] for k, v in train.items()
        },
        "train_ratio_vs_anchor_1.75": {k: v / ANCHOR_TRAIN_CLIPS_S for k, v in train.items()},
        "forward_s": {f"batch_{b}": {k: v / b for k, v in f.items()} for b, f in fwd.items()},
        "forward_s_note": "seconds per clip (forward of a batch / batch size)",
        "engine_sampling": engine,
        "wavegan_s_per_clip": {f"batch_{b}": v for b, v in gan.items()},
        "anchor_ratio_sampling": {
            "6_steps_best_any_batch": ANCHOR_SAMPLE_S[6] / best6["s_per_clip"],
            "6_steps_best_any_batch_row": row_key(best6),
            "6_steps_best_batch_1": ANCHOR_SAMPLE_S[6] / best6_b1["s_per_clip"],
            "6_steps_best_batch_1_row": row_key(best6_b1),
            "50_steps": ANCHOR_SAMPLE_S[50] / fifty[0]["s_per_clip"] if fifty else None,
        },
        "loss_check": losses,
    }
    name = "audio_speed_tiny" if args.tiny else "audio_speed"
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=1))
    (RESULTS / f"{name}.md").write_text(markdown(result))
    print(markdown(result))


def projection(r: dict) -> list[str]:
    """Anchor-scaled figures: ANCHORS timed DiffWave's code on an idle machine; this run's
    reference-form code stands in for it, so our time x (anchor / reference-form, same run)
    estimates our time on an idle machine. Labelled as an estimate, not a measurement."""
    ref_train = r["train_clips_per_s"]["reference_fp32"]
    ref_fwd = r["forward_s"]["batch_1"]["reference_fp32"]
    scale = (ANCHOR_SAMPLE_S[6] / 6) / ref_fwd  # anchor's s per forward / reference-form's
    lines = ["", "### Scaled to the anchor's machine state (estimate, not a measurement)", "",
             "Same-run ratio to the reference-form code x the anchor: training clips/s = "
             f"ratio x 1.75; sampling s = our s x {scale:.3f} (anchor forward 1.14 s / 6 = "
             f"0.19 s vs the reference-form forward {ref_fwd:.3g} s in this run).", "",
             "| row | estimate | vs target |", "|---|---|---|"]  # fmt: skip
    for k, v in r["train_clips_per_s"].items():
        est = v / ref_train * ANCHOR_TRAIN_CLIPS_S
        lines.append(f"| train {k} | {est:.2f} clips/s | {est / ANCHOR_TRAIN_CLIPS_S:.2f}x "
                     f"(target {TARGET_TRAIN_RATIO}x) |")  # fmt: skip
    for k, v in r["engine_sampling"].items():
        if v["steps"] == 6:
            est = v["s_per_clip"] * scale
            lines.append(f"| {k} | {est:.2f} s per clip | RTF {1 / est:.2f} at 16 kHz, "
                         f"{16000 / 22050 / est:.2f} at 22.05 kHz |")  # fmt: skip
    return lines


def markdown(r: dict) -> str:
    m, cfg = r["machine"], r["config"]
    loads = ", ".join(f"{x:.1f}" for x in m["load_avg_1min"])
    lines = [
        "# Audio speed (DiffWave-BASE size: 30 layers x 64 ch, 16,000-sample clips)",
        "",
        f"CPU {m['cpu']} (native bf16: {', '.join(m['cpu_bf16']) or 'none'}), "
        f"{m['threads']} torch threads, torch {m['torch']}, {m['time']}; "
        f"1-min load average sampled through the run: {loads}. Wall-clock medians of "
        f"{cfg['repeats']} interleaved repeats after a warm-up (which also compiles). "
        f"Parameters: multigen {cfg['params_multigen']:,}, reference form "
        f"{cfg['params_reference']:,}.",
        "",
    ]
    if m["load_avg_1min_max"] > 1.5 * m["threads"]:
        lines += [f"**Load average reached {m['load_avg_1min_max']:.1f} on {m['threads']} "
                  "cores: other jobs shared the machine, so absolute numbers are pessimistic; "
                  "the same-run ratios are the more reliable figures.**", ""]  # fmt: skip
    lines += [
        f"## Training (batch {cfg['train_batch']}, AdamW step, 16,000-sample clips)",
        "",
        "| implementation | clips/s | vs reference-form code (same run) | vs ANCHORS 1.75 "
        f"(target >= {TARGET_TRAIN_RATIO}x) |",
        "|---|---|---|---|",
    ]
    for k, v in r["train_clips_per_s"].items():
        lines.append(f"| {k} | {v:.3g} | {r['train_speedup_vs_reference_same_run'][k]:.2f}x | "
                     f"{r['train_ratio_vs_anchor_1.75'][k]:.2f}x |")  # fmt: skip
    lines += ["", "## Sampling through the engine (s per 1-s clip at 16 kHz)", "",
              "RTF = seconds of audio per second of compute (> 1: faster than real time); "
              "ANCHORS' RTF is quoted for 22.05 kHz, where the same 16,000 samples are 0.726 s "
              "of audio.", "",
              "| method/sampler/steps, batch, precision | NFE | s per clip | RTF 16 kHz | "
              "RTF 22.05 kHz |", "|---|---|---|---|---|"]  # fmt: skip
    for k, v in r["engine_sampling"].items():
        lines.append(f"| {k} | {v['nfe']} | {v['s_per_clip']:.3g} | {v['rtf_16k']:.2f} | "
                     f"{v['rtf_22k']:.2f} |")  # fmt: skip
    for b, v in r["wavegan_s_per_clip"].items():
        lines.append(f"| WaveGAN generator (width 64), {b.replace('_', ' ')} | 1 | {v:.3g} | "
                     f"{1 / v:.1f} | {16000 / 22050 / v:.1f} |")  # fmt: skip
    a = r["anchor_ratio_sampling"]
    lines += ["", "Against ANCHORS (DiffWave's own code, 1.14 s per clip at 6 steps, 9.6 s at "
              f"50; ratio = anchor s / our s, > 1 is faster): 6 steps "
              f"{a['6_steps_best_batch_1']:.2f}x at batch 1 ({a['6_steps_best_batch_1_row']}), "
              f"{a['6_steps_best_any_batch']:.2f}x at best "
              f"({a['6_steps_best_any_batch_row']})"]  # fmt: skip
    if a["50_steps"]:
        lines[-1] += f"; 50 steps {a['50_steps']:.2f}x (batch 1, bf16 + compile)"
    lines[-1] += "."
    lines += projection(r)
    lines += ["", "## Denoiser forward alone (s per clip)", "",
              "| implementation | batch 1 | batch 8 |", "|---|---|---|"]  # fmt: skip
    f1, f8 = r["forward_s"]["batch_1"], r["forward_s"]["batch_8"]
    for k in f1:
        lines.append(f"| {k} | {f1[k]:.3g} | {f8[k]:.3g} |")
    lc = r.get("loss_check")
    if lc:
        n = len(lc["fp32"]["loss"])
        lines += ["", f"## bf16 numerics: training loss, {n} steps through the trainer",
                  "", "Same seed, batches and noise draws; DiffWave-BASE on the embedded set "
                  "(4,096-sample clips, batch 4), DDPM ε-loss. Relative difference per step vs "
                  "fp32:", "",
                  "| run | loss at steps 1 / 10 / 20 / ... | mean rel. diff | max rel. diff |",
                  "|---|---|---|---|"]  # fmt: skip
        for name, v in lc.items():
            pts = " / ".join(f"{x:.4f}" for x in v["loss"][::10] + v["loss"][-1:])
            mean = v.get("mean_rel_diff_vs_fp32")
            mx = v.get("max_rel_diff_vs_fp32")
            lines.append(f"| {name} | {pts} | {'-' if mean is None else f'{mean:.2%}'} | "
                         f"{'-' if mx is None else f'{mx:.2%}'} |")  # fmt: skip
        if lc["bf16"]["loss"] == lc["bf16_compile"]["loss"]:
            lines += ["", "Note: the `train.compile=true` run is bit-identical to eager bf16 and "
                      "took no compile time: the trainer calls `.compile()` on the denoiser "
                      "wrapper, while training goes through `Denoiser.loss`, which calls the "
                      "inner network uncompiled — so trainer compile is a no-op for diffusion "
                      "and flow methods (engine issue). The training speed above compiles the "
                      "network itself with `torch.compile`."]  # fmt: skip
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()

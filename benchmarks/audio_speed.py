"""Audio speed benchmark: DiffWave training throughput and sampling real-time factor.

Compares, in one run on one machine, multigen's DiffWave (channels-last GEMM formulation,
fp32 and bf16) with the same architecture written as DiffWave's reference code does it
(``[B, C, T]`` Conv1d per layer, fp32), at DiffWave-BASE size: 30 layers x 64 channels,
16,000-sample clips, batch 4 for training. Variants run interleaved and the median of the
repeats is reported, since these shared machines are noisy. Sampling goes through the
engine (``multigen.generate``) with each sampler and step count, so its overhead counts.
Also recorded: the WaveGAN generator (1 NFE) and the ratios to ANCHORS.md's timings of
DiffWave's own code (1.75 clips/s training; 9.6 s per clip at 50 steps, 1.14 s at 6).

    .venv/bin/python benchmarks/audio_speed.py [--quick] [--repeats 3]

Writes benchmarks/results/audio_speed.json and .md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F

from domains.audio import get_domain
from domains.audio.networks.diffwave import DiffWave
from domains.audio.networks.wavegan import WaveGANGenerator
from domains.audio.schedules import diffwave_fast_sigmas
from multigen.config import load_config
from multigen.generate import generate
from multigen.methods import build_method

ANCHOR_TRAIN_CLIPS_S = 1.75
ANCHOR_SAMPLE_S = {50: 9.6, 6: 1.14}
RESULTS = Path(__file__).resolve().parent / "results"


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


CLOCK = time.perf_counter  # --cpu-time switches to process CPU time (1 thread)


def train_step_time(model: nn.Module, batch: int, length: int) -> float:
    opt = torch.optim.Adam(model.parameters(), 2e-4)
    x = torch.randn(batch, 1, length)
    c = torch.rand(batch) * 200
    start = CLOCK()
    loss = F.mse_loss(model(x, c), x)
    opt.zero_grad()
    loss.backward()
    opt.step()
    return CLOCK() - start


@torch.no_grad()
def forward_time(model: nn.Module, batch: int, length: int) -> float:
    x = torch.randn(batch, 1, length)
    c = torch.rand(batch) * 200
    start = CLOCK()
    model(x, c)
    return CLOCK() - start


def cpu_time_main(repeats: int) -> None:
    """Single-thread CPU-time comparison: on a shared, overloaded machine wall-clock is
    dominated by time slicing, while one thread's CPU time still measures the work."""
    global CLOCK
    CLOCK = time.process_time
    torch.set_num_threads(1)
    torch.manual_seed(0)
    L, C, CYC, T = 30, 64, 10, 16000
    models = {"reference_fp32": ReferenceDiffWave(L, C, CYC),
              "multigen_fp32": DiffWave(L, C, CYC, bf16=False),
              "multigen_bf16": DiffWave(L, C, CYC, bf16=True)}  # fmt: skip
    train = interleaved({k: (lambda m=m: train_step_time(m, 1, T)) for k, m in models.items()},
                        repeats)  # fmt: skip
    fwd = interleaved({k: (lambda m=m: forward_time(m, 1, T)) for k, m in models.items()},
                      repeats)  # fmt: skip
    res = {
        "clock": "process CPU time, torch.set_num_threads(1), batch 1, 16,000 samples",
        "load_avg_1min": os.getloadavg()[0],
        "train_cpu_s_per_clip": train,
        "train_speedup_vs_reference": {k: train["reference_fp32"] / v for k, v in train.items()},
        "forward_cpu_s": fwd,
        "forward_speedup_vs_reference": {k: fwd["reference_fp32"] / v for k, v in fwd.items()},
        "sampling_cpu_s_per_clip_6_nfe": {k: 6 * v for k, v in fwd.items()},
        "sampling_cpu_s_per_clip_50_nfe": {k: 50 * v for k, v in fwd.items()},
    }
    lines = ["# Audio speed, single-thread CPU time (DiffWave-BASE 30 x 64, 16,000 samples)", "",
             f"1-min load average {res['load_avg_1min']:.1f}; {res['clock']}.", "",
             "| implementation | train CPU s/clip | speed-up | forward CPU s | speed-up | "
             "6 NFE CPU s | 50 NFE CPU s |", "|---|---|---|---|---|---|---|"]  # fmt: skip
    for k in models:
        lines.append(
            f"| {k} | {train[k]:.3g} | {res['train_speedup_vs_reference'][k]:.2f}x | "
            f"{fwd[k]:.3g} | {res['forward_speedup_vs_reference'][k]:.2f}x | "
            f"{6 * fwd[k]:.3g} | {50 * fwd[k]:.3g} |"
        )
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "audio_speed_cputime.json").write_text(json.dumps(res, indent=1))
    (RESULTS / "audio_speed_cputime.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def interleaved(fns: dict[str, callable], repeats: int) -> dict[str, float]:
    for fn in fns.values():  # warm-up (allocator, oneDNN kernels)
        fn()
    times = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            times[k].append(fn())
    return {k: statistics.median(v) for k, v in times.items()}


def engine_sampling(layers: int, channels: int, cycle: int, length: int, runs, repeats: int):
    """Seconds per 1-clip draw through the engine for each (method, sampler, steps)."""
    dom = get_domain()
    info = {"shape": [1, length], "num_classes": 0, "cond_dim": 0, "sigma_data": 0.2,
            "sample_rate": 16000, "class_names": []}  # fmt: skip
    out = {}
    for method, sampler, steps in runs:
        raw = {
            "domain": "audio",
            "data": {"name": "embedded"},
            "model": {"name": "diffwave", "params": {"residual_layers": layers,
                      "residual_channels": channels, "dilation_cycle": cycle, "bf16": True}},
            "method": {"name": method, **({"timesteps": 200} if method == "ddpm" else {})},
            "sample": {"sampler": sampler, "steps": steps, "n": 1, "batch_size": 1},
        }  # fmt: skip
        cfg = load_config(raw)
        torch.manual_seed(0)
        m = build_method(cfg, dom, info)
        models = {k: v.eval() for k, v in m.models.items()}
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            generate(m, models, dom, info, 1, cfg.sample, torch.device("cpu"))
            times.append(time.perf_counter() - t)
        out[f"{method}/{sampler}/{steps}"] = statistics.median(times)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repeats, no 50-step engine run")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--cpu-time", action="store_true", help="single-thread CPU-time comparison")
    args = ap.parse_args()
    if args.cpu_time:
        cpu_time_main(args.repeats)
        return
    torch.manual_seed(0)
    L, C, CYC, T, B = 30, 64, 10, 16000, 4
    ref = ReferenceDiffWave(L, C, CYC)
    ours32 = DiffWave(L, C, CYC, bf16=False)
    ours16 = DiffWave(L, C, CYC, bf16=True)
    params = sum(p.numel() for p in ours32.parameters())
    ref_params = sum(p.numel() for p in ref.parameters())
    reps = 2 if args.quick else args.repeats

    train = interleaved(
        {
            "reference_fp32": lambda: train_step_time(ref, B, T),
            "multigen_fp32": lambda: train_step_time(ours32, B, T),
            "multigen_bf16": lambda: train_step_time(ours16, B, T),
        },
        reps,
    )
    fwd = interleaved(
        {
            "reference_fp32": lambda: forward_time(ref, 1, T),
            "multigen_fp32": lambda: forward_time(ours32, 1, T),
            "multigen_bf16": lambda: forward_time(ours16, 1, T),
        },
        reps,
    )
    runs = [("ddpm", "ddpm", 6), ("ddpm", "dpmpp_2m", 6), ("ddpm", "ddim", 10),
            ("flow", "euler", 10), ("edm", "heun", 6)]  # fmt: skip
    if not args.quick:
        runs.append(("ddpm", "ddpm", 50))
    engine = engine_sampling(L, C, CYC, T, runs, max(1, reps - 1))

    g = WaveGANGenerator(16000, latent_dim=100, width=64, layers=5).eval()
    with torch.no_grad():
        gan = interleaved({"wavegan": lambda: _time(lambda: g(torch.randn(1, 100)))}, reps)[
            "wavegan"
        ]

    clip_s = T / 16000
    train_rows = {k: B / v for k, v in train.items()}
    sample_rows = {}
    for name, nfe in (("diffwave_fast_6", 6), ("50", 50), ("200", 200)):
        for k, v in fwd.items():
            sample_rows[f"{k}@{name}"] = nfe * v
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "load_avg_1min": os.getloadavg()[0],
        },  # fmt: skip
        "config": {
            "layers": L,
            "channels": C,
            "dilation_cycle": CYC,
            "clip_samples": T,
            "train_batch": B,
            "params_multigen": params,
            "params_reference": ref_params,
        },  # fmt: skip
        "train_clips_per_s": train_rows,
        "train_speedup_vs_reference_same_run": {
            k: v / train_rows["reference_fp32"] for k, v in train_rows.items()
        },
        "train_ratio_vs_anchor_1.75": {k: v / ANCHOR_TRAIN_CLIPS_S for k, v in train_rows.items()},
        "forward_s_batch1": fwd,
        "sampling_s_per_clip_from_forward": sample_rows,
        "engine_sampling_s_per_clip": engine,
        "engine_rtf_16k": {k: clip_s / v for k, v in engine.items()},
        "anchor_ratio_sampling": {
            "6_steps": ANCHOR_SAMPLE_S[6] / engine.get("ddpm/ddpm/6", float("nan")),
            "50_steps": ANCHOR_SAMPLE_S[50] / (50 * fwd["multigen_bf16"]),
        },
        "wavegan_s_per_clip": gan,
        "wavegan_rtf_16k": clip_s / gan,
        "diffwave_fast_sigmas": diffwave_fast_sigmas().tolist(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "audio_speed.json").write_text(json.dumps(result, indent=1))
    (RESULTS / "audio_speed.md").write_text(markdown(result))
    print(markdown(result))


def _time(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def markdown(r: dict) -> str:
    m = r["machine"]
    lines = [
        "# Audio speed (DiffWave-BASE size: 30 layers x 64 ch, 16,000-sample clips)",
        "",
        f"CPU {m['cpu']}, {m['threads']} threads, torch {m['torch']}, 1-min load average during "
        f"the run {m['load_avg_1min']:.1f} (other jobs shared the machine; ratios within the run "
        "are the meaningful numbers).",
        "",
    ]
    if m["load_avg_1min"] > 2 * m["threads"]:
        lines += [
            f"**Warning: load average {m['load_avg_1min']:.0f} on {m['threads']} threads — every"
            " process got a small time slice, so these wall-clock numbers (and even their"
            " ratios) say little about the code; see audio_speed_cputime.md and rerun on an"
            " idle machine.**",
            "",
        ]
    lines += [
        "## Training (batch 4), clips/s",
        "",
        "| implementation | clips/s | vs reference-form code (same run) | vs ANCHORS 1.75 |",
        "|---|---|---|---|",
    ]
    for k, v in r["train_clips_per_s"].items():
        lines.append(f"| {k} | {v:.3g} | {r['train_speedup_vs_reference_same_run'][k]:.2f}x | "
                     f"{r['train_ratio_vs_anchor_1.75'][k]:.2f}x |")  # fmt: skip
    lines += ["", "## Sampling one 1-s clip (16 kHz) through the engine, bf16", "",
              "| method/sampler/steps | s per clip | real-time factor (audio s / compute s) |",
              "|---|---|---|"]  # fmt: skip
    for k, v in r["engine_sampling_s_per_clip"].items():
        lines.append(f"| {k} | {v:.3g} | {r['engine_rtf_16k'][k]:.2f} |")
    lines.append(f"| WaveGAN generator (1 NFE) | {r['wavegan_s_per_clip']:.3g} | "
                 f"{r['wavegan_rtf_16k']:.1f} |")  # fmt: skip
    lines += ["", "Denoiser forward at batch 1 (s) and the implied cost of N-step sampling:", "",
              "| implementation | forward s | 6 NFE s | 50 NFE s | 200 NFE s |",
              "|---|---|---|---|---|"]  # fmt: skip
    s = r["sampling_s_per_clip_from_forward"]
    for k, v in r["forward_s_batch1"].items():
        lines.append(f"| {k} | {v:.3g} | {s[k + '@diffwave_fast_6']:.3g} | {s[k + '@50']:.3g} | "
                     f"{s[k + '@200']:.3g} |")  # fmt: skip
    a = r["anchor_ratio_sampling"]
    lines += ["", f"Against ANCHORS (DiffWave's code, idle machine): 6-step {a['6_steps']:.2f}x "
              f"faster (1.14 s), 50-step {a['50_steps']:.2f}x faster (9.6 s).", ""]  # fmt: skip
    return "\n".join(lines)


if __name__ == "__main__":
    main()

"""Issue 15: does a mel vocoder trained on a CPU budget beat Griffin-Lim?

Two vocoders, each trained on the embedded set's training split and scored at two budgets
(training resumed exactly between them, so the second budget is the first plus more steps):
the GAN one (``configs/audio/embedded_vocoder.yaml``: a small HiFi-GAN generator against the
MPD+MSD discriminators, LSGAN + feature matching + 45 x L1 on log-mels) and the diffusion one
(``configs/audio/embedded_diffwave_vocoder.yaml``: DiffWave conditioned on the log-mel, EDM,
sampled with the config's few-step sampler). Each row resynthesises the 128
held-out *test* clips from their log-mels (domains/audio/melspec.py: 64 mels x 64 frames)
and scores them against those clips:

- ``mr_stft`` / ``lsd``: paired spectral distances to the original clip (lower is better);
- ``fd_mel`` and the reference classifier's ``accuracy`` on the resynthesised clips (their
  true class labels) beside its accuracy on the real clips, ``is`` its inception score.

Baselines: Griffin-Lim (torchaudio, 64 iterations, momentum 0.99) from the least-squares
linear magnitude of the same log-mels, and the held-out *valid* clips (other real clips;
their fd_mel is the data floor, they have no pairs).

    .venv/bin/python -m benchmarks.audio_vocoder            # the recorded run (~40 min CPU)
    .venv/bin/python -m benchmarks.audio_vocoder --smoke    # a minute, checks the wiring

Writes benchmarks/results/audio_vocoder.{json,md} (``--smoke``: audio_vocoder_smoke.*).
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
from domains.audio.domain import AudioDomain
from domains.audio.samples import AudioSamples
from domains.audio.vocoder import griffin_lim, load_vocoder
from multigen import api

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "configs/audio/embedded_vocoder.yaml"
DIFFWAVE = ROOT / "configs/audio/embedded_diffwave_vocoder.yaml"
# DiffWave's fast schedule (6 noise levels) with the deterministic Euler step and with
# DiffWave's own ancestral (DDPM posterior) step
DIFFWAVE_SAMPLERS = ("euler", "ddpm")
KEYS = ("mr_stft", "lsd", "fd_mel", "accuracy", "cls_acc_reference", "is")


def train_to(out: Path, steps: int, extra: list[str], config: Path = CONFIG) -> float:
    """Train (or resume) ``out`` up to ``steps``; the process CPU seconds spent so far in
    total (kept in ``out/cpu_s.json`` so a re-run reuses trained budgets)."""
    ledger = out / "cpu_s.json"
    spent = json.loads(ledger.read_text()) if ledger.is_file() else {}
    if str(steps) in spent:
        return spent[str(steps)]
    before = max(spent.values(), default=0.0)
    sets = [f"train.steps={steps}", f"train.checkpoint_every={steps}", "train.progress=false",
            "train.tensorboard=false", "sample.n=2", "eval.n_samples=2", *extra]  # fmt: skip
    cpu = time.process_time()
    api.train(config, out, sets, resume=(out / "checkpoints").is_dir())
    spent[str(steps)] = before + time.process_time() - cpu
    ledger.write_text(json.dumps(spent))
    return spent[str(steps)]


def score(dom: AudioDomain, waves: torch.Tensor, ref: AudioSamples, opts: dict) -> dict:
    """Resynthesised test clips (same names and labels as ``ref``) scored against them."""
    gen = AudioSamples(waves, ref.sample_rate, ref.labels, list(ref.names), ref.class_names,
                       from_files=True)  # fmt: skip
    out = dom.evaluate(gen, ref, **opts)
    return {k: float(out[k]) for k in KEYS if k in out}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--budgets", type=int, nargs=2, default=[300, 900])
    ap.add_argument("--diffwave-budgets", type=int, nargs="+", default=[500, 1000])
    ap.add_argument("--out", type=Path, default=ROOT / "runs/bench_audio_vocoder")
    ap.add_argument("--smoke", action="store_true")
    args = ap.parse_args()
    extra: list[str] = []
    budgets, dw_budgets = args.budgets, args.diffwave_budgets
    if args.smoke:
        budgets = dw_budgets = [2, 4]
        extra = ["data.params.n_per_class=4"]
        args.out = args.out.with_name(args.out.name + "_smoke")
    dw_out = args.out.with_name(args.out.name + "_diffwave")
    opts = {"classifier_steps": 20 if args.smoke else 400, "seed": 0}
    dom = AudioDomain()
    test = dom.load_dataset("embedded", None, "test", mel={"n_fft": 256, "hop": 64, "n_mels": 64})
    ref = AudioSamples(test.waves, test.sample_rate, test.labels, list(test.names),
                       list(test.class_names), from_files=True)  # fmt: skip
    rows: list[dict] = []

    start = time.perf_counter()
    gl = griffin_lim(test.mels, test.settings, n_iter=64)
    gl_s = time.perf_counter() - start
    audio_s = test.waves.numel() / test.sample_rate
    rows.append({"model": "Griffin-Lim (64 it.)", "train_steps": 0, "train_cpu_min": 0.0,
                 **score(dom, gl, ref, opts), "rtf": gl_s / audio_s})  # fmt: skip

    for steps in budgets:
        cpu = train_to(args.out, steps, extra)
        voc = load_vocoder(args.out, "cpu", args.out / "checkpoints" / f"step_{steps:08d}")
        start = time.perf_counter()
        waves = voc(test.mels)
        voc_s = time.perf_counter() - start
        rows.append({"model": "HiFi-GAN vocoder", "train_steps": steps,
                     "train_cpu_min": cpu / 60, **score(dom, waves, ref, opts),
                     "rtf": voc_s / audio_s})  # fmt: skip

    for steps in dw_budgets:
        cpu = train_to(dw_out, steps, extra, DIFFWAVE)
        for sampler in DIFFWAVE_SAMPLERS:  # 6 network calls each
            voc = load_vocoder(dw_out, "cpu", dw_out / "checkpoints" / f"step_{steps:08d}",
                               sampler=sampler, schedule="diffwave_fast")  # fmt: skip
            start = time.perf_counter()
            waves = voc(test.mels)
            voc_s = time.perf_counter() - start
            rows.append({"model": f"DiffWave vocoder ({sampler}, 6 steps)", "train_steps": steps,
                         "train_cpu_min": cpu / 60, **score(dom, waves, ref, opts),
                         "rtf": voc_s / audio_s})  # fmt: skip
            print(rows[-1], flush=True)

    valid = dom.reference("embedded:valid")  # other real clips: the data floor (unpaired)
    floor = dom.evaluate(valid, ref, **opts, pairing="none")
    rows.append({"model": "real clips (valid split)", "train_steps": 0, "train_cpu_min": 0.0,
                 **{k: float(floor[k]) for k in KEYS if k in floor}, "rtf": 0.0})  # fmt: skip

    table = [{k: r.get(k, float("nan")) for k in
              ("model", "train_steps", "train_cpu_min", *KEYS, "rtf")} for r in rows]  # fmt: skip
    notes = (
        f"Embedded set, {len(test)} held-out test clips (8 kHz, 4096 samples) resynthesised from "
        "their log-mels (64 mels x 64 frames, n_fft 256, hop 64). mr_stft/lsd: paired distances "
        "to the original clip (lower is better); accuracy: the reference classifier (trained on "
        "the test clips, as every audio row) on the resynthesised clips with their true labels; "
        "cls_acc_reference: its accuracy on the real clips; rtf: seconds of compute per second "
        "of audio (CPU, one process). train_cpu_min: process CPU minutes of training up to that "
        "budget (2 shared cores). The valid-split row is other real clips: the fd_mel floor."
    )
    name = "audio_vocoder_smoke" if args.smoke else "audio_vocoder"
    configs = [str(c.relative_to(ROOT)) for c in (CONFIG, DIFFWAVE)]
    write_results(name, {"rows": rows, "budgets": budgets, "diffwave_budgets": dw_budgets,
                         "configs": configs},
                  table, "Mel vocoder vs Griffin-Lim (issue 15)", notes, echo=True)  # fmt: skip


if __name__ == "__main__":
    main()

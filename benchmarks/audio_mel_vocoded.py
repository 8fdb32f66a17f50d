"""Issue 15: the mel model's samples turned into sound by each vocoder, and what it costs.

One trained mel-diffusion run (default ``zoo:audio-mel-edm``: DiT-tiny EDM on 64x64 log-mels,
sampled with its config's settings, churn 10) draws 128 log-mels (16 per class, seed 0); each
decoder turns the same mels into waveforms, scored against the embedded test split as
``benchmarks/audio_quality_embedded.py`` scores (same classifier options; the valid split
gives the floor). Decoders: Griffin-Lim (64 iterations, as the mel codec decodes) and the
trained vocoder runs given (``--vocoder NAME=RUN``, e.g. the DiffWave vocoder of
``benchmarks/audio_vocoder.py``). Beside each sample row, the decoder's *round trip*: the
held-out valid clips' own log-mels (clamped at the codec's ``log_min``, as the model sees
them) decoded — what a mel model that generated real mels exactly would score.

Speed: one second of audio (two 0.5-s clips, batch 2) generated with ``--threads`` torch
threads: the mel model's sampling, then the decoder; ``rtf`` = seconds of compute per second
of audio (< 1: faster than real time).

Listenable evidence: ``results/audio_mel_vocoded.html`` plays, per class, generated clips
decoded by each decoder next to real test clips, each with its log-mel spectrogram (WAV and
PNG inlined, the page stands alone).

    .venv/bin/python -m benchmarks.audio_mel_vocoded --vocoder DiffWave=RUN  # RUN: e.g.
    runs/bench_audio_vocoder_diffwave, the DiffWave vocoder benchmarks.audio_vocoder trained

Writes benchmarks/results/audio_mel_vocoded.{json,md,html}.
"""

from __future__ import annotations

import argparse
import base64
import html
import io
import time

import multigen  # noqa: F401  (sets OMP_WAIT_POLICY before torch loads)

# isort: split
import torch

from benchmarks.audio_quality_embedded import data_floor, ratios, scores_of
from benchmarks.common import RESULTS, write_results
from multigen import api
from multigen.generate import generate
from multigen.registry import get_domain
from multigen_domains.audio.melspec import MelSettings
from multigen_domains.audio.samples import AudioSamples, log_mel
from multigen_domains.audio.vocoder import griffin_lim, load_vocoder

GRIFFIN_LIM_ITERS = 64  # the mel codec's default


def mel_samples(run, n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``n`` log-mels ``[n, n_mels, frames]`` from the latent run (un-standardised, as its codec
    would decode them) and their class labels."""
    options = api.sample_options(run, {"n": n, "seed": seed})
    precision = api._sampling_precision(run)
    batch = generate(run.method, run.models, run.domain, run.info, n, options, run.device,
                     precision, conditional=run.config.data.conditional)  # fmt: skip
    latent = run.info["latent"]
    z = batch.x.float() * float(latent["std"]) + float(latent["mean"])
    mel = z[:, 0] if latent["settings"].get("layout") == "image" else z
    return mel, batch.cond


def decoders(args, settings: MelSettings) -> dict:
    out = {"Griffin-Lim": lambda m: griffin_lim(m, settings, n_iter=GRIFFIN_LIM_ITERS)}
    for spec in args.vocoder:
        name, _, path = spec.partition("=")
        voc = load_vocoder(path, "cpu")
        voc.check_settings(settings, "the mel run")
        out[name] = voc
    return out


def as_samples(waves: torch.Tensor, labels, reference) -> AudioSamples:
    names = [f"{i:04d}" for i in range(len(waves))]
    return AudioSamples(waves, reference.sample_rate, labels, names, list(reference.class_names))


def speed(run, decode, threads: int, clips: int = 2) -> dict:
    """Seconds to generate ``clips`` clips (mel model, then the decoder), after a warm-up."""
    torch.set_num_threads(threads)
    try:
        mel_samples(run, clips, seed=1000)  # warm-up
        t = time.perf_counter()
        mel, _ = mel_samples(run, clips, seed=2000)
        mel_s = time.perf_counter() - t
        decode(mel[:1])  # warm-up
        t = time.perf_counter()
        waves = decode(mel)
        dec_s = time.perf_counter() - t
    finally:
        torch.set_num_threads(1)
    audio_s = waves.numel() / run.info["sample_rate"]
    return {"audio_s": audio_s, "mel_s": mel_s, "decode_s": dec_s,
            "rtf": (mel_s + dec_s) / audio_s}  # fmt: skip


# ---- the HTML report ----------------------------------------------------------------------
def _wav_b64(wave: torch.Tensor, rate: int) -> str:
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, wave.clamp(-1, 1).numpy(), rate, format="WAV", subtype="PCM_16")
    return base64.b64encode(buf.getvalue()).decode()


def _png_b64(spec: torch.Tensor) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(2.4, 1.2), dpi=80)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.imshow(spec.numpy(), origin="lower", aspect="auto", cmap="magma", vmin=-11.5)
    ax.axis("off")
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def _cell(wave: torch.Tensor, rate: int, label: str) -> str:
    spec = log_mel(wave[None], rate)[0]
    return (
        f'<td><div class="l">{html.escape(label)}</div>'
        f'<img src="data:image/png;base64,{_png_b64(spec)}"><br>'
        f'<audio controls preload="none" src="data:audio/wav;base64,{_wav_b64(wave, rate)}">'
        "</audio></td>"
    )


def html_report(generated: dict, labels, reference, table: list[dict], per_class: int) -> str:
    """Per class: ``per_class`` generated clips from each decoder, then as many real ones."""
    rate, classes = reference.sample_rate, list(reference.class_names)
    head = "".join(f"<th>{html.escape(k)}</th>" for k in table[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{v:.4g}</td>" if isinstance(v, float) else
                         f"<td>{html.escape(str(v))}</td>" for v in r.values()) + "</tr>"
        for r in table
    )  # fmt: skip
    rows = []
    for c, name in enumerate(classes):
        cells = []
        for dec, waves in generated.items():
            idx = [i for i in range(len(waves)) if int(labels[i]) == c][:per_class]
            cells += [_cell(waves[i], rate, f"generated, {dec}") for i in idx]
        real = [i for i in range(len(reference)) if int(reference.labels[i]) == c][:per_class]
        cells += [_cell(reference.waves[i], rate, f"real ({reference.names[i]})") for i in real]
        rows.append(f"<tr><th>{html.escape(name)}</th>{''.join(cells)}</tr>")
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Mel diffusion, vocoded"
        "</title><style>body{font-family:sans-serif;font-size:13px}td,th{padding:3px;"
        "vertical-align:top;border-bottom:1px solid #ddd}.l{font-size:11px;color:#555}"
        "audio{width:190px}</style></head><body>"
        "<h1>Issue 15: the mel model's samples, vocoded</h1>"
        "<p>Class-conditional log-mels from the mel-diffusion model turned into sound by each "
        "decoder, next to real held-out clips of the class (embedded set, 8 kHz, 0.5 s). "
        "Spectrograms: log-mel power, 64 bands.</p>"
        f"<table><tr>{head}</tr>{body}</table><h2>Clips</h2><table>{''.join(rows)}</table>"
        "</body></html>"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", default="zoo:audio-mel-edm")
    ap.add_argument("--vocoder", action="append", default=[], metavar="NAME=RUN")
    ap.add_argument("--threads", type=int, default=2, help="torch threads for the speed rows")
    ap.add_argument("--per-class", type=int, default=2, help="clips per class in the HTML")
    args = ap.parse_args()
    torch.set_num_threads(1)
    dom = get_domain("audio")
    reference, floor = data_floor(dom)
    run = api.load_run(args.run, device="cpu")
    codec = run.info["latent"]["settings"]
    settings = MelSettings.from_dict(dict(codec["mel"]))
    log_min = codec.get("log_min")
    decode = decoders(args, settings)
    valid = dom.load_dataset("embedded", None, "valid")
    valid_mel = settings.logmel(valid.waves)
    if log_min is not None:
        valid_mel = valid_mel.clamp_min(float(log_min))
    mels, labels = mel_samples(run, len(reference))
    rows, generated = [], {}
    for name, fn in decode.items():
        for what, m, y in (("round trip (valid clips)", valid_mel, valid.labels),
                           ("mel model samples", mels, labels)):  # fmt: skip
            t = time.perf_counter()
            waves = fn(m)
            seconds = time.perf_counter() - t
            row = {"decoder": name, "mels": what, "decode_s": round(seconds, 1)}
            row.update(scores_of(dom, as_samples(waves, y, reference), reference))
            row.update(ratios(row, floor))
            rows.append(row)
            print({k: row[k] for k in ("decoder", "mels", "accuracy", "is", "fd_mel")}, flush=True)
            if what == "mel model samples":
                generated[name] = waves
        rows[-1].update({f"speed_{k}": v for k, v in speed(run, fn, args.threads).items()})
    keys = ["decoder", "mels", "accuracy", "acc_ratio", "is", "is_ratio", "fd_mel",
            "fd_mel_ratio", "decode_s"]  # fmt: skip
    table = [{k: r[k] for k in keys} | {"rtf_1s": r.get("speed_rtf", float("nan"))}
             for r in rows]  # fmt: skip
    notes = (
        f"Mel run {args.run} ({len(reference)} samples, 16 per class, seed 0, its config's "
        f"sampler) decoded by each decoder, vs the embedded test split; floor (valid vs test): "
        f"accuracy {floor['accuracy']:.3f}, IS {floor['is']:.2f}, fd_mel {floor['fd_mel']:.1f}. "
        "Targets (issue 15): acc_ratio >= 0.9, is_ratio >= 0.8, fd_mel_ratio <= 2. decode_s: "
        "decoding the 128 clips (64 s of audio), one torch thread. rtf_1s: mel sampling + "
        f"decoding of 1 s of audio (two clips) with {args.threads} torch threads, seconds per "
        "second of audio (< 1: faster than real time). Vocoders: "
        + (", ".join(args.vocoder) or "none")
        + ". Listen: audio_mel_vocoded.html."
    )
    write_results("audio_mel_vocoded", {"run": args.run, "vocoders": args.vocoder,
                                        "floor": floor, "rows": rows}, table,
                  "Mel diffusion samples through each vocoder (issue 15)", notes)  # fmt: skip
    page = html_report(generated, labels, reference, table, args.per_class)
    (RESULTS / "audio_mel_vocoded.html").write_text(page)


if __name__ == "__main__":
    main()

"""Generated/reference clips as objects, and their files: one 16-bit WAV per clip, a
``labels.json`` manifest for class-conditional samples and a PNG grid of log-mel
spectrograms; reading any folder of audio files back (any model's samples)."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from multigen.domain import DomainError
from multigen.fileio import read_each

from .io import list_audio_files, read_audio, write_wav

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@dataclass
class AudioSamples:
    """``waves [N, T]`` float32 at ``sample_rate``; optional labels ``[N]`` (-1 = none)."""

    waves: torch.Tensor
    sample_rate: int
    labels: torch.Tensor | None = None
    names: list[str] | None = None
    class_names: list[str] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    # names identify files (read from disk): only then may two sets be paired by name
    from_files: bool = False

    def __len__(self) -> int:
        return self.waves.shape[0]

    def __post_init__(self) -> None:
        if self.waves.ndim == 3 and self.waves.shape[1] == 1:
            self.waves = self.waves[:, 0]
        if self.waves.ndim != 2:
            raise DomainError(f"audio samples must be [N, T] (mono), got {list(self.waves.shape)}")
        if self.names is None:
            self.names = [f"sample_{i:05d}" for i in range(len(self.waves))]

    def head(self, n: int | None) -> AudioSamples:
        """At most ``n`` clips: a fixed (seed 0) random subset kept in file order, so a
        folder sorted by class still yields every class."""
        if n is None or n >= len(self):
            return self
        idx = torch.randperm(len(self), generator=torch.Generator().manual_seed(0))[:n].sort()[0]
        return AudioSamples(
            self.waves[idx],
            self.sample_rate,
            None if self.labels is None else self.labels[idx],
            [self.names[i] for i in idx.tolist()],
            self.class_names,
            self.skipped,
            self.from_files,
        )


def export(samples: AudioSamples, out_dir: Path, grid: int = 16) -> list[Path]:
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = [
        write_wav(out_dir / f"{name}.wav", w, samples.sample_rate)
        for name, w in zip(samples.names, samples.waves)
    ]
    if samples.labels is not None and bool((samples.labels >= 0).any()):
        manifest = {
            "class_names": samples.class_names,
            "labels": {n: int(y) for n, y in zip(samples.names, samples.labels.tolist())},
        }
        path = out_dir / "labels.json"
        path.write_text(json.dumps(manifest, indent=1))
        files.append(path)
    if len(samples):
        files.append(spectrogram_grid(samples, out_dir / "spectrograms.png", grid))
    return files


def log_mel(waves: torch.Tensor, sample_rate: int, n_mels: int = 64) -> torch.Tensor:
    """Natural-log mel power spectrogram ``[N, n_mels, frames]``; window ~64 ms, hop 1/4."""
    import torchaudio

    n_fft = 1 << int(round(np.log2(sample_rate * 0.064)))
    mel = torchaudio.transforms.MelSpectrogram(
        sample_rate, n_fft=n_fft, hop_length=n_fft // 4, n_mels=n_mels, f_min=0.0, power=2.0
    )
    return torch.log(mel(waves.float()) + 1e-5)


def spectrogram_grid(samples: AudioSamples, path: Path, n: int = 16) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = min(n, len(samples))
    cols = min(4, n)
    rows = (n + cols - 1) // cols
    spec = log_mel(samples.waves[:n], samples.sample_rate).numpy()
    fig, axes = plt.subplots(rows, cols, figsize=(3 * cols, 2.2 * rows), squeeze=False)
    seconds = samples.waves.shape[1] / samples.sample_rate
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(spec[i], origin="lower", aspect="auto", cmap="magma", vmin=-11.5,
                  extent=(0, seconds, 0, spec.shape[1]))  # fmt: skip
        title = samples.names[i]
        if samples.labels is not None and int(samples.labels[i]) >= 0:
            y = int(samples.labels[i])
            title += f" [{samples.class_names[y] if y < len(samples.class_names) else y}]"
        ax.set_title(title, fontsize=7)
    fig.suptitle(f"log-mel spectrograms ({samples.sample_rate} Hz, {seconds:.2f} s)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def load_samples(path: Path, strict: bool = False) -> AudioSamples:
    """Every audio file under ``path`` (or one file), mono-mixed, zero-padded to the longest.

    Labels come from ``labels.json`` (written by :func:`export`) or from class sub-folders.
    All files must share one sample rate (the most common one); others are bad input.
    """
    path = Path(path)
    if not path.exists():
        raise DomainError(f"samples not found: {path}")
    root = path if path.is_dir() else path.parent
    files = list_audio_files(path) if path.is_dir() else [path]
    if not files:
        raise DomainError(f"{path}: no audio files (.wav .flac .ogg .oga .opus)")
    read_ok, skipped = read_each(files, read_audio, strict)
    decoded = [(files[i], data.mean(axis=0), rate) for i, (data, rate) in read_ok]
    if not decoded:
        raise DomainError(
            f"{path}: no readable audio files; first problem: {skipped[0][0]}: {skipped[0][1]}"
        )
    rate = Counter(r for _, _, r in decoded).most_common(1)[0][0]
    kept = []
    for f, wave, r in decoded:
        if r != rate:
            reason = f"sample rate {r} Hz differs from the set's {rate} Hz"
            if strict:
                raise DomainError(f"{f}: {reason}; resample the files to one rate")
            skipped.append((str(f), reason))
        else:
            kept.append((f, wave))
    length = max(len(w) for _, w in kept)
    waves = torch.zeros(len(kept), length)
    for i, (_, w) in enumerate(kept):
        waves[i, : len(w)] = torch.from_numpy(w)
    names = [f.relative_to(root).with_suffix("").as_posix() for f, _ in kept]
    labels, class_names = _labels_for(root, [f for f, _ in kept], names)
    return AudioSamples(waves, rate, labels, names, class_names, skipped, from_files=True)


def _labels_for(
    root: Path, files: list[Path], names: list[str]
) -> tuple[torch.Tensor | None, list[str]]:
    manifest = root / "labels.json"
    if manifest.is_file():
        try:
            data = json.loads(manifest.read_text())
            table = data["labels"]
            return torch.tensor([int(table.get(n, -1)) for n in names]), list(data["class_names"])
        except (ValueError, KeyError, TypeError) as exc:
            raise DomainError(f"{manifest}: not a labels manifest ({exc})") from None
    tops = [f.relative_to(root).parts for f in files]
    if all(len(p) > 1 for p in tops):
        classes = sorted({p[0] for p in tops})
        if {c.lower() for c in classes} <= set(DIGITS):  # SC09 folders: digit order
            classes = sorted(classes, key=lambda c: DIGITS.index(c.lower()))
        if len(classes) > 1:
            return torch.tensor([classes.index(p[0]) for p in tops]), classes
    return None, []

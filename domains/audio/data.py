"""Audio data sets: the embedded procedural set, a folder of audio files (labels from
sub-folders), the SC09 / Speech Commands layout and the prepared spoken-digit set.

Everything is decoded once into memory as ``[N, T]`` float32 at one sample rate; clips are
short (≤ a few seconds), so even SC09 (~21k clips of 1 s) takes ~1.3 GB only as float32
and the per-step cost is then a tensor slice. Files that cannot be used are either errors
(``strict=True``) or skipped and listed in ``dataset.skipped`` as ``(path, reason)``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch.utils.data import Dataset

from multigen.domain import DomainError
from multigen.fileio import cache_root, read_each
from multigen.splits import describe_split, seeded_split

from .io import list_audio_files, load_clip
from .procedural import CLASSES, make_embedded
from .samples import DIGITS

SPLITS = ("train", "valid", "test")
_SPLIT_ALIASES = {"val": "valid", "validation": "valid", "testing": "test", "training": "train"}


class WaveDataset(Dataset):
    """In-memory clips; items are ``(x [1, T], label)`` (label -1 when unlabelled)."""

    def __init__(
        self,
        waves: torch.Tensor,
        labels: torch.Tensor | None,
        sample_rate: int,
        class_names: Sequence[str] = (),
        names: Sequence[str] | None = None,
        skipped: list[tuple[str, str]] | None = None,
    ):
        if waves.ndim != 2 or waves.shape[0] == 0:
            raise DomainError(f"no usable audio clips (got a tensor of shape {list(waves.shape)})")
        self.waves = waves.float().contiguous()
        self.labels = labels
        self.sample_rate = int(sample_rate)
        self.class_names = list(class_names)
        self.names = list(names) if names is not None else [f"{i:06d}" for i in range(len(waves))]
        self.skipped = skipped or []

    def __len__(self) -> int:
        return self.waves.shape[0]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        label = -1 if self.labels is None else int(self.labels[i])
        return self.waves[i].unsqueeze(0), label


def canonical_split(split: str) -> str:
    split = _SPLIT_ALIASES.get(split, split)
    if split not in SPLITS and split != "all":
        raise DomainError(f"unknown split {split!r}; choose train, valid, test or all")
    return split


# ---- embedded --------------------------------------------------------------------------
def embedded(
    path: Path | None,
    split: str = "train",
    *,
    n_per_class: int = 64,
    sample_rate: int = 8000,
    length: int = 4096,
    classes: int = len(CLASSES),
    seed: int = 0,
) -> WaveDataset:
    """Procedural clips; splits use disjoint seeds so test clips are never training clips."""
    split = canonical_split(split)
    if not 1 <= classes <= len(CLASSES):
        raise DomainError(f"embedded: classes must be 1..{len(CLASSES)}, got {classes}")
    offset = {"train": 0, "valid": 1, "test": 2, "all": 0}[split]
    n = n_per_class if split in ("train", "all") else max(1, n_per_class // 4)
    waves, labels = make_embedded(n, sample_rate, length, seed * 10 + offset, classes)
    names = [f"{CLASSES[c]}_{i:05d}" for i, c in enumerate(labels)]
    return WaveDataset(
        torch.from_numpy(waves), torch.from_numpy(labels), sample_rate, CLASSES[:classes], names
    )


# ---- folders ---------------------------------------------------------------------------
def _load_files(
    files: Sequence[Path],
    labels: Sequence[int] | None,
    *,
    sample_rate: int,
    length: int | None,
    strict: bool,
    **clip_opts: Any,
) -> tuple[list[torch.Tensor], list[int], list[str], list[tuple[str, str]]]:
    read_ok, skipped = read_each(
        files, lambda f: load_clip(f, sample_rate, length, **clip_opts), strict
    )
    waves = [w for _, w in read_ok]
    kept_labels = [-1 if labels is None else labels[i] for i, _ in read_ok]
    names = [files[i].stem for i, _ in read_ok]
    return waves, kept_labels, names, skipped


def _stack(waves: list[torch.Tensor], root: Path, skipped: list[tuple[str, str]]) -> torch.Tensor:
    if not waves:
        detail = (
            f"; {len(skipped)} skipped, first: {skipped[0][0]}: {skipped[0][1]}" if skipped else ""
        )
        raise DomainError(f"{root}: no usable audio files{detail}")
    lengths = {w.shape[-1] for w in waves}
    if len(lengths) > 1:
        raise DomainError(
            f"{root}: clips have different lengths {sorted(lengths)[:5]}...; set data.params.length"
        )
    return torch.stack(waves)


def folder(
    path: Path | None,
    split: str = "train",
    *,
    sample_rate: int = 16000,
    length: int | None = 16000,
    mixdown: bool = True,
    resample: bool = True,
    crop: str = "start",
    normalisation: str = "none",
    level: float = 0.95,
    strict: bool = False,
    labels: bool = True,
    seed: int = 0,
) -> WaveDataset:
    """A folder of audio files. If it has ``train/valid/test`` sub-folders, ``split`` picks
    one; without them the files are split seeded 80/10/10 (``seed``), as molecule files are.
    Sub-folders below that become class labels (sorted names)."""
    if path is None or not Path(path).is_dir():
        raise DomainError(f"audio folder not found: {path}")
    root = Path(path)
    split = canonical_split(split)
    presplit = any((root / s).is_dir() for s in SPLITS)
    if presplit and split != "all":
        if not (root / split).is_dir():
            raise DomainError(
                f"{root}: has split sub-folders but no {split}/; add it, or remove train/, "
                "valid/ and test/ to have the files split 80/10/10"
            )
        root = root / split
    files = list_audio_files(root)
    if not files:
        raise DomainError(f"{root}: no audio files (.wav .flac .ogg .oga .opus)")
    class_names: list[str] = []
    label_of: list[int] | None = None
    if labels:
        tops = sorted(
            {f.relative_to(root).parts[0] for f in files if len(f.relative_to(root).parts) > 1}
        )
        if tops:
            files = [f for f in files if len(f.relative_to(root).parts) > 1]
            class_names = tops
            label_of = [tops.index(f.relative_to(root).parts[0]) for f in files]
    note = None
    if not presplit and split != "all":  # never score a run on its own training clips
        pick = seeded_split(len(files), split, seed)
        note = f"{root}: no train/valid/test sub-folders; split {split!r} = {len(pick)} files of "
        note += describe_split(len(files), seed)
        files = [files[i] for i in pick]
        label_of = None if label_of is None else [label_of[i] for i in pick]
        if not files:
            raise DomainError(f"{note}: too few files for a {split} split; add files")
    opts = dict(mixdown=mixdown, resample_rate=resample, crop=crop,
                normalisation=normalisation, level=level)  # fmt: skip
    waves, labs, names, skipped = _load_files(
        files, label_of, sample_rate=sample_rate, length=length, strict=strict, **opts
    )
    x = _stack(waves, root, skipped)
    y = torch.tensor(labs) if label_of is not None else None
    ds = WaveDataset(x, y, sample_rate, class_names, names, skipped)
    ds.notes = [note] if note else []
    return ds


def _digit_of(path: Path, root: Path) -> int | None:
    """Digit label from ``<digit>/<name>.wav`` or WaveGAN's ``<Digit>_<id>.wav`` names."""
    rel = path.relative_to(root).parts
    candidates = [p.lower() for p in rel[:-1]] + [path.stem.split("_")[0].lower()]
    for c in candidates:
        if c in DIGITS:
            return DIGITS.index(c)
    return None


def _speech_commands_split(root: Path, rel: str) -> str:
    """Speech Commands' official split: listed in validation_list.txt / testing_list.txt."""
    lists = {}
    for name, split in (("validation_list.txt", "valid"), ("testing_list.txt", "test")):
        f = root / name
        if f.is_file():
            lists.update(
                {line.strip(): split for line in f.read_text().splitlines() if line.strip()}
            )
    return lists.get(rel, "train")


def sc09(
    path: Path | None,
    split: str = "train",
    *,
    strict: bool = False,
    normalisation: str = "none",
    sample_rate: int = 16000,
    length: int = 16000,
    resample: bool = False,
) -> WaveDataset:
    """SC09: the digits of Speech Commands, 16 kHz mono, 1 s (shorter clips zero-padded).

    Accepts WaveGAN's ``sc09/{train,valid,test}/<Digit>_<id>.wav``, the same with
    ``<digit>/`` sub-folders, and the original Speech Commands tree (``zero/...wav`` +
    ``validation_list.txt``/``testing_list.txt``; other words are ignored).
    """
    if path is None or not Path(path).is_dir():
        raise DomainError(f"SC09 folder not found: {path} (data.path must point at it)")
    root = Path(path)
    split = canonical_split(split)
    has_split_dirs = any((root / s).is_dir() for s in SPLITS)
    base = root / split if has_split_dirs and split != "all" else root
    if has_split_dirs and split != "all" and not base.is_dir():
        raise DomainError(f"{root}: no {split!r} sub-folder")
    files, labels = [], []
    for f in list_audio_files(base):
        digit = _digit_of(f, base)
        if digit is None:
            continue
        if not has_split_dirs and split != "all":
            rel = f.relative_to(root).as_posix()
            if _speech_commands_split(root, rel) != split:
                continue
        files.append(f)
        labels.append(digit)
    if not files:
        raise DomainError(f"{base}: no digit clips found (expected <digit>/<name>.wav)")
    opts = dict(mixdown=False, resample_rate=resample, crop="start",
                normalisation=normalisation, level=0.95)  # fmt: skip
    waves, labs, names, skipped = _load_files(
        files, labels, sample_rate=sample_rate, length=length, strict=strict, **opts
    )
    x = _stack(waves, base, skipped)
    return WaveDataset(x, torch.tensor(labs), sample_rate, DIGITS, names, skipped)


def default_data_dir() -> Path:
    """Prepared audio sets live under the suite's one cache root: ``$MULTIGEN_CACHE/data``."""
    return cache_root("data")


def spoken_digits(path: Path | None, split: str = "train", **params: Any) -> WaveDataset:
    """The set written by ``multigen data prepare spoken-digits`` (SC09 layout)."""
    root = Path(path) if path is not None else default_data_dir() / "spoken-digits"
    if not root.is_dir():
        raise DomainError(
            f"spoken-digit set not found at {root}; create it with "
            "`multigen data prepare spoken-digits` (needs espeak-ng: apt-get install espeak-ng)"
        )
    return sc09(root, split, **params)


def notes(path: Path | None, split: str = "train", **params: Any) -> WaveDataset:
    """The set written by ``multigen data prepare notes`` (``<split>/<family>/<note>.wav``)."""
    root = Path(path) if path is not None else default_data_dir() / "notes"
    if not root.is_dir():
        raise DomainError(
            f"notes set not found at {root}; create it with `multigen data prepare notes` "
            "(needs fluidsynth and a GM soundfont: apt-get install fluidsynth fluid-soundfont-gm)"
        )
    params.setdefault("length", 64000)
    return folder(root, split, **params)


def fingerprint(ds: WaveDataset) -> str:
    """Content hash of a data set (classifier cache key)."""
    h = hashlib.sha256()
    h.update(str(ds.sample_rate).encode())
    h.update(ds.waves.numpy().tobytes())
    if ds.labels is not None:
        h.update(ds.labels.numpy().tobytes())
    return h.hexdigest()[:16]

"""Audio file I/O through soundfile (torchaudio's load/save need FFmpeg) plus the clip
conditioning every loader shares: mono mix-down, resampling, crop/pad, normalisation.

Every problem with one file becomes a :class:`~multigen.domain.DomainError` that names the
file and the reason, so loaders can either raise it (strict) or record it and skip.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import torchaudio.functional as AF

from multigen.domain import DomainError

AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".oga", ".opus")


def list_audio_files(root: Path) -> list[Path]:
    """All audio files under ``root`` (recursive, sorted so runs are reproducible)."""
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in AUDIO_EXTENSIONS)


MAX_FRAMES = 1 << 27  # ~47 min at 48 kHz; a longer file is refused, not decoded into memory
_BLOCK = 1 << 20


def read_audio(path: Path) -> tuple[np.ndarray, int]:
    """Read a file as float32 ``[channels, frames]`` and its sample rate; bad files raise.
    Decoded block by block: the frame count a header declares is never trusted (a FLAC
    STREAMINFO can claim 10^10 samples in a few bytes)."""
    blocks, total = [], 0
    try:
        with sf.SoundFile(str(path)) as fh:
            rate = fh.samplerate
            while total <= MAX_FRAMES:
                block = fh.read(_BLOCK, dtype="float32", always_2d=True)
                blocks.append(block)
                total += len(block)
                if len(block) < _BLOCK:
                    break
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise DomainError(
            f"{path}: cannot decode audio ({exc}); supported: WAV, FLAC, OGG/Vorbis, Opus"
        ) from None
    if total > MAX_FRAMES:
        raise DomainError(f"{path}: longer than {MAX_FRAMES} frames; cut it into clips first")
    data = np.concatenate(blocks).T
    if data.shape[1] == 0:
        raise DomainError(f"{path}: zero-length audio (no samples)")
    if not np.isfinite(data).all():
        raise DomainError(f"{path}: contains NaN or Inf samples")
    return np.ascontiguousarray(data), int(rate)


def resample(wave: torch.Tensor, orig: int, new: int) -> torch.Tensor:
    """Band-limited sinc resampling (torchaudio) of ``[..., T]``."""
    if orig == new:
        return wave
    return AF.resample(wave, int(orig), int(new))


def fit_length(wave: torch.Tensor, length: int, crop: str = "start") -> torch.Tensor:
    """Crop (``start`` or ``center``) or zero-pad at the end to exactly ``length`` samples."""
    n = wave.shape[-1]
    if n > length:
        start = (n - length) // 2 if crop == "center" else 0
        return wave[..., start : start + length]
    if n < length:
        return torch.nn.functional.pad(wave, (0, length - n))
    return wave


def normalise(wave: torch.Tensor, mode: str = "peak", level: float = 0.95) -> torch.Tensor:
    """``peak``: max |x| = level; ``rms``: RMS = level; ``none``: unchanged. Silence stays 0."""
    if mode == "none":
        return wave
    if mode == "peak":
        scale = wave.abs().amax(dim=-1, keepdim=True)
    elif mode == "rms":
        scale = wave.pow(2).mean(dim=-1, keepdim=True).sqrt()
    else:
        raise DomainError(f"unknown normalisation {mode!r}; choose peak, rms or none")
    return torch.where(scale > 1e-8, wave * level / scale.clamp_min(1e-8), wave)


def load_clip(
    path: Path,
    sample_rate: int,
    length: int | None,
    *,
    mixdown: bool = True,
    resample_rate: bool = True,
    crop: str = "start",
    normalisation: str = "none",
    level: float = 0.95,
) -> torch.Tensor:
    """One file -> mono float32 ``[T]`` at ``sample_rate`` (fixed length if given).

    With ``mixdown=False`` a multi-channel file is an error; with ``resample_rate=False`` a
    file at another rate is an error (the SC09 layout promises 16 kHz mono).
    """
    data, rate = read_audio(path)
    if data.shape[0] != 1 and not mixdown:
        raise DomainError(f"{path}: has {data.shape[0]} channels, expected mono")
    if rate != sample_rate and not resample_rate:
        raise DomainError(f"{path}: sample rate {rate} Hz, expected {sample_rate} Hz")
    wave = torch.from_numpy(data).mean(dim=0)
    wave = resample(wave, rate, sample_rate)
    if length is not None:
        wave = fit_length(wave, length, crop)
    return normalise(wave, normalisation, level)


def write_wav(path: Path, wave: np.ndarray | torch.Tensor, sample_rate: int) -> Path:
    """Write mono 16-bit PCM WAV (values clipped to [-1, 1])."""
    if isinstance(wave, torch.Tensor):
        wave = wave.detach().float().cpu().numpy()
    wave = np.clip(np.asarray(wave, dtype=np.float32).reshape(-1), -1.0, 1.0)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), wave, int(sample_rate), subtype="PCM_16")
    return path

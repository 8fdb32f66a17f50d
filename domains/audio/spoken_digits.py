"""``multigen data prepare spoken-digits``: an SC09-like set (ten spoken digits, 16 kHz,
1 s) synthesised with Debian's ``espeak-ng`` (and ``flite`` when installed).

A "speaker" is an accent × voice variant (e.g. ``en-gb-scotland+Andrea``); each speaker
says every digit at a few pitches and speeds. Speakers, not clips, are split 80/10/10 into
train/valid/test, so the test set holds unheard voices as SC09's speaker split does.
Clips are trimmed of silence, resampled to 16 kHz, peak-normalised to a random level and
placed at a random offset inside 1 s of silence. Layout: ``<out>/<split>/<digit>/<id>.wav``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import torch

from multigen.domain import DomainError

from .io import read_audio, resample, write_wav
from .samples import DIGITS

ACCENTS = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-gb-x-gbclan",
           "en-gb-x-gbcwmd", "en-029")  # fmt: skip
INSTALL_HINT = (
    "install it with `apt-get install espeak-ng` (Debian/Ubuntu) or `brew install espeak-ng`"
)


def espeak_binary() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise DomainError(
            f"spoken-digits needs the program `espeak-ng`, which was not found; {INSTALL_HINT}"
        )
    return exe


def espeak_variants(exe: str) -> list[str]:
    out = subprocess.run([exe, "--voices=variant"], capture_output=True, text=True, check=True)
    names = []
    for line in out.stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) >= 5:
            names.append(parts[4].split("/")[-1])  # file name, e.g. "!v/Andrea" -> "Andrea"
    return sorted(set(names))


def speakers(exe: str, max_speakers: int, seed: int) -> list[str]:
    """Accent+variant pairs in a seeded random order (so a small set still spans accents)."""
    variants = espeak_variants(exe) or ["m1"]
    pairs = [f"{a}+{v}" for a in ACCENTS for v in variants]
    rng = np.random.default_rng(seed)
    return [pairs[i] for i in rng.permutation(len(pairs))[:max_speakers]]


def split_of(index: int) -> str:
    return "valid" if index % 10 == 8 else "test" if index % 10 == 9 else "train"


def _speak(exe: str, voice: str, word: str, pitch: int, speed: int, tmp: Path) -> Path:
    out = tmp / f"{voice}_{word}_{pitch}_{speed}.wav".replace("+", "_")
    cmd = [exe, "-v", voice, "-p", str(pitch), "-s", str(speed), "-w", str(out), word]
    subprocess.run(cmd, capture_output=True, check=True, timeout=30)
    return out


def _flite_speak(voice: str, word: str, tmp: Path) -> Path:
    out = tmp / f"flite_{voice}_{word}.wav"
    subprocess.run(["flite", "-voice", voice, "-t", word, "-o", str(out)],
                   capture_output=True, check=True, timeout=30)  # fmt: skip
    return out


def condition(raw: Path, rng: np.random.Generator, sample_rate: int, length: int) -> np.ndarray:
    data, rate = read_audio(raw)
    wave = torch.from_numpy(data).mean(0)
    loud = (wave.abs() > 0.02 * wave.abs().max()).nonzero()
    if len(loud):
        wave = wave[int(loud[0]) : int(loud[-1]) + 1]  # trim leading/trailing silence
    wave = resample(wave, rate, sample_rate)[:length]
    wave = wave / wave.abs().max().clamp_min(1e-8) * rng.uniform(0.3, 0.95)
    out = np.zeros(length, dtype=np.float32)
    offset = int(rng.integers(0, length - len(wave) + 1))
    out[offset : offset + len(wave)] = wave.numpy()
    return out


def prepare(
    out_dir: Path | None = None,
    *,
    max_speakers: int = 120,
    pitches: tuple[int, ...] = (35, 65),
    speeds: tuple[int, ...] = (140, 185),
    sample_rate: int = 16000,
    length: int = 16000,
    seed: int = 0,
    workers: int = 4,
) -> Path:
    """Write the set under ``out_dir`` (default: where the ``spoken-digits`` data set looks,
    ``$MULTIGEN_CACHE/data/spoken-digits``, i.e. ``~/.cache/multigen/data/spoken-digits``);
    returns it. Re-running overwrites the files."""
    from .data import default_data_dir

    exe = espeak_binary()
    out_dir = Path(out_dir) if out_dir is not None else default_data_dir() / "spoken-digits"
    voices = speakers(exe, max_speakers, seed)
    jobs = [
        (i, v, d, p, s)
        for i, v in enumerate(voices)
        for d in range(10)
        for p in pitches
        for s in speeds
    ]
    flite_voices = []
    if shutil.which("flite"):
        listed = subprocess.run(["flite", "-lv"], capture_output=True, text=True).stdout
        flite_voices = [v for v in listed.split(":")[-1].split() if v]
    counts = {s: 0 for s in ("train", "valid", "test")}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)

        def run(job: tuple[int, str, int, int, int]) -> tuple[str, Path, Path]:
            i, v, d, p, s = job
            raw = _speak(exe, v, DIGITS[d], p, s, tmp)
            name = f"{v.replace('+', '_')}_p{p}_s{s}"
            return split_of(i), out_dir / split_of(i) / DIGITS[d] / f"{name}.wav", raw

        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(run, jobs))
        for j, fv in enumerate(flite_voices):
            for d in range(10):
                raw = _flite_speak(fv, DIGITS[d], tmp)
                split = split_of(len(voices) + j)
                results.append((split, out_dir / split / DIGITS[d] / f"flite_{fv}.wav", raw))
        rng = np.random.default_rng(seed)
        for split, dest, raw in results:
            write_wav(dest, condition(raw, rng, sample_rate, length), sample_rate)
            raw.unlink()
            counts[split] += 1
    meta = {
        "speakers": len(voices) + len(flite_voices),
        "clips": counts,
        "sample_rate": sample_rate,
        "length": length,
        "pitches": list(pitches),
        "speeds": list(speeds),
        "seed": seed,
    }
    (out_dir / "README.json").write_text(json.dumps(meta, indent=1))
    return out_dir

"""The embedded default data set: short procedural sounds synthesised in numpy.

Eight classes with distinct timbres, so both unconditional and class-conditional models have
something to learn and a classifier can tell them apart: additive "flute" (few harmonics),
"clarinet" (odd harmonics), "brass" (band-limited sawtooth with a brightening envelope),
plucked string (Karplus-Strong), "bell" (inharmonic FM), rising and falling chirps, and a
percussive noise burst through a resonant filter. Pitch, envelope, loudness and onset vary
per clip; everything is deterministic given the seed.
"""

from __future__ import annotations

import numpy as np
from scipy.signal import lfilter

CLASSES = ("flute", "clarinet", "brass", "pluck", "bell", "chirp_up", "chirp_down", "drum")
# Equal-tempered pitches from A3 to A5 (MIDI 57..81).
_MIDI = np.arange(57, 82)


def _hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


def _adsr(n: int, sr: int, rng: np.random.Generator, percussive: bool = False) -> np.ndarray:
    t = np.arange(n) / sr
    if percussive:
        return np.exp(-t / rng.uniform(0.03, 0.12))
    attack = rng.uniform(0.005, 0.04)
    decay = rng.uniform(0.03, 0.1)
    sustain = rng.uniform(0.5, 0.85)
    release_at = rng.uniform(0.6, 0.85) * n / sr
    env = np.where(t < attack, t / attack, sustain + (1 - sustain) * np.exp(-(t - attack) / decay))
    return env * np.where(t > release_at, np.exp(-(t - release_at) / 0.03), 1.0)


def _harmonics(f0: float, sr: int, n: int, amps: dict[int, float], phase: np.ndarray) -> np.ndarray:
    t = np.arange(n) / sr
    out = np.zeros(n)
    for k, a in amps.items():
        if k * f0 < sr / 2 - 200:  # band-limit: no aliasing
            out += a * np.sin(2 * np.pi * k * f0 * t + phase[k % len(phase)])
    return out


def synth_clip(label: int, sr: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """One clip of class ``label`` (index into :data:`CLASSES`), peak ~0.5-0.9."""
    name = CLASSES[label]
    f0 = _hz(rng.choice(_MIDI) + rng.uniform(-0.2, 0.2))
    phase = rng.uniform(0, 2 * np.pi, 16)
    t = np.arange(n) / sr
    if name == "flute":
        vib = 1 + 0.004 * np.sin(2 * np.pi * rng.uniform(4, 6) * t)
        x = _harmonics(f0, sr, n, {1: 1.0, 2: 0.3, 3: 0.1}, phase) * vib
        x += 0.02 * rng.standard_normal(n)  # breath noise
        x *= _adsr(n, sr, rng)
    elif name == "clarinet":
        x = _harmonics(f0, sr, n, {k: 1.0 / k for k in (1, 3, 5, 7, 9)}, phase) * _adsr(n, sr, rng)
    elif name == "brass":
        env = _adsr(n, sr, rng)
        lo = _harmonics(f0, sr, n, {1: 1.0, 2: 0.5}, phase)
        hi = _harmonics(f0, sr, n, {k: 1.0 / k for k in range(3, 12)}, phase)
        x = env * (lo + env * hi)  # brighter when louder, as real brass
    elif name == "pluck":
        period = max(2, int(round(sr / f0)))
        x = np.zeros(n)
        buf = rng.uniform(-1, 1, period)
        for i in range(n):  # Karplus-Strong: averaged, slightly damped delay line
            x[i] = buf[i % period]
            buf[i % period] = 0.996 * 0.5 * (buf[i % period] + buf[(i + 1) % period])
    elif name == "bell":
        ratio = rng.choice([1.4, 2.76, 3.5])
        index = rng.uniform(1.5, 4.0) * np.exp(-t / 0.15)
        x = np.sin(2 * np.pi * f0 * t + index * np.sin(2 * np.pi * ratio * f0 * t))
        x *= _adsr(n, sr, rng, percussive=True) ** 0.5
    elif name in ("chirp_up", "chirp_down"):
        f1 = f0 * rng.uniform(2.0, 3.0)
        lo, hi = (f0, f1) if name == "chirp_up" else (f1, f0)
        inst = lo * (hi / lo) ** (t / t[-1])  # exponential sweep
        x = np.sin(2 * np.pi * np.cumsum(inst) / sr + phase[0]) * _adsr(n, sr, rng)
    else:  # drum: noise burst through a two-pole resonator
        centre = rng.uniform(150, 0.2 * sr)
        r = 0.995
        a = [1, -2 * r * np.cos(2 * np.pi * centre / sr), r * r]
        x = lfilter([1 - r], a, rng.standard_normal(n)) * _adsr(n, sr, rng, percussive=True)
    # random onset delay (up to 10 % of the clip) and loudness
    delay = int(rng.uniform(0, 0.1) * n)
    x = np.concatenate([np.zeros(delay), x[: n - delay]])
    peak = np.abs(x).max()
    if peak > 0:
        x = x / peak * rng.uniform(0.5, 0.9)
    return x.astype(np.float32)


def make_embedded(
    n_per_class: int, sample_rate: int, length: int, seed: int, classes: int = len(CLASSES)
) -> tuple[np.ndarray, np.ndarray]:
    """``(waves [N, length] float32, labels [N] int64)``, classes interleaved."""
    rng = np.random.default_rng(seed)
    labels = np.tile(np.arange(classes), n_per_class)
    waves = np.stack([synth_clip(int(c), sample_rate, length, rng) for c in labels])
    return waves, labels.astype(np.int64)

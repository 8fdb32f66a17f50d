"""Shared helpers for the audio tests: small WAV folders written with soundfile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf


def tone(freq: float, sr: int, n: int, amp: float = 0.5, phase: float = 0.0) -> np.ndarray:
    t = np.arange(n) / sr
    return (amp * np.sin(2 * np.pi * freq * t + phase)).astype(np.float32)


@pytest.fixture
def wav_folder(tmp_path: Path) -> Path:
    """Two classes x 3 clips at 16 kHz, 0.25 s."""
    root = tmp_path / "clips"
    for c, f0 in (("low", 220.0), ("high", 880.0)):
        (root / c).mkdir(parents=True)
        for i in range(3):
            sf.write(root / c / f"{c}{i}.wav", tone(f0 * (1 + 0.01 * i), 16000, 4000), 16000)
    return root

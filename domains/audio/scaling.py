"""Network scale for waveforms: clips divided by the training set's standard deviation.

Recorded audio sits far below unit variance (the embedded set has std 0.24, speech ~0.05-0.1),
while DDPM's VP schedule, flow matching's ``(1 - t)·x0 + t·ε`` and the samplers' starting
noise all assume data of unit scale: at std 0.24 the signal-to-noise ratio of every σ is
12 dB lower than the schedule intends, so most training draws see almost pure noise. The
state the engine noises is therefore ``wave / scale`` (unit std), and ``decode`` multiplies
back. ``scale`` is stored in the run's ``info``; runs recorded before it (no ``scale``) decode
with 1.0, as they were trained.
"""

from __future__ import annotations

import torch

from multigen.domain import DomainError

from .data import WaveDataset


def data_scale(waves: torch.Tensor) -> float:
    """The std of a set of clips (4 significant digits), refusing silence."""
    std = float(waves.double().std()) if waves.numel() > 1 else 0.0
    if not std > 1e-6:
        raise DomainError(
            f"the training clips are silent (std {std:.2g}); nothing to learn — check the "
            "files (or data.params.normalisation) and remove silence-only clips"
        )
    return float(f"{std:.4g}")


class ScaledWaves(WaveDataset):
    """A :class:`WaveDataset` whose items are in network scale; ``waves`` stay as read (in
    [-1, 1]), so references and metrics see the real clips."""

    def __init__(self, base: WaveDataset, scale: float | None = None):
        super().__init__(base.waves, base.labels, base.sample_rate, base.class_names,
                         base.names, base.skipped)  # fmt: skip
        self._scale = scale

    @property
    def scale(self) -> float:
        """Computed on first use, so a reference set is never refused for being silent."""
        if self._scale is None:
            self._scale = data_scale(self.waves)
        return self._scale

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        x, label = super().__getitem__(i)
        return x / self.scale, label


def scale_of(info) -> float:
    """The run's waveform scale (1.0 for runs recorded before network scaling)."""
    return float(info.get("scale", 1.0) or 1.0)

"""Network scale for waveforms: clips divided by the training set's standard deviation.

Recorded audio sits far below unit variance (the embedded set has std 0.24, speech ~0.05-0.1),
while DDPM's VP schedule, flow matching's ``(1 - t)·x0 + t·ε`` and the samplers' starting
noise all assume data of unit scale: at std 0.24 the signal-to-noise ratio of every σ is
12 dB lower than the schedule intends, so most training draws see almost pure noise. The
state the engine noises is therefore ``wave / scale`` (unit std), and ``decode`` multiplies
back. ``scale`` is stored in the run's ``info``; runs recorded before it (no ``scale``) decode
with 1.0, as they were trained.

Whitening (``data.params.whiten: true``, issue 15): audio is strongly coloured — the
embedded test clips hold 58 dB less power at 3.5-4 kHz than at 0.5-1 kHz — while EDM's
preconditioning treats the data as white with one σ_data. At small σ the best denoiser is
then a per-frequency Wiener filter P(f)/(P(f)+σ²): it must remove all the noise in the bands
where the data has no power and keep it elsewhere, which a network can only produce with a
gain near 1/σ on the noise it is given (≈100 at σ = 0.01); in a few thousand steps it does
not learn it. Dividing every frequency by the
training set's average amplitude spectrum (a zero-phase filter over the whole clip, in
``bands`` equal-width bands, floored ``floor_db`` below the loudest band) makes the data white,
so EDM's c_skip *is* that Wiener filter in every band; decoding multiplies the spectrum back,
which also shapes whatever noise the model leaves like the data's spectrum instead of white.
Measured on the embedded set (benchmarks/results/audio_quality_embedded_whiten.md): no gain at
750 steps (fd_mel 55x the floor vs 52x unwhitened, accuracy 0.125 both) — the samples hold
+11 to +38 dB more energy than the test clips in every 500-Hz band, not a small white floor
that shaping could hide. Off by default.
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


def whitening_gains(waves: torch.Tensor, bands: int = 64, floor_db: float = 40.0) -> list[float]:
    """Per-band gains 1/sqrt(P) of the clips' average power spectrum P (``bands`` equal-width
    bands from 0 Hz to Nyquist, P floored ``floor_db`` below its largest band so a silent
    band is not boosted without bound), normalised so the largest gain is 1."""
    if not (isinstance(bands, int) and bands >= 2) or not floor_db > 0:
        raise DomainError(f"whitening needs bands >= 2 and floor_db > 0, got {bands}, {floor_db}")
    power = torch.fft.rfft(waves.double(), dim=-1).abs().pow(2).mean(0)
    edges = torch.linspace(0, len(power), bands + 1).round().long()
    p = torch.stack([power[a:b].mean() if b > a else power[min(a, len(power) - 1)]
                     for a, b in zip(edges[:-1], edges[1:], strict=True)])  # fmt: skip
    if not float(p.max()) > 0:
        raise DomainError("the training clips are silent; nothing to whiten")
    p = p.clamp(min=float(p.max()) * 10 ** (-floor_db / 10))
    g = p.rsqrt() / float(p.rsqrt().max())
    return [float(f"{v:.5g}") for v in g]


def _bin_gains(gains: list[float], length: int) -> torch.Tensor:
    """The band gains at every rfft bin of a ``length``-sample clip (linear in frequency
    between band centres, so the filter has no steps)."""
    g = torch.tensor(gains, dtype=torch.float64)
    centres = (torch.arange(len(g), dtype=torch.float64) + 0.5) / len(g)
    f = torch.arange(length // 2 + 1, dtype=torch.float64) / (length / 2)
    idx = torch.searchsorted(centres, f.clamp(float(centres[0]), float(centres[-1])))
    idx = idx.clamp(1, len(g) - 1)
    lo, hi = centres[idx - 1], centres[idx]
    w = ((f.clamp(float(centres[0]), float(centres[-1])) - lo) / (hi - lo)).clamp(0, 1)
    return g[idx - 1] * (1 - w) + g[idx] * w


def apply_gains(x: torch.Tensor, gains: list[float] | None, inverse: bool = False) -> torch.Tensor:
    """Filter clips ``[..., T]`` by the band gains (or their inverse): zero-phase, over the
    whole clip (circular), so ``apply_gains(apply_gains(x, g), g, True) == x``."""
    if not gains:
        return x
    t = x.shape[-1]
    g = _bin_gains(gains, t)
    spec = torch.fft.rfft(x.double(), dim=-1)
    out = torch.fft.irfft(spec / g if inverse else spec * g, n=t, dim=-1)
    return out.to(x.dtype)


class ScaledWaves(WaveDataset):
    """A :class:`WaveDataset` whose items are in network scale (whitened first when
    ``whiten``); ``waves`` stay as read (in [-1, 1]), so references and metrics see the
    real clips."""

    def __init__(self, base: WaveDataset, scale: float | None = None, whiten: bool = False):
        super().__init__(base.waves, base.labels, base.sample_rate, base.class_names,
                         base.names, base.skipped)  # fmt: skip
        self._scale = scale
        self.gains = whitening_gains(self.waves) if whiten else None
        self._white = apply_gains(self.waves, self.gains) if whiten else self.waves

    @property
    def scale(self) -> float:
        """Computed on first use, so a reference set is never refused for being silent."""
        if self._scale is None:
            self._scale = data_scale(self._white)
        return self._scale

    @property
    def white(self) -> torch.Tensor:
        """The clips whitened (as read when not whitening), before the scale."""
        return self._white

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        label = -1 if self.labels is None else int(self.labels[i])
        return self._white[i].unsqueeze(0) / self.scale, label


def scale_of(info) -> float:
    """The run's waveform scale (1.0 for runs recorded before network scaling)."""
    return float(info.get("scale", 1.0) or 1.0)


def from_network(x: torch.Tensor, info) -> torch.Tensor:
    """Network-scale states ``[..., T]`` -> clips: times the scale, then un-whitened when the
    run was trained whitened (``info['whiten']``, the band gains)."""
    return apply_gains(x * scale_of(info), info.get("whiten"), inverse=True)


def to_network(waves: torch.Tensor, info) -> torch.Tensor:
    """The inverse of :func:`from_network`: clips as read -> the run's network scale."""
    return apply_gains(waves, info.get("whiten")) / scale_of(info)

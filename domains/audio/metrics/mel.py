"""``fd_mel``: Fréchet distance between Gaussians fitted to log-mel frames of two sets.

No network is involved: every STFT frame of every clip is a point in log-mel space
(64 bands, ~64 ms windows, hop 1/4), and the two point clouds' means and covariances are
compared. It is sensitive to timbre and loudness statistics, not to temporal structure
(use the classifier metrics for that).
"""

from __future__ import annotations

import torch

from multigen.metrics.frechet import frechet_distance_features

from ..samples import log_mel


def mel_frames(waves: torch.Tensor, sample_rate: int, n_mels: int = 64) -> torch.Tensor:
    spec = log_mel(waves, sample_rate, n_mels)  # [N, M, frames]
    return spec.transpose(1, 2).reshape(-1, n_mels).double()


def fd_mel(x: torch.Tensor, y: torch.Tensor, sample_rate: int, n_mels: int = 64) -> float:
    return frechet_distance_features(
        mel_frames(x, sample_rate, n_mels).numpy(), mel_frames(y, sample_rate, n_mels).numpy()
    )

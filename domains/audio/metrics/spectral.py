"""Paired spectral distances between two equally long clips (or batches of clips).

``mr_stft``: auraloss's ``MultiResolutionSTFTLoss`` with its defaults — FFT sizes
1024/2048/512, hops 120/240/50, Hann windows 600/1200/240 (zero-padded to the FFT size,
centred frames with reflect padding, as ``torch.stft``), magnitudes sqrt(max(|X|², 1e-8));
per resolution spectral convergence ||Y| - |X||_F / ||Y||_F plus mean |ln|Y| - ln|X||; the
mean over resolutions. Like auraloss, norms and means run over the whole batch.

``lsd``: log-spectral distance as in the audio super-resolution literature (Kuleshov et al.
2017, NU-Wave, AudioSR): per frame sqrt(mean_f (log10 P_x - log10 P_y)²) of the power
spectrum (FFT 2048, hop 512, Hann), averaged over frames and clips; power floored at 1e-10.
"""

from __future__ import annotations

import torch
from torch import Tensor

from multigen.domain import DomainError

MRSTFT_DEFAULTS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))
MIN_SPECTRAL_LENGTH = 1024  # reflect padding of the 2048-point frames needs more samples


def _pair(x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    x, y = torch.as_tensor(x).double(), torch.as_tensor(y).double()
    if x.shape != y.shape:
        raise DomainError(
            f"paired spectral metric: shapes differ {list(x.shape)} vs {list(y.shape)}"
        )
    if x.shape[-1] <= MIN_SPECTRAL_LENGTH:
        raise DomainError(f"clips of {x.shape[-1]} samples are too short for 2048-point STFTs")
    return x.reshape(-1, x.shape[-1]), y.reshape(-1, y.shape[-1])


def stft_mag(x: Tensor, n_fft: int, hop: int, win: int, eps: float = 1e-8) -> Tensor:
    window = torch.hann_window(win, dtype=x.dtype, device=x.device)
    spec = torch.stft(x, n_fft, hop, win, window, center=True, pad_mode="reflect",
                      return_complex=True)  # fmt: skip
    return torch.sqrt(torch.clamp(spec.real**2 + spec.imag**2, min=eps))


def mr_stft(
    x: Tensor, y: Tensor, resolutions: tuple[tuple[int, int, int], ...] = MRSTFT_DEFAULTS
) -> float:
    """Multi-resolution STFT distance of prediction ``x`` to target ``y`` (0 = identical)."""
    x, y = _pair(x, y)
    total = 0.0
    for n_fft, hop, win in resolutions:
        xm, ym = stft_mag(x, n_fft, hop, win), stft_mag(y, n_fft, hop, win)
        sc = torch.linalg.norm(ym - xm) / torch.linalg.norm(ym)
        log_mag = (torch.log(ym) - torch.log(xm)).abs().mean()
        total += float(sc + log_mag)
    return total / len(resolutions)


def lsd(x: Tensor, y: Tensor, n_fft: int = 2048, hop: int = 512, floor: float = 1e-10) -> float:
    """Log-spectral distance (log10 power units; multiply by 10 for dB)."""
    x, y = _pair(x, y)
    window = torch.hann_window(n_fft, dtype=x.dtype)

    def power(s: Tensor) -> Tensor:
        spec = torch.stft(s, n_fft, hop, n_fft, window, center=True, return_complex=True)
        return torch.log10(torch.clamp(spec.abs() ** 2, min=floor))

    diff = power(x) - power(y)  # [N, F, frames]
    return float(diff.pow(2).mean(dim=1).sqrt().mean())

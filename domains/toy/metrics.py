"""Toy-domain metrics.

Distribution distances (energy distance, sliced Wasserstein) come from
:mod:`multigen.metrics.distributions`. For Gaussian-mixture datasets we also score samples
against the *exact* density, as the mode-collapse literature does (Metz et al. 2017;
Srivastava et al. 2017; Lin et al. 2018):

- ``loglik``: mean log p(x) of the samples under the true mixture (nats, data units). Its
  ceiling is the data's own value ``loglik_reference`` (= minus the differential entropy);
  one sample far from every mode drags it down a lot, which is the point.
- ``hq_fraction``: fraction of samples within ``sigmas`` (3) standard deviations of their
  nearest mode ("high-quality" samples).
- ``modes_covered``: a mode counts as covered when at least ``max(1, ceil(mode_min_fraction·N))``
  high-quality samples fall on it (default 1 % of the samples), so a handful of strays do not
  count as a captured mode.
- ``mode_kl``: KL(q‖w) between the histogram q of high-quality samples over modes and the
  true weights w (0 = perfectly balanced); empty modes add nothing to this direction of KL,
  ``modes_covered`` catches them. With no high-quality sample at all it takes its largest
  possible value, log(1/min w) (all mass on the rarest mode), so it is always finite.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import logsumexp

from multigen.metrics.distributions import energy_distance, sliced_wasserstein

from .data import Mixture


def mixture_log_density(points: np.ndarray, mixture: Mixture) -> np.ndarray:
    """log p(x) for each row of ``points`` [N, 2] under an isotropic Gaussian mixture."""
    x = np.asarray(points, dtype=np.float64)
    d2 = ((x[:, None, :] - mixture.means[None]) ** 2).sum(-1)  # [N, K]
    var = mixture.std**2
    log_comp = -0.5 * d2 / var - math.log(2 * math.pi * var)  # 2-D normal, isotropic
    return logsumexp(log_comp + np.log(mixture.weights)[None], axis=1)


def nearest_mode(points: np.ndarray, mixture: Mixture) -> tuple[np.ndarray, np.ndarray]:
    """Index of the nearest mode and the distance to it, per sample."""
    d2 = ((np.asarray(points, np.float64)[:, None, :] - mixture.means[None]) ** 2).sum(-1)
    idx = d2.argmin(axis=1)
    return idx, np.sqrt(d2[np.arange(len(idx)), idx])


def mode_metrics(
    points: np.ndarray, mixture: Mixture, sigmas: float = 3.0, mode_min_fraction: float = 0.01
) -> dict[str, float]:
    """High-quality fraction, modes covered and mode balance (see the module docstring)."""
    n, k = len(points), len(mixture.means)
    idx, dist = nearest_mode(points, mixture)
    hq = dist <= sigmas * mixture.std
    counts = np.bincount(idx[hq], minlength=k)
    threshold = max(1, math.ceil(mode_min_fraction * n))
    out = {
        "hq_fraction": float(hq.mean()),
        "modes_covered": float((counts >= threshold).sum()),
        "modes_total": float(k),
    }
    if counts.sum() > 0:
        q = counts / counts.sum()
        nz = q > 0
        out["mode_kl"] = float((q[nz] * np.log(q[nz] / mixture.weights[nz])).sum())
    else:  # no high-quality sample at all: the worst balance, a point mass on the rarest mode
        out["mode_kl"] = float(-np.log(mixture.weights.min()))
    return out


def evaluate_points(
    samples: np.ndarray,
    reference: np.ndarray,
    mixture: Mixture | None = None,
    *,
    n_projections: int = 256,
    seed: int = 0,
    sigmas: float = 3.0,
    mode_min_fraction: float = 0.01,
) -> dict[str, float]:
    """All toy metrics for samples [N, 2] against reference points [M, 2] (data units).

    Non-finite sample rows (a diverged sampler) are counted in ``nonfinite_fraction`` and
    left out of the distances; they count as misses for ``hq_fraction``.
    """
    samples = np.asarray(samples, dtype=np.float64)
    finite = np.isfinite(samples).all(axis=1)
    good = samples[finite]
    out: dict[str, float] = {
        "n_samples": float(len(samples)),
        "nonfinite_fraction": float(1.0 - finite.mean()) if len(samples) else 1.0,
    }
    if len(good) == 0:
        out.update(energy_distance=float("nan"), swd=float("nan"))
        return out
    out["energy_distance"] = energy_distance(good, reference)
    out["swd"] = sliced_wasserstein(good, reference, n_projections=n_projections, seed=seed)
    if mixture is not None:
        out["loglik"] = float(mixture_log_density(good, mixture).mean())
        out["loglik_reference"] = float(mixture_log_density(reference, mixture).mean())
        modes = mode_metrics(good, mixture, sigmas, mode_min_fraction)
        modes["hq_fraction"] *= float(finite.mean())  # diverged samples are not high quality
        out.update(modes)
    return out


OPTIONS = {
    "n_projections": "sliced Wasserstein projections (default 256)",
    "seed": "seed of the projections (default 0)",
    "sigmas": "mode radius in mixture standard deviations (default 3)",
    "mode_min_fraction": "share of samples a mode needs to count as covered (default 0.01)",
}

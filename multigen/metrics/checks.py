"""What every domain's scores must satisfy, stated once.

- Every metric is a finite number. A NaN or infinite metric is refused (``DomainError``
  naming the metrics) by ``multigen evaluate`` and by the end-of-run scoring alike, so it is
  never written to JSON nor chosen as ``best``.
- A Fréchet distance fits a Gaussian with a D×D covariance to each feature set; with N ≤ D
  rows the covariance is singular and the value mostly measures N: it warns below
  ``N > D``.
- Any distribution metric from fewer than ``MIN_SAMPLES`` samples varies between draws by
  as much as the differences it is used to find: ``evaluate`` warns below it.
- Each domain states the minimum meaningful N of its metrics (``Domain.min_samples``,
  glob patterns -> N; ``MIN_SAMPLES`` for any metric it does not name): ``evaluate`` and
  the end-of-run scoring warn, naming the metrics, when the samples or the reference are
  fewer (:func:`minimum_notes`).
"""

from __future__ import annotations

import fnmatch
import math
import warnings
from collections.abc import Mapping

MIN_SAMPLES = 100
COUNTS = {"n_samples", "n_reference", "n_generated", "modes_total", "skipped_files"}
# numbers a domain returns beside its metrics: never a quality column or a default headline
BOOKKEEPING = COUNTS | {"nonfinite_fraction"}


class SmallSampleWarning(UserWarning):
    """A metric was computed from too few samples to mean much."""


def require_finite_scores(scores: Mapping[str, float], source: str = "") -> dict[str, float]:
    """``scores`` as a dict, or a ``DomainError`` naming the non-finite metrics."""
    from multigen.domain import DomainError

    bad = [k for k, v in scores.items() if not math.isfinite(float(v))]
    if bad:
        where = f"{source}: " if source else ""
        shown = ", ".join(f"{k}={float(scores[k]):g}" for k in bad[:6])
        more = f" and {len(bad) - 6} more" if len(bad) > 6 else ""
        raise DomainError(
            f"{where}metrics are not finite ({shown}{more}); the samples are probably NaN or "
            "infinite (a diverged model or sampler) or too few to score"
        )
    return dict(scores)


def frechet_note(n1: int, n2: int, dim: int) -> str | None:
    n = min(n1, n2)
    if n > dim:
        return None
    return (
        f"Fréchet distance from {n} samples of {dim}-dimensional features: the covariance is "
        f"singular (N ≤ {dim}), so the value mostly reflects N; use more than {dim} samples "
        "(several times more to compare runs)"
    )


def minimum_n(key: str, minimums: Mapping[str, int]) -> int:
    """The stated minimum meaningful N of metric ``key`` (the first matching pattern)."""
    for pattern, n in minimums.items():
        if fnmatch.fnmatchcase(key, pattern):
            return int(n)
    return MIN_SAMPLES


def minimum_notes(scores: Mapping[str, float], minimums: Mapping[str, int]) -> list[str]:
    """One note per set (samples, reference) naming the metrics computed from fewer items
    than their stated minimum."""
    notes = []
    for key, what in (("n_samples", "samples"), ("n_reference", "reference items")):
        n = scores.get(key)
        if n is None:
            continue
        low: dict[int, list[str]] = {}
        for metric in scores:
            need = minimum_n(metric, minimums)
            if metric not in COUNTS and n < need:
                low.setdefault(need, []).append(metric)
        if low:
            parts = "; ".join(f"{', '.join(ms)} need {need}" for need, ms in sorted(low.items()))
            notes.append(
                f"scores from {int(n)} {what}, fewer than these metrics need to mean much "
                f"({parts}); below that they vary between draws as much as between models"
            )
    return notes


def warn(note: str | None) -> None:
    if note:
        warnings.warn(note, SmallSampleWarning, stacklevel=3)

"""What every domain's scores must satisfy, stated once.

- Every metric is a finite number. A NaN or infinite metric is refused (``DomainError``
  naming the metrics) by ``multigen evaluate`` and by the end-of-run scoring alike, so it is
  never written to JSON nor chosen as ``best``.
- A Fréchet distance fits a Gaussian with a D×D covariance to each feature set; with N ≤ D
  rows the covariance is singular and the value mostly measures N: it warns below
  ``N > D``.
- Any distribution metric from fewer than ``MIN_SAMPLES`` samples varies between draws by
  as much as the differences it is used to find: ``evaluate`` warns below it.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping

MIN_SAMPLES = 100


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


def sample_size_notes(scores: Mapping[str, float]) -> list[str]:
    notes = []
    for key, what in (("n_samples", "samples"), ("n_reference", "reference items")):
        n = scores.get(key)
        if n is not None and n < MIN_SAMPLES:
            notes.append(
                f"scores from {int(n)} {what}: below {MIN_SAMPLES} distribution metrics vary "
                "between draws as much as between models; use more before comparing"
            )
    return notes


def warn(note: str | None) -> None:
    if note:
        warnings.warn(note, SmallSampleWarning, stacklevel=3)

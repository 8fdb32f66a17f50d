"""Scores a zoo card records: the model's metrics, the data floor at the same size, and a
small-N check block (several seed blocks, so the card can state how much its check value
moves with the seed — the tolerance the card test uses)."""

from __future__ import annotations

import statistics
import warnings
from typing import Any

import torch

from multigen.train.reference import reference_samples

# Tolerance of the card check = three seed-block standard deviations at the check's N, never
# tighter than 2 % of the value. The same seed gives the same samples, but the scores also
# depend on feature networks trained once per cache (the digit CNN): two caches on one
# machine moved the GAN's precision/recall at n=128 by 1.9 of those deviations.
CHECK_SPREAD = 3.0
CHECK_MIN_REL = 0.02


def score(run, n: int, seed: int = 0) -> dict[str, float]:
    """``n`` samples (seeds ``seed…seed+n-1``) scored like the run's end-of-training eval."""
    from multigen.api import evaluate_run
    from multigen.metrics.checks import SmallSampleWarning

    with warnings.catch_warnings():  # small checks are small on purpose; the card says so
        warnings.simplefilter("ignore", SmallSampleWarning)
        return {k: float(v) for k, v in evaluate_run(run, n=n, seed=seed).items()}


def data_floor(run, n: int) -> tuple[dict[str, float], str]:
    """Real data of the other split scored against the run's reference at size ``n``: the
    floor (the reference's own split is ``test`` unless ``eval.reference`` names one)."""
    from multigen.api import evaluate
    from multigen.metrics.checks import SmallSampleWarning

    cfg, domain = run.config, run.domain
    d = cfg.data
    ref_split = (cfg.eval.reference or "x:test").partition(":")[2] or "test"
    split = "train" if ref_split == "test" else "test"
    ds = domain.load_dataset(d.name, d.path, split, **d.params)
    count = min(n, len(ds))  # spread the picks: data sets are often ordered by class
    picks = torch.linspace(0, len(ds) - 1, count).round().long().unique().tolist()
    samples = domain.decode(domain.collate([ds[i] for i in picks]), run.info)
    reference = reference_samples(domain, cfg, run.info, n)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        scores = evaluate(domain, samples, reference, **cfg.eval.options)
    return {k: float(v) for k, v in scores.items()}, f"the {split} split"


def check_block(run, n: int, blocks: int = 4, first: dict | None = None) -> dict[str, Any]:
    """Scores of ``blocks`` disjoint seed blocks of ``n``; the first (``first`` when it was
    scored already: seed 0 at this ``n``) is the card's check value."""
    runs = [first or score(run, n)] + [score(run, n, seed=b * n) for b in range(1, blocks)]
    spread = {k: statistics.pstdev([r[k] for r in runs]) for k in runs[0]}
    tol = tolerances(runs[0], spread)
    return {
        "n": n,
        "seed": 0,
        "blocks": blocks,
        "metrics": runs[0],
        "spread": spread,
        "tolerance": tol,
        "min_rel": CHECK_MIN_REL,
        "spread_factor": CHECK_SPREAD,
    }


def tolerances(values: dict[str, float], spread: dict[str, float]) -> dict[str, float]:
    return {
        k: max(CHECK_SPREAD * spread[k], CHECK_MIN_REL * abs(v), 1e-6) for k, v in values.items()
    }


def check_card(run, card: dict[str, Any]) -> list[str]:
    """Differences between a card's check values and what the weights score now (empty: ok)."""
    chk = card["check"]
    now = score(run, chk["n"], seed=chk["seed"])
    tol = chk["tolerance"]
    return [
        f"{k}: card {v:.6g}, now {now.get(k, float('nan')):.6g} (tolerance {tol[k]:.3g})"
        for k, v in chk["metrics"].items()
        if not abs(now.get(k, float("inf")) - v) <= tol[k]
    ]

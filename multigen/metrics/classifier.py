"""Classifier-based metrics (IS, mIS, AM score, NDB) and a cached, reproducible classifier.

The probability-based scores take softmax outputs [N, C] of some classifier; which
classifier is the domain's choice (e.g. a small CNN trained by ``fit_classifier``).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy.special import rel_entr
from scipy.stats import norm
from torch import nn

from multigen import fileio

from ._util import features_2d, to_numpy

_EPS = 1e-12  # floor for log-probabilities that enter as the second argument of a KL


def _probs(p: Any, name: str) -> np.ndarray:
    arr = to_numpy(p, name, ndim=2)
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: no samples")
    if np.any(arr < 0) or not np.allclose(arr.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError(f"{name}: rows must be probability vectors (softmax outputs)")
    return arr / arr.sum(axis=1, keepdims=True)


def inception_score(probs: Any, splits: int = 1) -> float:
    """Inception Score exp(E_x KL(p(y|x) || p(y))) of class probabilities [N, C].

    p(y) is the mean prediction within each of ``splits`` contiguous chunks (Salimans et
    al. 2016 use 10); the mean of the per-split scores is returned. Ranges from 1 to C.
    """
    p = _probs(probs, "probs")
    if not 1 <= splits <= len(p):
        raise ValueError(f"splits must be in [1, {len(p)}], got {splits}")
    scores = []
    for part in np.array_split(p, splits):
        py = part.mean(axis=0, keepdims=True)
        scores.append(np.exp(rel_entr(part, py).sum(axis=1).mean()))
    return float(np.mean(scores))


def modified_inception_score(probs: Any, chunk: int = 2048) -> float:
    """Modified Inception Score exp(E_{x,x'} KL(p(y|x) || p(y|x'))) (Gurumurthy et al. 2017).

    The expectation runs over all ordered pairs of distinct samples (i != j). It rewards
    confident predictions that also differ between samples (within-class diversity when
    computed per class). log p(y|x') is floored at 1e-12, so disagreeing one-hot
    predictions give a large finite KL instead of infinity.
    """
    p = _probs(probs, "probs")
    n = len(p)
    if n < 2:
        raise ValueError("modified_inception_score needs at least 2 samples")
    # Σ_c p log p with 0 log 0 = 0
    neg_entropy = np.where(p > 0, p * np.log(np.maximum(p, _EPS)), 0.0).sum(axis=1)
    logp = np.log(np.maximum(p, _EPS))
    total = 0.0
    for s in range(0, n, chunk):
        # KL_ij = Σ_c p_ic log p_ic - Σ_c p_ic log p_jc; the diagonal is exactly 0 in theory.
        kl = neg_entropy[s : s + chunk, None] - p[s : s + chunk] @ logp.T
        idx = np.arange(s, min(s + chunk, n))
        kl[idx - s, idx] = 0.0
        total += float(kl.sum())
    return float(np.exp(total / (n * (n - 1))))


def am_score(probs_gen: Any, probs_ref: Any) -> float:
    """AM score (Zhou et al. 2018, as used for SC09 in DiffWave): lower is better.

    AM = KL(p_ref(y) || p_gen(y)) + E_x H(p(y|x)), where p_gen(y) is the mean prediction
    over generated samples, H is the entropy of each generated prediction (natural log),
    and p_ref(y) is the reference class distribution: pass either reference predictions
    [N_ref, C] (averaged) or a class distribution / label counts [C] directly.
    """
    pg = _probs(probs_gen, "probs_gen")
    ref = to_numpy(probs_ref, "probs_ref")
    if ref.ndim == 2:
        ref = _probs(ref, "probs_ref").mean(axis=0)
    elif ref.ndim != 1 or np.any(ref < 0) or ref.sum() <= 0:
        raise ValueError("probs_ref: expected [N, C] probabilities or a [C] class distribution")
    ref = ref / ref.sum()
    if ref.shape[0] != pg.shape[1]:
        raise ValueError(f"class counts differ: probs_ref {ref.shape[0]} vs {pg.shape[1]}")
    p_gen = np.maximum(pg.mean(axis=0), _EPS)
    kl = float(rel_entr(ref, p_gen).sum())
    entropy = float(-np.where(pg > 0, pg * np.log(np.maximum(pg, _EPS)), 0.0).sum(1).mean())
    return kl + entropy


def ndb(
    train_feats: Any, gen_feats: Any, k: int = 50, alpha: float = 0.05, seed: int = 0
) -> dict[str, float]:
    """Number of statistically Different Bins (Richardson & Weiss 2018).

    Clusters the training features into ``k`` bins with k-means (sklearn, ``seed``),
    assigns generated features to the nearest centroid, and runs a two-sided
    two-proportion z-test per bin (pooled standard error). A bin whose p-value is below
    ``alpha`` counts as different. ``k`` is clipped to the number of training rows.
    Returns {'ndb': count, 'ndb_k': count / k}; 0 is ideal.
    """
    from sklearn.cluster import KMeans

    tr, ge = features_2d(train_feats, "train_feats"), features_2d(gen_feats, "gen_feats")
    if tr.shape[1] != ge.shape[1]:
        raise ValueError(f"feature dims differ: {tr.shape[1]} vs {ge.shape[1]}")
    k = min(k, len(tr))
    km = KMeans(n_clusters=k, n_init=1, random_state=seed).fit(tr)
    n_t, n_g = len(tr), len(ge)
    c_t = np.bincount(km.labels_, minlength=k)
    c_g = np.bincount(km.predict(ge), minlength=k)
    p_t, p_g = c_t / n_t, c_g / n_g
    pooled = (c_t + c_g) / (n_t + n_g)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n_t + 1 / n_g))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (p_t - p_g) / se, 0.0)
    p_values = 2.0 * norm.sf(np.abs(z))
    count = int((p_values < alpha).sum())
    return {"ndb": float(count), "ndb_k": count / k}


def accuracy(logits: Any, labels: Any) -> float:
    """Fraction of rows whose argmax equals the integer label."""
    lg = torch.as_tensor(logits)
    lb = torch.as_tensor(labels).reshape(-1).to(lg.device)
    if lg.ndim != 2 or lg.shape[0] != lb.shape[0]:
        raise ValueError(f"logits [N, C] and labels [N] expected, got {lg.shape} and {lb.shape}")
    return float((lg.argmax(dim=1) == lb).double().mean())


def data_fingerprint(*tensors: Any) -> str:
    """Short sha256 (16 hex chars) over dtype, shape and bytes of the given arrays.

    Use it to build ``fit_classifier`` cache keys, so a change in the training data
    gives a new key instead of silently reusing stale weights.
    """
    h = hashlib.sha256()
    for t in tensors:
        a = t.detach().cpu().contiguous().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)
        a = np.ascontiguousarray(a)
        h.update(f"{a.dtype.str}|{a.shape}|".encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """``cache_dir`` if given, else the suite's cache root ($MULTIGEN_CACHE)."""
    return Path(cache_dir) if cache_dir is not None else fileio.cache_root()


def _signature(model: nn.Module, **hparams: Any) -> str:
    # Architecture (parameter names/shapes) and training settings; stored in the file's
    # metadata so a stale cache entry under the same key is retrained, not misloaded.
    shapes = {k: list(v.shape) for k, v in model.state_dict().items()}
    return json.dumps({"shapes": shapes, **hparams}, sort_keys=True)


def fit_classifier(
    build_model: Callable[[], nn.Module],
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    key: str,
    steps: int,
    batch_size: int = 128,
    lr: float = 1e-3,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    device: str | torch.device = "cpu",
    shipped: str | os.PathLike | None = None,
) -> nn.Module:
    """Train ``build_model()`` on (x, y) with cross-entropy, or reload it from the cache.

    ``shipped``: a folder of weights that ship with the package (``<key>.safetensors``); with
    the same signature they are used as they are (other settings train as usual), so a
    metric's feature network is the same on every machine (training it again gives other
    weights on another CPU, or with other threads, and moves small-N precision/recall beyond
    their seed spread).

    Reproducible: the model is built and trained under ``seed`` (global torch RNG forked,
    so the caller's RNG state is untouched) with a seeded shuffling order; Adam, ``steps``
    minibatches of ``batch_size``. Weights are cached as safetensors in
    ``<cache>/classifiers/<key>.safetensors`` (see ``cache_root``), written atomically.
    A cached file is reused only if its architecture and training settings match.
    Build ``key`` from ``data_fingerprint(x, y)`` plus a model name. Returns the model in
    eval mode on ``device``.
    """
    from safetensors import safe_open
    from safetensors.torch import load_model, save_model

    if not re.fullmatch(r"[A-Za-z0-9._-]+", key):
        raise ValueError(f"fit_classifier: key must match [A-Za-z0-9._-]+, got {key!r}")
    if steps < 1 or batch_size < 1:
        raise ValueError("fit_classifier: steps and batch_size must be >= 1")
    x = torch.as_tensor(x)
    y = torch.as_tensor(y).long().reshape(-1)
    if len(x) != len(y) or len(x) == 0:
        raise ValueError(f"fit_classifier: x and y lengths differ or are empty: {len(x)}, {len(y)}")

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = build_model()
    sig = _signature(model, steps=steps, batch_size=batch_size, lr=lr, seed=seed)
    path = cache_root(cache_dir) / "classifiers" / f"{key}.safetensors"
    packaged = None if shipped is None else Path(shipped) / f"{key}.safetensors"
    if packaged is not None and packaged.is_file():
        with safe_open(str(packaged), framework="pt") as fh:
            if (fh.metadata() or {}).get("signature") == sig:  # else: other settings, train
                path = packaged

    if path.is_file():
        with safe_open(str(path), framework="pt") as fh:
            cached_sig = (fh.metadata() or {}).get("signature")
        if cached_sig == sig:
            load_model(model, str(path))
            return model.to(device).eval()

    model.to(device).train()
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    order = torch.Generator().manual_seed(seed)
    perm, pos = torch.randperm(len(x), generator=order), 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # dropout etc. draw from the global RNG
        for _ in range(steps):
            if pos + batch_size > len(x) and pos > 0:  # new epoch, new deterministic order
                perm, pos = torch.randperm(len(x), generator=order), 0
            idx = perm[pos : pos + batch_size]
            pos += batch_size
            xb, yb = x[idx].to(device), y[idx].to(device)
            loss = nn.functional.cross_entropy(model(xb), yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    model.eval()

    meta = {"signature": sig, "final_loss": f"{loss.item():.6g}"}
    fileio.atomic_save(path, lambda tmp: save_model(model, tmp, metadata=meta))
    return model


@torch.no_grad()
def predict_proba(
    model: nn.Module, x: torch.Tensor, batch_size: int = 512, device: str | torch.device = "cpu"
) -> np.ndarray:
    """Softmax class probabilities [N, C] (float64 numpy) of ``model`` over x, in batches."""
    model.eval()
    out = []
    for s in range(0, len(x), batch_size):
        logits = model(torch.as_tensor(x[s : s + batch_size]).to(device))
        out.append(torch.softmax(logits.double(), dim=1).cpu())
    return torch.cat(out).numpy()

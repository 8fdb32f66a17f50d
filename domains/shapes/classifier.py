"""PointNet classifier whose penultimate features define FPD (Fréchet Point-cloud Distance).

Papers use a PointNet trained on ShapeNet; we cannot download it, so the project trains
one reproducibly (``multigen.metrics.classifier.fit_classifier``: fixed seed, cached
weights) on the embedded procedural shapes. FPD values are therefore comparable between
our runs, not with published FPD numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from multigen.metrics.classifier import data_fingerprint, fit_classifier
from multigen.metrics.frechet import frechet_distance_features

from . import data, normalize

CLASSIFIER_POINTS = 512


class PointNetClassifier(nn.Module):
    """Shared per-point MLP (with batch-free LayerNorm), max-pool, MLP head."""

    def __init__(self, num_classes: int, widths: tuple[int, ...] = (64, 128, 256), feat: int = 128):
        super().__init__()
        layers, prev = [], 3
        for w in widths:
            layers += [nn.Linear(prev, w), nn.LayerNorm(w), nn.ReLU()]
            prev = w
        self.point_mlp = nn.Sequential(*layers)
        self.feature = nn.Sequential(nn.Linear(prev, feat), nn.ReLU())
        self.head = nn.Linear(feat, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.feature(self.point_mlp(x).max(dim=1).values)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


# The FPD network for the embedded shapes at the default settings, trained once (2026-12-07)
# and shipped, so every machine scores FPD with the same network.
SHIPPED = Path(__file__).parent / "weights"


def prepare(clouds: np.ndarray, n_points: int = CLASSIFIER_POINTS, seed: int = 0) -> torch.Tensor:
    """Unit-sphere normalise and take a fixed random subset of points per cloud."""
    rng = np.random.default_rng(seed)
    m = clouds.shape[1]
    idx = np.stack([rng.choice(m, min(n_points, m), replace=False) for _ in range(len(clouds))])
    sub = np.take_along_axis(clouds, idx[..., None], axis=1)
    return torch.from_numpy(normalize.per_shape(sub, "unit_sphere").astype(np.float32))


def reference_classifier(steps: int = 600, per_class: int = 60, seed: int = 0) -> nn.Module:
    """The cached FPD network, trained on the embedded shapes' train split."""
    ds = data.embedded(
        None,
        "train",
        n_train=per_class,
        n_points=CLASSIFIER_POINTS,
        normalization="none",
        seed=seed,
    )
    x = prepare(ds.points, seed=seed)
    y = torch.from_numpy(ds.labels)
    key = f"shapes-pointnet-{data_fingerprint(x, y)}"
    return fit_classifier(
        lambda: PointNetClassifier(len(ds.class_names)),
        x,
        y,
        key=key,
        steps=steps,
        batch_size=32,
        lr=1e-3,
        seed=seed,
        shipped=SHIPPED,
    )


@torch.no_grad()
def features(model: PointNetClassifier, clouds: np.ndarray, batch: int = 64) -> np.ndarray:
    x = prepare(clouds)
    return torch.cat([model.features(x[s : s + batch]) for s in range(0, len(x), batch)]).numpy()


def fpd(gen: np.ndarray, ref: np.ndarray, model: PointNetClassifier | None = None, **kw) -> float:
    model = model or reference_classifier(**kw)
    return frechet_distance_features(features(model, gen), features(model, ref))

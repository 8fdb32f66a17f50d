"""Image metrics: Fréchet distance, KID, precision/recall (k-NN) and Inception Score on the
features of a CNN trained on the reference data, plus standard FID when the user gives a
local Inception-v3 weights file.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from multigen.domain import DomainError
from multigen.metrics import (
    frechet_distance_features,
    inception_score,
    kid,
    precision_recall,
)

from .data import match_channels, resize_uint8
from .features import DEFAULT_STEPS, feature_network, features_and_probs

OPTIONS = {
    "k": "neighbourhood size of precision/recall (default 3)",
    "classifier_steps": "training steps of the feature CNN (default 400)",
    "classifier_seed": "seed of the feature CNN (default 0)",
    "kid_subsets": "KID subsets (default 100)",
    "kid_subset_size": "KID subset size (default 1000, clipped to the set sizes)",
    "is_splits": "Inception Score splits (default 1)",
    "inception_weights": "path of an Inception-v3 .pth/.safetensors file: adds fid_inception",
    "inception_batch_size": "images per Inception forward pass (default 32)",
    "inception_size": "Inception input side (default 299, the standard; >= 75)",
    "cache_dir": "where trained feature CNNs are cached (default $MULTIGEN_CACHE)",
}


@dataclass
class ImageSet:
    """Reference images (uint8 [N,C,H,W]) and what the feature CNN is trained on.

    For the digits dataset the CNN is always trained on the digits *train* split (at the
    reference's size), so ``digits:train`` and ``digits:test`` references share one
    feature network and their scores are comparable.
    """

    images: Tensor
    labels: Tensor | None = None
    num_classes: int = 0
    name: str = "reference"
    feature_name: str = "refcnn"
    train_images: Tensor | None = None
    train_labels: Tensor | None = None
    skipped: list[tuple[str, str]] = field(default_factory=list)
    captions: list[str] | None = None  # one per image: the prompts a sample folder was made from

    def __len__(self) -> int:
        return self.images.shape[0]


def as_images(x: Any, what: str) -> Tensor:
    """uint8 [N,C,H,W] from an ImageSet, a uint8 tensor or a float tensor in [-1, 1]."""
    if isinstance(x, ImageSet):
        x = x.images
    if not isinstance(x, Tensor) or x.ndim != 4:
        raise DomainError(f"{what}: expected images [N, C, H, W], got {type(x).__name__}")
    if x.dtype != torch.uint8:
        x = ((x.float().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    return x.cpu()


def _conform(images: Tensor, like: Tensor) -> Tensor:
    """Samples are scored at the reference's channels and resolution."""
    images = match_channels(images, like.shape[1])
    if images.shape[-2:] != like.shape[-2:]:
        h, w = images.shape[-2:]
        s = min(h, w)
        images = images[..., (h - s) // 2 : (h - s) // 2 + s, (w - s) // 2 : (w - s) // 2 + s]
        images = resize_uint8(images, tuple(like.shape[-2:]))
    return images


def _scores(name: str, fr, ff, pr, pf, opts: dict[str, Any]) -> dict[str, float]:
    out = {f"fd_{name}": frechet_distance_features(fr, ff)}
    kid_mean, kid_std = kid(
        fr,
        ff,
        subsets=int(opts.get("kid_subsets", 100)),
        subset_size=int(opts.get("kid_subset_size", 1000)),
    )
    out[f"kid_{name}"] = kid_mean
    out[f"kid_{name}_std"] = kid_std
    pr_rc = precision_recall(fr, ff, k=int(opts.get("k", 3)))
    out[f"precision_{name}"] = pr_rc["precision"]
    out[f"recall_{name}"] = pr_rc["recall"]
    splits = int(opts.get("is_splits", 1))
    out[f"is_{name}"] = inception_score(pf, splits=splits)
    out[f"is_{name}_reference"] = inception_score(pr, splits=splits)
    return out


def check_reference(reference: Any, **options: Any) -> ImageSet:
    """The checks that need no samples: a reference the metrics can use (class labels to
    train the feature CNN on, or Inception weights). Option names: ``Domain.check_options``."""
    if not isinstance(reference, ImageSet):
        reference = ImageSet(as_images(reference, "reference"))
    labels = reference.train_labels if reference.train_images is not None else reference.labels
    if labels is None and not options.get("inception_weights"):
        raise DomainError(
            f"reference {reference.name} has no class labels, so no feature CNN can be "
            "trained on it: use a folder with class sub-folders or an .npz with 'y', "
            "or pass eval option inception_weights=PATH"
        )
    return reference


def evaluate_images(samples: Any, reference: ImageSet, **options: Any) -> dict[str, float]:
    reference = check_reference(reference, **options)
    ref = reference.images
    gen = _conform(as_images(samples, "samples"), ref)
    if len(gen) < 2 or len(ref) < 2:
        raise DomainError(
            f"need at least 2 samples and 2 reference images, got {len(gen)} and {len(ref)}"
        )
    out: dict[str, float] = {"n_samples": float(len(gen)), "n_reference": float(len(ref))}

    train_x = reference.train_images if reference.train_images is not None else ref
    train_y = reference.train_labels if reference.train_images is not None else reference.labels
    if train_y is not None:
        net = feature_network(
            reference.feature_name,
            train_x,
            train_y,
            num_classes=max(reference.num_classes, int(train_y.max()) + 1),
            steps=int(options.get("classifier_steps", DEFAULT_STEPS)),
            seed=int(options.get("classifier_seed", 0)),
            cache_dir=options.get("cache_dir"),
        )
        fr, pr = features_and_probs(net, ref)
        ff, pf = features_and_probs(net, gen)
        out.update(_scores(reference.feature_name, fr, ff, pr, pf, options))

    weights = options.get("inception_weights")
    if weights:
        from .inception import inception_outputs, load_inception

        model = load_inception(Path(weights))
        bs = int(options.get("inception_batch_size", 32))
        size = int(options.get("inception_size", 299))
        fr, pr = inception_outputs(model, ref, bs, size)
        ff, pf = inception_outputs(model, gen, bs, size)
        scores = _scores("inception", fr, ff, pr, pf, options)
        scores["fid_inception"] = scores.pop("fd_inception")
        out.update(scores)
    bad = [k for k, v in out.items() if not math.isfinite(v)]
    if bad:
        raise DomainError(f"metrics {bad} are not finite; check the samples")
    return out

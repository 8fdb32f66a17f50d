"""The feature network for image metrics: a small CNN classifier trained reproducibly on the
reference data (``multigen.metrics.fit_classifier``), cached by a fingerprint of that data.

Its 128-d penultimate activations play the role Inception's pool3 plays for FID; its softmax
plays the role of Inception's logits for IS. The metric names carry the network's name
(``fd_digitcnn``...), so nobody mistakes them for Inception numbers.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from multigen.metrics import data_fingerprint, fit_classifier

ARCH_VERSION = "v2"  # bump when FeatureCNN changes: old cache entries then stop matching
FEATURE_DIM = 128
DEFAULT_STEPS = 400
# The digit CNN behind fd_digitcnn & co. for the embedded digits, trained once (2026-12-07)
# and shipped, so every machine scores with the same feature network.
SHIPPED = Path(__file__).parent / "weights"


class FeatureCNN(nn.Module):
    """Four 3x3 convs (two with stride 2), global average pool, 128-d feature, class logits.

    Small on purpose: it is trained on first use on CPU, and for digit-sized images 400
    Adam steps (batch 64) reach ~98.5 % held-out accuracy in ~5 CPU-seconds.
    """

    def __init__(self, in_channels: int, num_classes: int, width: int = 16):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(w, 2 * w, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(2 * w, 4 * w, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(4 * w, 4 * w, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Linear(4 * w, FEATURE_DIM),
            nn.ReLU(),
        )
        self.head = nn.Linear(FEATURE_DIM, num_classes)
        # Set after training from the training images (not saved): features are divided by
        # their RMS there, so KID's kernel (x·y/d + 1)^3 sees O(1) inner products, as with
        # Inception features, whatever scale training happened to produce.
        self.register_buffer("feature_scale", torch.ones(()), persistent=False)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x) / self.feature_scale

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


_MEMO: dict[str, FeatureCNN] = {}


def feature_network(
    name: str,
    images: Tensor,
    labels: Tensor,
    num_classes: int,
    steps: int = DEFAULT_STEPS,
    seed: int = 0,
    cache_dir: str | None = None,
) -> FeatureCNN:
    """Train (or reload) the feature CNN on uint8 ``images`` [N,C,H,W] with class ``labels``."""
    x = images.float() / 127.5 - 1.0
    key = f"images-{name}-{ARCH_VERSION}-{data_fingerprint(images, labels)}-s{steps}-r{seed}"
    memo_key = f"{cache_dir}|{key}"
    if memo_key not in _MEMO:
        _MEMO[memo_key] = fit_classifier(
            lambda: FeatureCNN(images.shape[1], num_classes),
            x,
            labels,
            key=key,
            steps=steps,
            batch_size=64,
            lr=5e-3,
            seed=seed,
            cache_dir=cache_dir,
            shipped=SHIPPED,
        )
        net = _MEMO[memo_key]
        with torch.no_grad():
            f = torch.cat([net.body(x[s : s + 512]) for s in range(0, len(x), 512)])
            net.feature_scale.fill_(f.square().mean().sqrt().clamp_min(1e-8))
    return _MEMO[memo_key]


@torch.no_grad()
def features_and_probs(
    net: FeatureCNN, images: Tensor, batch_size: int = 512
) -> tuple[Tensor, Tensor]:
    """uint8 images -> (features [N,128], softmax probabilities [N,K]) in float64."""
    net.eval()
    feats, probs = [], []
    for s in range(0, len(images), batch_size):
        x = images[s : s + batch_size].float() / 127.5 - 1.0
        raw = net.body(x)  # the head was trained on unscaled features
        feats.append((raw / net.feature_scale).double())
        probs.append(torch.softmax(net.head(raw).double(), dim=1))
    return torch.cat(feats), torch.cat(probs)

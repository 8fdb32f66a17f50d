"""HiFi-GAN's discriminators (Kong et al. 2020) returning one logit per clip.

MPD: the waveform folded into [T/p, p] for periods 2, 3, 5, 7, 11, each seen by a 2-D conv
stack with (k, 1) kernels — every sub-discriminator looks at one phase-aligned sub-sequence.
MSD: 1-D grouped conv stacks on the raw, 2x and 4x average-pooled waveform. The engine's
losses want ``[B]`` logits, so each sub-discriminator's output map is averaged and the
sub-discriminators are summed (HiFi-GAN sums their losses, which this matches for the
hinge/least-squares losses up to the averaging). ``width`` scales all channel counts
(1.0 = the paper's sizes).

``per_head: true`` returns ``[B, K]`` logits instead, one per sub-discriminator, so the
engine's element-wise losses score each one on its own as HiFi-GAN does (a sum of logits lets
one sub-discriminator's verdict cancel another's); ``forward(..., features=True)`` also
returns every layer's activations for the GAN's feature-matching loss (``method.fm_weight``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from multigen.nn import ConditionEmbedding


def _ch(c: int, width: float) -> int:
    return max(4, int(round(c * width)))


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, width: float = 1.0):
        super().__init__()
        self.period = period
        chans = [1] + [_ch(c, width) for c in (32, 128, 512, 1024)]
        self.convs = nn.ModuleList(
            weight_norm(nn.Conv2d(chans[i], chans[i + 1], (5, 1), (3, 1), (2, 0))) for i in range(4)
        )
        self.convs.append(weight_norm(nn.Conv2d(chans[-1], chans[-1], (5, 1), 1, (2, 0))))
        self.post = weight_norm(nn.Conv2d(chans[-1], 1, (3, 1), 1, (1, 0)))
        self.feat_dim = chans[-1]

    def forward(self, x: Tensor, maps: list[Tensor] | None = None) -> tuple[Tensor, Tensor]:
        b, c, t = x.shape
        if t % self.period:
            x = F.pad(x, (0, self.period - t % self.period), mode="reflect")
        h = x.view(b, c, -1, self.period)
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.1)
            if maps is not None:
                maps.append(h)
        return self.post(h).flatten(1).mean(1), h.mean(dim=(2, 3))


class ScaleDiscriminator(nn.Module):
    def __init__(self, width: float = 1.0, spectral: bool = False):
        super().__init__()
        norm = spectral_norm if spectral else weight_norm
        spec = [  # (out, kernel, stride, groups) from the paper
            (128, 15, 1, 1), (128, 41, 2, 4), (256, 41, 2, 16), (512, 41, 4, 16),
            (1024, 41, 4, 16), (1024, 41, 1, 16), (1024, 5, 1, 1),
        ]  # fmt: skip
        layers, cin = [], 1
        for cout, k, s, g in spec:
            cout = _ch(cout, width)
            g = max(1, min(g, cin // 4)) if cin > 1 else 1
            while cin % g or cout % g:
                g -= 1
            layers.append(norm(nn.Conv1d(cin, cout, k, s, k // 2, groups=g)))
            cin = cout
        self.convs = nn.ModuleList(layers)
        self.post = norm(nn.Conv1d(cin, 1, 3, 1, 1))
        self.feat_dim = cin

    def forward(self, x: Tensor, maps: list[Tensor] | None = None) -> tuple[Tensor, Tensor]:
        h = x
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.1)
            if maps is not None:
                maps.append(h)
        return self.post(h).flatten(1).mean(1), h.mean(dim=2)


class HiFiGANDiscriminator(nn.Module):
    """MPD + MSD (either can be switched off); class projection on pooled features."""

    def __init__(
        self,
        periods: tuple[int, ...] = (2, 3, 5, 7, 11),
        scales: int = 3,
        width: float = 1.0,
        num_classes: int = 0,
        per_head: bool = False,
    ):
        super().__init__()
        self.per_head = bool(per_head)
        self.mpd = nn.ModuleList(PeriodDiscriminator(p, width) for p in periods)
        self.msd = nn.ModuleList(ScaleDiscriminator(width, spectral=i == 0) for i in range(scales))
        self.conds = nn.ModuleList(
            ConditionEmbedding(d.feat_dim, num_classes=num_classes) for d in (*self.mpd, *self.msd)
        )

    # the GAN's feature matching may ask for activations (forward(..., features=True))
    has_features = True

    def forward(
        self, x: Tensor, cond: Tensor | None = None, mask: Any = None, features: bool = False
    ) -> Tensor | tuple[Tensor, list[Tensor]]:
        maps: list[Tensor] | None = [] if features else None
        outs = [d(x, maps) for d in self.mpd]
        h = x
        for i, d in enumerate(self.msd):
            if i:
                h = F.avg_pool1d(h, 4, 2, padding=2)
            outs.append(d(h, maps))
        heads = []
        for (logit, feat), emb in zip(outs, self.conds):
            if emb.enabled:
                logit = logit + (emb(cond, x.shape[0], x.device) * feat).sum(1)
            heads.append(logit)
        logits = torch.stack(heads, 1) if self.per_head else torch.stack(heads, 1).sum(1)
        return (logits, maps) if features else logits


def build_hifigan_discriminator(info: dict[str, Any], **params: Any) -> HiFiGANDiscriminator:
    params.setdefault("num_classes", int(info.get("num_classes", 0)))
    if "periods" in params:
        params["periods"] = tuple(params["periods"])
    return HiFiGANDiscriminator(**params)

"""A small KL-regularised convolutional autoencoder (the first stage of latent diffusion,
Rombach et al. 2022): the encoder gives a diagonal Gaussian posterior (mean, log-variance)
over a ``[latent_channels, H / 2^d, W / 2^d]`` latent, the decoder mirrors it.

Trained by the engine's ``autoencoder`` method (multigen/autoencoder.py); the images
domain's ``vae`` codec (domains/images/codec.py) encodes with the posterior mean.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import Tensor, nn

from multigen.domain import DomainError

LOGVAR_RANGE = (-30.0, 20.0)  # LDM's clamp: keeps exp(logvar) finite early in training


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, channels), channels, eps=1e-6)


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice with a skip (a 1x1 conv where the width changes)."""

    def __init__(self, cin: int, cout: int, groups: int):
        super().__init__()
        self.body = nn.Sequential(
            _norm(cin, groups), nn.SiLU(), nn.Conv2d(cin, cout, 3, padding=1),
            _norm(cout, groups), nn.SiLU(), nn.Conv2d(cout, cout, 3, padding=1),
        )  # fmt: skip
        self.skip = nn.Identity() if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x: Tensor) -> Tensor:
        return self.skip(x) + self.body(x)


class KLAutoencoder(nn.Module):
    """``encode(x) -> (mean, logvar)``, ``decode(z) -> x̂``; ``forward(x)`` reconstructs
    from the posterior mean. ``channel_mult`` has one entry per resolution: each level
    after the first halves the side, so the latent side is ``size / 2^(len - 1)``."""

    def __init__(
        self,
        in_channels: int,
        resolution: int,
        channels: int = 32,
        channel_mult: Sequence[int] = (1, 2),
        num_res_blocks: int = 1,
        latent_channels: int = 2,
        norm_groups: int = 8,
    ):
        super().__init__()
        levels = len(channel_mult)
        if levels < 1 or num_res_blocks < 1 or latent_channels < 1:
            raise DomainError(
                "kl_autoencoder: channel_mult needs >= 1 level, num_res_blocks and "
                "latent_channels >= 1"
            )
        if resolution % 2 ** (levels - 1):
            raise DomainError(
                f"kl_autoencoder: image size {resolution} is not divisible by 2^{levels - 1} "
                f"({levels} levels in channel_mult={list(channel_mult)})"
            )
        widths = [channels * m for m in channel_mult]
        self.in_channels, self.latent_channels = in_channels, latent_channels
        self.latent_size = resolution // 2 ** (levels - 1)

        enc: list[nn.Module] = [nn.Conv2d(in_channels, widths[0], 3, padding=1)]
        cin = widths[0]
        for i, w in enumerate(widths):
            for _ in range(num_res_blocks):
                enc.append(ResBlock(cin, w, norm_groups))
                cin = w
            if i < levels - 1:
                enc.append(nn.Conv2d(w, w, 3, stride=2, padding=1))
        enc += [ResBlock(cin, cin, norm_groups), _norm(cin, norm_groups), nn.SiLU(),
                nn.Conv2d(cin, 2 * latent_channels, 3, padding=1)]  # fmt: skip
        self.encoder = nn.Sequential(*enc)

        dec: list[nn.Module] = [nn.Conv2d(latent_channels, widths[-1], 3, padding=1),
                                ResBlock(widths[-1], widths[-1], norm_groups)]  # fmt: skip
        cin = widths[-1]
        for i, w in reversed(list(enumerate(widths))):
            for _ in range(num_res_blocks):
                dec.append(ResBlock(cin, w, norm_groups))
                cin = w
            if i > 0:
                dec += [nn.Upsample(scale_factor=2, mode="nearest"),
                        nn.Conv2d(w, w, 3, padding=1)]  # fmt: skip
        dec += [_norm(cin, norm_groups), nn.SiLU(), nn.Conv2d(cin, in_channels, 3, padding=1)]
        self.decoder = nn.Sequential(*dec)

    @property
    def latent_shape(self) -> list[int]:
        return [self.latent_channels, self.latent_size, self.latent_size]

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        mean, logvar = self.encoder(x).chunk(2, dim=1)
        return mean, logvar.clamp(*LOGVAR_RANGE)

    def decode(self, z: Tensor) -> Tensor:
        return self.decoder(z)

    def forward(self, x: Tensor) -> Tensor:
        return self.decode(self.encode(x)[0])


def build_autoencoder(info: Mapping[str, Any], **params: Any) -> KLAutoencoder:
    """Builder for ``model: {name: kl_autoencoder, params: {...}}`` (square images)."""
    c, h, w = info["shape"]
    if h != w:
        raise DomainError(f"kl_autoencoder: expects square images, got {h}x{w}")
    allowed = {"channels", "channel_mult", "num_res_blocks", "latent_channels", "norm_groups"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise DomainError(f"kl_autoencoder: unknown params {unknown}; allowed: {sorted(allowed)}")
    return KLAutoencoder(int(c), int(h), **params)

"""Point DiT: a transformer denoiser over sets of points built from the engine's adaLN-Zero
blocks (the ones the images DiT uses, ``multigen.nn``).

Each point is a token (a per-point MLP lifts ``xyz`` to the width); there is no positional
code, so the network is permutation-equivariant: permuting the input points permutes the
output the same way. The noise level and the class (when the data has classes) are not
tokens, as in the Point-E-style ``point_transformer``; they make one vector ``c`` per cloud
that modulates every block through adaLN-Zero, so every block starts as the identity and the
output starts at zero.
"""

from __future__ import annotations

from torch import Tensor, nn

from multigen.domain import DomainError
from multigen.nn import AdaLNZeroBlock, AdaLNZeroHead, ConditionEmbedding, NoiseEmbedding


class PointDiT(nn.Module):
    """Denoiser ``forward(x [B, N, 3], c_noise, cond, mask) -> [B, N, 3]``; ``mask [B, N]``
    (1 = real point) hides padded points from attention."""

    def __init__(
        self,
        num_classes: int = 0,
        cond_dim: int = 0,
        width: int = 128,
        depth: int = 4,
        heads: int = 4,
        mlp_ratio: float = 4.0,
        frequencies: int = 128,
    ):
        super().__init__()
        if width < 1 or depth < 1 or heads < 1:
            raise DomainError(
                f"point_dit: width, depth, heads must be >= 1, got {width}, {depth}, {heads}"
            )
        if width % heads:
            raise DomainError(f"point_dit: width {width} is not divisible by heads {heads}")
        self.embed = nn.Sequential(nn.Linear(3, width), nn.SiLU(), nn.Linear(width, width))
        self.noise_emb = NoiseEmbedding(frequencies, width)
        self.cond_emb = ConditionEmbedding(width, num_classes, cond_dim)
        self.blocks = nn.ModuleList(AdaLNZeroBlock(width, heads, mlp_ratio) for _ in range(depth))
        self.head = AdaLNZeroHead(width, 3)

    def forward(
        self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        b = x.shape[0]
        c_noise = c_noise.reshape(-1).expand(b) if c_noise.numel() == 1 else c_noise.reshape(b)
        c = self.noise_emb(c_noise) + self.cond_emb(cond, b, x.device)
        pad = None if mask is None else mask.reshape(b, -1) == 0
        h = self.embed(x)
        for block in self.blocks:
            h = block(h, c, pad)
        return self.head(h, c)


def build_point_dit(info: dict, **params) -> PointDiT:
    """Builder for ``model: {name: point_dit, params: {width, depth, heads, mlp_ratio}}``."""
    allowed = {"width", "depth", "heads", "mlp_ratio", "frequencies"}
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise DomainError(f"point_dit: unknown params {unknown}; allowed: {sorted(allowed)}")
    return PointDiT(int(info.get("num_classes", 0)), int(info.get("cond_dim", 0)), **params)

"""Point-cloud networks: two denoisers (PointNet-style and a Point-E-style transformer) and an
r-GAN generator / PointNet discriminator pair.

Denoisers see ``x: [B, N, 3]`` and return ``[B, N, 3]``; they are permutation-equivariant
(shared per-point layers, symmetric pooling, attention without positional codes).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from multigen.nn import ConditionEmbedding, Generator, NoiseEmbedding


class _FiLMBlock(nn.Module):
    """Per-point residual MLP, modulated by the (noise, class) embedding, fed global context.

    The global context is a max- and mean-pool over points, so every block sees the whole
    shape (DPM's PointwiseNet conditions on a shape code; here the code is computed on the fly).
    """

    def __init__(self, width: int, emb_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False)
        self.film = nn.Linear(emb_dim, 2 * width)
        self.glob = nn.Linear(2 * width, width)
        self.fc1 = nn.Linear(width, 2 * width)
        self.fc2 = nn.Linear(2 * width, width)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        scale, shift = self.film(emb)[:, None].chunk(2, dim=-1)
        u = self.norm(h) * (1 + scale) + shift
        pooled = torch.cat([u.max(dim=1).values, u.mean(dim=1)], dim=-1)
        u = u + self.glob(pooled)[:, None]
        return h + self.fc2(F.silu(self.fc1(F.silu(u))))


class PointNetDenoiser(nn.Module):
    """DPM/PointNet-style denoiser: per-point MLP blocks with pooled global context."""

    def __init__(
        self,
        num_classes: int = 0,
        cond_dim: int = 0,
        width: int = 256,
        depth: int = 6,
        emb_dim: int = 64,
    ):
        super().__init__()
        self.noise_emb = NoiseEmbedding(emb_dim)
        self.cond_emb = ConditionEmbedding(self.noise_emb.out_dim, num_classes, cond_dim)
        self.inp = nn.Linear(3, width)
        self.blocks = nn.ModuleList(_FiLMBlock(width, self.noise_emb.out_dim) for _ in range(depth))
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, 3)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(
        self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        emb = self.noise_emb(c_noise) + self.cond_emb(cond, x.shape[0], x.device)
        emb = F.silu(emb)
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(self.out_norm(h))


class _TransformerBlock(nn.Module):
    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.norm1 = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(
            nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width)
        )

    def forward(self, h: Tensor) -> Tensor:
        b, n, w = h.shape
        q, k, v = self.qkv(self.norm1(h)).view(b, n, 3, self.heads, w // self.heads).unbind(2)
        a = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        h = h + self.proj(a.transpose(1, 2).reshape(b, n, w))
        return h + self.mlp(self.norm2(h))


class PointTransformerDenoiser(nn.Module):
    """Point-E-style transformer: each point is a token, the noise level (and class) is one
    extra token prepended to the sequence; no positional encoding, so it is equivariant."""

    def __init__(
        self,
        num_classes: int = 0,
        cond_dim: int = 0,
        width: int = 128,
        depth: int = 4,
        heads: int = 4,
        emb_dim: int = 64,
    ):
        super().__init__()
        if width % heads:
            raise ValueError(f"width {width} must be divisible by heads {heads}")
        self.noise_emb = NoiseEmbedding(emb_dim, hidden=width)
        self.cond_emb = ConditionEmbedding(width, num_classes, cond_dim)
        self.inp = nn.Linear(3, width)
        self.blocks = nn.ModuleList(_TransformerBlock(width, heads) for _ in range(depth))
        self.out_norm = nn.LayerNorm(width)
        self.out = nn.Linear(width, 3)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(
        self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        token = self.noise_emb(c_noise) + self.cond_emb(cond, x.shape[0], x.device)
        h = torch.cat([token[:, None], self.inp(x)], dim=1)
        for block in self.blocks:
            h = block(h)
        return self.out(self.out_norm(h[:, 1:]))


class RGANGenerator(Generator):
    """r-GAN (Achlioptas et al. 2018): an MLP from a latent vector to all N×3 coordinates."""

    def __init__(
        self,
        n_points: int,
        num_classes: int = 0,
        cond_dim: int = 0,
        latent_dim: int = 128,
        widths: tuple[int, ...] = (256, 512, 1024),
    ):
        super().__init__()
        self.latent_dim, self.n_points = latent_dim, n_points
        self.cond_emb = ConditionEmbedding(latent_dim, num_classes, cond_dim)
        layers, prev = [], 2 * latent_dim if self.cond_emb.enabled else latent_dim
        for w in widths:
            layers += [nn.Linear(prev, w), nn.LeakyReLU(0.2)]
            prev = w
        layers.append(nn.Linear(prev, n_points * 3))
        self.net = nn.Sequential(*layers)

    def forward(self, z: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        if self.cond_emb.enabled:
            z = torch.cat([z, self.cond_emb(cond, z.shape[0], z.device)], dim=-1)
        return self.net(z).view(z.shape[0], self.n_points, 3)


class PointNetDiscriminator(nn.Module):
    """PointNet critic: shared per-point MLP, max-pool, MLP head -> one logit per cloud.

    No batch norm (it breaks gradient penalties); class conditioning by projection
    (Miyato & Koyama 2018): logit += <embed(class), pooled feature>.
    """

    def __init__(
        self,
        num_classes: int = 0,
        cond_dim: int = 0,
        widths: tuple[int, ...] = (64, 128, 256, 512),
        in_features: int = 3,  # 7 for DDGAN's pair (x_{t-1}, x_t, t) per point
    ):
        super().__init__()
        layers, prev = [], in_features
        for w in widths:
            layers += [nn.Linear(prev, w), nn.LeakyReLU(0.2)]
            prev = w
        self.point_mlp = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Linear(prev, 256), nn.LeakyReLU(0.2), nn.Linear(256, 1))
        self.feat = nn.Linear(prev, 256)
        self.cond_emb = ConditionEmbedding(256, num_classes, cond_dim)

    def forward(self, x: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        pooled = self.point_mlp(x).max(dim=1).values
        logit = self.head(pooled).squeeze(-1)
        if self.cond_emb.enabled and cond is not None:
            logit = logit + (self.cond_emb(cond, x.shape[0], x.device) * self.feat(pooled)).sum(-1)
        return logit


def _classes(info: dict) -> tuple[int, int]:
    return int(info.get("num_classes", 0)), int(info.get("cond_dim", 0))


def build_pointnet(info: dict, **params) -> nn.Module:
    return PointNetDenoiser(*_classes(info), **params)


def build_transformer(info: dict, **params) -> nn.Module:
    return PointTransformerDenoiser(*_classes(info), **params)


def build_rgan(info: dict, **params) -> nn.Module:
    if "widths" in params:
        params["widths"] = tuple(params["widths"])
    return RGANGenerator(int(info["shape"][0]), *_classes(info), **params)


def build_pointnet_disc(info: dict, **params) -> nn.Module:
    if "widths" in params:
        params["widths"] = tuple(params["widths"])
    features = int(info["shape"][-1])
    return PointNetDiscriminator(*_classes(info), in_features=features, **params)

"""Small network pieces every domain's networks share: noise-level and condition embeddings
and the generator base class for GANs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from multigen.domain import Batch
from multigen.randomness import randn


def sinusoidal_embedding(c_noise: Tensor, dim: int, max_period: float = 10_000.0) -> Tensor:
    """Transformer-style sin/cos features of a per-sample scalar ``[B] -> [B, dim]``.

    ``c_noise`` comes from the preconditioning (e.g. ``ln(σ)/4`` for EDM, ``1000·t`` for
    DDPM), so the same embedding serves every method.
    """
    half = dim // 2
    freqs = torch.exp(
        -math.log(max_period)
        * torch.arange(half, device=c_noise.device, dtype=torch.float32)
        / half
    )
    args = c_noise.float()[:, None] * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.nn.functional.pad(emb, (0, 1))
    return emb


class NoiseEmbedding(nn.Module):
    """Sinusoidal features of ``c_noise`` followed by a 2-layer MLP."""

    def __init__(self, dim: int, hidden: int | None = None):
        super().__init__()
        hidden = hidden or 4 * dim
        self.dim = dim
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.out_dim = hidden

    def forward(self, c_noise: Tensor) -> Tensor:
        return self.mlp(sinusoidal_embedding(c_noise, self.dim))


class ConditionEmbedding(nn.Module):
    """Embeds class labels (``[B]`` long, -1 = none) or properties (``[B, P]``, NaN row = none).

    The "none" rows get a learned null embedding; that is what classifier-free guidance
    uses at sampling time. With ``num_classes == cond_dim == 0`` it returns zeros.
    """

    def __init__(self, dim: int, num_classes: int = 0, cond_dim: int = 0):
        super().__init__()
        self.dim, self.num_classes, self.cond_dim = dim, num_classes, cond_dim
        if num_classes:
            self.table = nn.Embedding(num_classes + 1, dim)  # last row = null
        if cond_dim:
            self.proj = nn.Sequential(nn.Linear(cond_dim, dim), nn.SiLU(), nn.Linear(dim, dim))
            self.null = nn.Parameter(torch.zeros(dim))

    @property
    def enabled(self) -> bool:
        return bool(self.num_classes or self.cond_dim)

    def forward(self, cond: Tensor | None, batch_size: int, device: torch.device) -> Tensor:
        if not self.enabled:
            return torch.zeros(batch_size, self.dim, device=device)
        if self.num_classes:
            if cond is None:
                labels = torch.full((batch_size,), self.num_classes, device=device)
            else:
                labels = torch.where(cond < 0, torch.full_like(cond, self.num_classes), cond)
            return self.table(labels.long())
        if cond is None:
            return self.null.expand(batch_size, -1)
        missing = torch.isnan(cond).any(dim=-1, keepdim=True)
        emb = self.proj(torch.nan_to_num(cond.float()))
        return torch.where(missing, self.null.expand_as(emb), emb)


def null_condition(cond: Tensor | None) -> Tensor | None:
    """The unconditional counterpart of ``cond`` (-1 labels / NaN properties)."""
    if cond is None:
        return None
    if cond.dtype.is_floating_point:
        return torch.full_like(cond, float("nan"))
    return torch.full_like(cond, -1)


def drop_condition(cond: Tensor | None, p: float, uniform: Tensor | None = None) -> Tensor | None:
    """Replace each sample's condition by the null one with probability ``p`` (CFG training).

    ``uniform`` gives the per-sample U(0,1) draws (so the caller controls the randomness).
    """
    if cond is None or p <= 0:
        return cond
    if uniform is None:
        uniform = torch.rand(cond.shape[0], device=cond.device)
    drop = uniform.to(cond.device) < p
    drop = drop.reshape((-1,) + (1,) * (cond.ndim - 1))
    return torch.where(drop, null_condition(cond), cond)


class Generator(nn.Module):
    """Base class of GAN generators: ``forward(z, cond=None, mask=None) -> x``.

    The default latent is a vector of ``latent_dim`` per sample; set-valued generators
    override :meth:`sample_latent` (e.g. one latent per atom, zero on padding).
    """

    latent_dim: int = 128

    def sample_latent(self, template: Batch, generators: Sequence[torch.Generator]) -> Tensor:
        return randn(generators, (self.latent_dim,)).to(template.x.device)

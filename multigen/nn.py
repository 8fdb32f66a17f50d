"""Small network pieces every domain's networks share: noise-level and condition embeddings,
the adaLN-Zero transformer block and output head (DiT), and the generator base class for GANs."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from multigen.domain import Batch
from multigen.randomness import randn
from multigen.text import CrossAttention


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


# ---- transformer pieces shared by DiT (images) and the set transformer (point clouds) --------


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    """adaLN's affine: ``x [B, T, W]`` scaled by ``1 + scale`` and moved by ``shift`` (``[B, W]``,
    one per sample, broadcast over the tokens)."""
    return x * (1 + scale.unsqueeze(1)) + shift.unsqueeze(1)


class AdaLNZeroBlock(nn.Module):
    """A transformer block conditioned on one vector ``c [B, W]`` per sample by adaLN-Zero
    (Peebles & Xie 2023): LayerNorms without affine, ``c`` gives a shift, a scale and a gate for
    the attention and the MLP branch, and the projection making them starts at zero, so the
    block starts as the identity.

    Nothing here knows where tokens come from: no positional code is added, so the block is
    permutation-equivariant over tokens; ``pad [B, T]`` (True = padding) hides tokens from
    attention.
    """

    def __init__(self, width: int, heads: int, mlp_ratio: float = 4.0, context_width: int = 0):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = nn.MultiheadAttention(width, heads, batch_first=True)
        # captions (multigen.text): cross-attention between self-attention and the MLP, as
        # PixArt-α adds it to DiT's block; it starts as the identity like the rest
        self.cross = CrossAttention(width, context_width, heads) if context_width else None
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        hidden = int(width * mlp_ratio)
        self.mlp = nn.Sequential(
            nn.Linear(width, hidden), nn.GELU(approximate="tanh"), nn.Linear(hidden, width)
        )
        self.ada = nn.Linear(width, 6 * width)
        nn.init.zeros_(self.ada.weight)  # adaLN-Zero: gates start at 0, the block at identity
        nn.init.zeros_(self.ada.bias)

    def forward(
        self,
        x: Tensor,
        c: Tensor,
        pad: Tensor | None = None,
        text: tuple[Tensor, Tensor] | None = None,
    ) -> Tensor:
        """``text``: a caption's (tokens, padding) for blocks built with ``context_width``."""
        shift1, scale1, gate1, shift2, scale2, gate2 = self.ada(F.silu(c)).chunk(6, dim=-1)
        h = modulate(self.norm1(x), shift1, scale1)
        attended = self.attn(h, h, h, key_padding_mask=pad, need_weights=False)[0]
        x = x + gate1.unsqueeze(1) * attended
        if self.cross is not None and text is not None:
            x = self.cross(x, *text)
        h = modulate(self.norm2(x), shift2, scale2)
        return x + gate2.unsqueeze(1) * self.mlp(h)


class AdaLNZeroHead(nn.Module):
    """The output layer after the blocks: a LayerNorm modulated by ``c`` and a linear map to
    ``out_dim`` per token; both projections start at zero, so the network's first output is 0."""

    def __init__(self, width: int, out_dim: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.ada = nn.Linear(width, 2 * width)
        self.out = nn.Linear(width, out_dim)
        for layer in (self.ada, self.out):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        shift, scale = self.ada(F.silu(c)).chunk(2, dim=-1)
        return self.out(modulate(self.norm(x), shift, scale))

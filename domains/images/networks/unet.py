"""A small DDPM/ADM-style U-Net denoiser: residual blocks with GroupNorm, self-attention at
chosen resolutions, noise (+ class) embedding added in every residual block. A run on
captioned data adds a text encoder: its pooled vector joins the embedding and every attention
layer (the chosen resolutions and the bottleneck) also cross-attends to the caption's tokens,
as latent diffusion's text-to-image U-Net does.

It predicts whatever the engine's parameterisation asks for (ε, v, F_θ of EDM, velocity):
the network never knows the method; it only sees ``c_noise``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from multigen.domain import DomainError
from multigen.nn import ConditionEmbedding, NoiseEmbedding
from multigen.text import CrossAttention, TextConditioning

from . import build_square


def _norm(channels: int, groups: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(groups, channels), channels, eps=1e-6)


def _zero(module: nn.Module) -> nn.Module:
    """Zero-initialised last layers make every residual branch start as the identity."""
    for p in module.parameters():
        nn.init.zeros_(p)
    return module


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb_dim: int, dropout: float, groups: int):
        super().__init__()
        self.norm1 = _norm(cin, groups)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.emb = nn.Linear(emb_dim, 2 * cout)  # scale and shift (FiLM), as in ADM
        self.norm2 = _norm(cout, groups)
        self.dropout = nn.Dropout(dropout)
        self.conv2 = _zero(nn.Conv2d(cout, cout, 3, padding=1))
        self.skip = nn.Conv2d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.norm2(h) * (1 + scale) + shift
        h = self.conv2(self.dropout(F.silu(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    """Multi-head self-attention over the H·W positions, then (``context_width`` given)
    cross-attention from the positions to a caption's tokens."""

    def __init__(self, channels: int, heads: int, groups: int, context_width: int = 0):
        super().__init__()
        if channels % heads:
            raise DomainError(f"unet: {channels} channels do not split into {heads} heads")
        self.heads = heads
        self.norm = _norm(channels, groups)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = _zero(nn.Conv2d(channels, channels, 1))
        self.cross = CrossAttention(channels, context_width, heads) if context_width else None

    def forward(self, x: Tensor, text: tuple[Tensor, Tensor] | None = None) -> Tensor:
        b, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(b, 3, self.heads, c // self.heads, h * w).unbind(1)
        out = F.scaled_dot_product_attention(
            q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)
        )
        x = x + self.proj(out.transpose(-1, -2).reshape(b, c, h, w))
        if self.cross is None or text is None:
            return x
        tokens = self.cross(x.flatten(2).transpose(1, 2), *text)
        return tokens.transpose(1, 2).reshape(b, c, h, w)


class Down(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, stride=2, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(x)


class Up(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: Tensor) -> Tensor:
        return self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))


class Level(nn.Module):
    """Residual blocks (each optionally followed by attention) at one resolution."""

    def __init__(self, blocks: list[ResBlock], attns: list[nn.Module]):
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.attns = nn.ModuleList(attns)


class UNet(nn.Module):
    """``forward(x, c_noise, cond=None, mask=None) -> Tensor`` shaped like ``x``."""

    def __init__(
        self,
        in_channels: int,
        resolution: int,
        channels: int = 32,
        channel_mult: Sequence[int] = (1, 2, 2),
        num_res_blocks: int = 2,
        attn_resolutions: Sequence[int] = (8,),
        heads: int = 1,
        dropout: float = 0.0,
        norm_groups: int = 8,
        num_classes: int = 0,
        cond_dim: int = 0,
        out_channels: int | None = None,
        text: dict | None = None,
        text_width: int = 64,
        text_depth: int = 2,
    ):
        super().__init__()
        levels = len(channel_mult)
        if levels < 1 or num_res_blocks < 1:
            raise DomainError("unet: channel_mult needs >= 1 level and num_res_blocks >= 1")
        if resolution % 2 ** (levels - 1):
            raise DomainError(
                f"unet: image size {resolution} is not divisible by 2^{levels - 1} "
                f"({levels} levels in channel_mult={list(channel_mult)})"
            )
        widths = [channels * m for m in channel_mult]
        if any(w % norm_groups for w in widths):
            raise DomainError(f"unet: channel widths {widths} must be multiples of norm_groups")
        resolutions = [resolution // 2**i for i in range(levels)]
        unknown = sorted(set(attn_resolutions) - set(resolutions))
        if unknown:
            raise DomainError(
                f"unet: attn_resolutions {unknown} are not U-Net resolutions {resolutions}"
            )
        self.in_channels = in_channels
        self.noise_emb = NoiseEmbedding(channels)
        emb_dim = self.noise_emb.out_dim
        self.cond_emb = ConditionEmbedding(emb_dim, num_classes, cond_dim)
        self.text = TextConditioning(text, emb_dim, text_width, text_depth) if text else None
        context = text_width if text else 0
        self.conv_in = nn.Conv2d(in_channels, channels, 3, padding=1)

        def attn(res: int, width: int) -> nn.Module:
            if res not in attn_resolutions:
                return nn.Identity()
            return Attention(width, heads, norm_groups, context)

        # encoder
        self.down_levels, self.downsamples = nn.ModuleList(), nn.ModuleList()
        skips, width = [channels], channels
        for i, (res, w) in enumerate(zip(resolutions, widths)):
            blocks, attns = [], []
            for _ in range(num_res_blocks):
                blocks.append(ResBlock(width, w, emb_dim, dropout, norm_groups))
                attns.append(attn(res, w))
                width = w
                skips.append(width)
            self.down_levels.append(Level(blocks, attns))
            last = i == levels - 1
            self.downsamples.append(nn.Identity() if last else Down(width))
            if not last:
                skips.append(width)
        # bottleneck: always attends (it is the cheapest place to mix the whole image)
        self.mid1 = ResBlock(width, width, emb_dim, dropout, norm_groups)
        self.mid_attn = Attention(width, heads, norm_groups, context)
        self.mid2 = ResBlock(width, width, emb_dim, dropout, norm_groups)
        # decoder: one more block per level than the encoder, each eating one skip
        self.up_levels, self.upsamples = nn.ModuleList(), nn.ModuleList()
        for i in reversed(range(levels)):
            blocks, attns = [], []
            for _ in range(num_res_blocks + 1):
                cin = width + skips.pop()
                blocks.append(ResBlock(cin, widths[i], emb_dim, dropout, norm_groups))
                attns.append(attn(resolutions[i], widths[i]))
                width = widths[i]
            self.up_levels.append(Level(blocks, attns))
            self.upsamples.append(Up(width) if i > 0 else nn.Identity())
        self.norm_out = _norm(width, norm_groups)
        self.conv_out = _zero(nn.Conv2d(width, out_channels or in_channels, 3, padding=1))

    def forward(
        self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        b = x.shape[0]
        c_noise = c_noise.reshape(-1).expand(b) if c_noise.numel() == 1 else c_noise.reshape(b)
        emb = self.noise_emb(c_noise) + self.cond_emb(cond, b, x.device)
        text = None
        if self.text is not None:
            pooled, text = self.text(cond, b, x.device)
            emb = emb + pooled
        emb = F.silu(emb)

        def attend(att: nn.Module, h: Tensor) -> Tensor:
            return h if isinstance(att, nn.Identity) else att(h, text)

        h = self.conv_in(x)
        hs = [h]
        for level, down in zip(self.down_levels, self.downsamples):
            for block, att in zip(level.blocks, level.attns):
                h = attend(att, block(h, emb))
                hs.append(h)
            if not isinstance(down, nn.Identity):
                h = down(h)
                hs.append(h)
        h = self.mid2(self.mid_attn(self.mid1(h, emb), text), emb)
        for level, up in zip(self.up_levels, self.upsamples):
            for block, att in zip(level.blocks, level.attns):
                h = attend(att, block(torch.cat([h, hs.pop()], dim=1), emb))
            h = up(h)
        return self.conv_out(F.silu(self.norm_out(h)))


def build_unet(info: dict, **params) -> UNet:
    """Builder for ``model: {name: unet, params: {...}}``; shape/classes come from ``info``."""
    return build_square(UNet, "unet", info, params)

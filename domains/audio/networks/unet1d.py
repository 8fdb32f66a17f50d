"""A 1-D U-Net denoiser for waveforms: residual blocks (GroupNorm, SiLU, kernel-k convs,
additive noise/class embedding), strided-conv downsampling by ``factor`` per level, nearest
upsampling + conv on the way up, skip concatenation, and optional self-attention at the
coarsest level (where the sequence is short enough for it to be cheap).

``patch > 1`` folds every ``patch`` consecutive samples into channels before the first conv
and unfolds the output the same way (space-to-depth, as the patching of audio-diffusion
U-Nets): the full-rate levels, which cost most and see least, are skipped, so a CPU can
afford a network whose receptive field spans the whole clip.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from multigen.nn import ConditionEmbedding, NoiseEmbedding


def fold(x: Tensor, patch: int) -> Tensor:
    """``[B, 1, T] -> [B, patch, T / patch]``: sample j of patch i goes to channel j, step i."""
    return x.reshape(x.shape[0], -1, patch).transpose(1, 2)


def unfold(h: Tensor) -> Tensor:
    """The inverse of :func:`fold`: ``[B, patch, L] -> [B, 1, patch·L]``."""
    return h.transpose(1, 2).reshape(h.shape[0], 1, -1)


def _norm(c: int) -> nn.GroupNorm:
    return nn.GroupNorm(min(8, c), c)


class ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, emb: int, kernel: int):
        super().__init__()
        self.n1, self.c1 = _norm(cin), nn.Conv1d(cin, cout, kernel, padding=kernel // 2)
        self.emb = nn.Linear(emb, cout)
        self.n2, self.c2 = _norm(cout), nn.Conv1d(cout, cout, kernel, padding=kernel // 2)
        nn.init.zeros_(self.c2.weight)
        nn.init.zeros_(self.c2.bias)
        self.skip = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        h = self.c1(F.silu(self.n1(x))) + self.emb(e)[:, :, None]
        return self.skip(x) + self.c2(F.silu(self.n2(h)))


class Attention(nn.Module):
    def __init__(self, c: int, heads: int = 4):
        super().__init__()
        self.norm, self.heads = _norm(c), heads
        self.qkv, self.out = nn.Conv1d(c, 3 * c, 1), nn.Conv1d(c, c, 1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        b, c, t = x.shape
        q, k, v = self.qkv(self.norm(x)).view(b, 3, self.heads, c // self.heads, t).unbind(1)
        h = F.scaled_dot_product_attention(
            q.transpose(-1, -2), k.transpose(-1, -2), v.transpose(-1, -2)
        )
        return x + self.out(h.transpose(-1, -2).reshape(b, c, t))


class UNet1D(nn.Module):
    """``forward(x [B, 1, T], c_noise [B], cond=None) -> [B, 1, T]``; T must be divisible by
    ``factor ** (len(mults) - 1)`` (the audio domain pads clip lengths accordingly)."""

    def __init__(
        self,
        channels: int = 32,
        mults: tuple[int, ...] = (1, 2, 4, 4),
        blocks: int = 2,
        kernel: int = 9,
        factor: int = 4,
        attention: bool = True,
        num_classes: int = 0,
        patch: int = 1,
        in_channels: int = 1,
    ):
        super().__init__()
        if in_channels > 1 and patch > 1:
            raise ValueError("unet1d: patch folds one-channel waveforms; use patch 1 here")
        emb = 4 * channels
        self.factor, self.levels, self.patch = factor, len(mults), patch
        self.noise_embed = NoiseEmbedding(channels, emb)
        self.cond_embed = ConditionEmbedding(emb, num_classes=num_classes)
        # a log-mel [n_mels, frames] enters with its mel bands as channels (patch 1)
        io = max(patch, in_channels)
        self.inp = nn.Conv1d(io, channels, kernel, padding=kernel // 2)
        self.down, self.up = nn.ModuleList(), nn.ModuleList()
        skips, c = [channels], channels
        for i, m in enumerate(mults):
            level = nn.ModuleList()
            for _ in range(blocks):
                level.append(ResBlock(c, channels * m, emb, kernel))
                c = channels * m
                skips.append(c)
            if i < len(mults) - 1:
                level.append(nn.Conv1d(c, c, 2 * factor, factor, factor // 2))
                skips.append(c)
            self.down.append(level)
        self.mid = nn.ModuleList([ResBlock(c, c, emb, kernel), ResBlock(c, c, emb, kernel)])
        self.attn = Attention(c) if attention else None
        for i, m in reversed(list(enumerate(mults))):
            level = nn.ModuleList()
            for _ in range(blocks + 1):
                level.append(ResBlock(c + skips.pop(), channels * m, emb, kernel))
                c = channels * m
            if i > 0:
                level.append(nn.Conv1d(c, c, kernel, padding=kernel // 2))
            self.up.append(level)
        self.out = nn.Sequential(_norm(c), nn.SiLU(), nn.Conv1d(c, io, kernel, padding=kernel // 2))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def forward(self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None, mask: Any = None):
        b, _, t = x.shape
        p = self.patch
        need = p * self.factor ** (self.levels - 1)
        pad = (-t) % need
        h = F.pad(x.float(), (0, pad))
        h = fold(h, p) if p > 1 else h
        e = self.noise_embed(c_noise.reshape(b).to(x.device))
        e = F.silu(e + self.cond_embed(cond, b, x.device))
        h = self.inp(h)
        hs = [h]
        for level in self.down:
            for layer in level:
                h = layer(h, e) if isinstance(layer, ResBlock) else layer(h)
                hs.append(h)
        h = self.mid[0](h, e)
        if self.attn is not None:
            h = self.attn(h)
        h = self.mid[1](h, e)
        for level in self.up:
            for layer in level:
                if isinstance(layer, ResBlock):
                    h = layer(torch.cat([h, hs.pop()], dim=1), e)
                else:  # upsample then smooth
                    h = layer(F.interpolate(h, scale_factor=self.factor, mode="nearest"))
        h = self.out(h)
        return (unfold(h) if p > 1 else h)[..., :t].to(x.dtype)


def build_unet1d(info: dict[str, Any], **params: Any) -> UNet1D:
    params.setdefault("num_classes", int(info.get("num_classes", 0)))
    params.setdefault("in_channels", int(info["shape"][0]))
    if "mults" in params:
        params["mults"] = tuple(params["mults"])
    return UNet1D(**params)

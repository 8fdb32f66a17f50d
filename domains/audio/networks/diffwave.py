"""DiffWave-style denoiser (Kong et al. 2021): a stack of residual layers with dilated
gated convolutions (dilation 2^(i mod cycle)), skip connections summed over layers, and a
noise-level embedding added before every dilated convolution.

Why it is written channels-last: on CPUs a kernel-3 dilated conv over ``[B, C, T]`` runs
far below the matmul rate, while the same conv done as "stack the three shifted copies and
multiply by a [3C, 2C] matrix" over ``[B, T, C]`` is one large GEMM (about 10x faster in
bf16 on AMX/AVX-512 cores, and also what cuBLAS likes). The noise/class projections of all
layers are one matrix product per forward. The trunk runs in bf16 inside a bf16 autocast
region (the run's ``train.precision``, ``auto`` by default); ``bf16=True``/``False`` forces it
either way. Parameters, the skip sum and the output stay float32.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from multigen.nn import ConditionEmbedding, NoiseEmbedding
from multigen.precision import autocast_bf16


def receptive_field(layers: int, cycle: int) -> int:
    """Samples one output sees: each kernel-3 layer of dilation d widens the view by 2d."""
    return 1 + 2 * sum(2 ** (i % cycle) for i in range(layers))


class ResidualStack(nn.Module):
    """All residual layers; weights stored as matrices for channels-last GEMMs.

    ``local`` > 0: a per-sample condition ``[B, T, local]`` (the vocoder's upsampled log-mel)
    enters every layer through its own 1x1 projection added to the dilated conv's output, as
    DiffWave's conditioner does; it is folded into the same GEMM (the matrix is
    ``[2C, 3C + local]``, the condition appended to the three taps), so it costs no extra pass.
    """

    def __init__(self, layers: int, channels: int, cycle: int, embed: int, local: int = 0):
        super().__init__()
        self.layers, self.channels, self.local = layers, channels, local
        self.dilations = [2 ** (i % cycle) for i in range(layers)]
        c = channels
        # dilated conv as [3C -> 2C] per layer (taps t-d, t, t+d), kaiming-like init; the
        # local condition's columns (if any) follow the taps'
        w_dil = torch.randn(layers, 2 * c, 3 * c) * math.sqrt(2 / (3 * c))
        if local:
            w_cond = torch.randn(layers, 2 * c, local) * math.sqrt(1 / local)
            w_dil = torch.cat([w_dil, w_cond], dim=-1)
        self.w_dil = nn.Parameter(w_dil)
        self.b_dil = nn.Parameter(torch.zeros(layers, 2 * c))
        self.w_out = nn.Parameter(torch.randn(layers, 2 * c, c) * math.sqrt(2 / c))
        self.b_out = nn.Parameter(torch.zeros(layers, 2 * c))
        self.step_proj = nn.Linear(embed, layers * c)  # per-layer noise/cond projection

    def forward(
        self, h: Tensor, emb: Tensor, dtype: torch.dtype, local: Tensor | None = None
    ) -> Tensor:
        b, t, c = h.shape
        if (local is None) != (not self.local):
            raise ValueError(f"ResidualStack: built for {self.local} local condition channels")
        steps = self.step_proj(emb).view(b, self.layers, 1, c).to(dtype)
        h = h.to(dtype)
        tail = [] if local is None else [local.to(dtype)]
        w_dil, b_dil = self.w_dil.to(dtype), self.b_dil.to(dtype)
        w_out, b_out = self.w_out.to(dtype), self.b_out.to(dtype)
        skip = torch.zeros(b, t, c, device=h.device, dtype=torch.float32)
        inv_sqrt2 = 1 / math.sqrt(2)
        for i, d in enumerate(self.dilations):
            y = h + steps[:, i]
            p = F.pad(y, (0, 0, d, d))
            u = torch.cat([p[:, :t], y, p[:, 2 * d :], *tail], dim=-1)
            z = F.linear(u, w_dil[i], b_dil[i])
            gate, filt = z.chunk(2, dim=-1)
            o = F.linear(torch.sigmoid(gate) * torch.tanh(filt), w_out[i], b_out[i])
            res, sk = o.chunk(2, dim=-1)
            h = (h + res) * inv_sqrt2
            skip = skip + sk
        return skip * (1 / math.sqrt(self.layers))


class DiffWave(nn.Module):
    """``forward(x [B, 1, T], c_noise [B], cond=None) -> [B, 1, T]``."""

    def __init__(
        self,
        residual_layers: int = 30,
        residual_channels: int = 64,
        dilation_cycle: int = 10,
        embed_dim: int = 128,
        num_classes: int = 0,
        bf16: bool | None = None,
        local_channels: int = 0,
    ):
        super().__init__()
        c = residual_channels
        hidden = 4 * embed_dim
        self.bf16 = bf16
        self.input_proj = nn.Linear(1, c)
        self.noise_embed = NoiseEmbedding(embed_dim, hidden)
        self.cond_embed = ConditionEmbedding(hidden, num_classes=num_classes)
        self.stack = ResidualStack(residual_layers, c, dilation_cycle, hidden, local_channels)
        self.skip_proj = nn.Linear(c, c)
        self.output_proj = nn.Linear(c, 1)
        nn.init.zeros_(self.output_proj.weight)  # start as the zero function, as DiffWave
        nn.init.zeros_(self.output_proj.bias)

    def forward(self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None, mask: Any = None):
        emb = F.silu(self.cond_embed(cond, x.shape[0], x.device) + self._noise(x, c_noise))
        return self.trunk(x, emb)

    def _noise(self, x: Tensor, c_noise: Tensor) -> Tensor:
        return self.noise_embed(c_noise.to(x.device).reshape(x.shape[0]))

    def trunk(self, x: Tensor, emb: Tensor, local: Tensor | None = None) -> Tensor:
        """The residual stack and output layers given the (noise + class) embedding ``emb``
        and, for a vocoder, the local condition ``[B, T, local_channels]``."""
        h = F.relu(self.input_proj(x.float().transpose(1, 2)))  # [B, T, C]
        kind = x.device.type
        follow = autocast_bf16(kind) if kind in ("cpu", "cuda") else False
        use_bf16 = follow if self.bf16 is None else (self.bf16 and kind in ("cpu", "cuda"))
        dtype = torch.bfloat16 if use_bf16 else torch.float32
        skip = self.stack(h, emb, dtype, local)
        out = self.output_proj(F.relu(self.skip_proj(skip)))
        return out.transpose(1, 2).to(x.dtype)


def build_diffwave(info: dict[str, Any], **params: Any) -> DiffWave:
    if list(info["shape"])[:1] != [1]:
        raise ValueError(f"diffwave expects mono state [1, T], got {info['shape']}")
    params.setdefault("num_classes", int(info.get("num_classes", 0)))
    return DiffWave(**params)

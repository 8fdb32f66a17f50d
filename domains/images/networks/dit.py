"""DiT (Peebles & Xie 2023): a transformer denoiser over image patches.

The image is cut into ``patch × patch`` patches, each a token with a fixed 2-D sine-cosine
position; every block conditions on one vector ``c`` = noise embedding + class embedding
through adaLN-Zero: the block's LayerNorms have no affine of their own, ``c`` gives a shift,
a scale and a gate for the attention and the MLP branch, and the projection that makes them
starts at zero, so every block starts as the identity and the output layer starts at zero
(the paper's best conditioning). The blocks and the output head are the engine's
(``multigen.nn``), shared with the point-cloud set transformer. Sizes follow the paper's
Table 1; ``tiny`` is ours, for CPU.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from multigen.domain import DomainError
from multigen.nn import AdaLNZeroBlock, AdaLNZeroHead, ConditionEmbedding, NoiseEmbedding
from multigen.text import TextConditioning

from . import build_square

# name -> (width, depth, heads); S, B, L, XL as in the paper (33M, 130M, 458M, 675M at /2)
SIZES = {
    "tiny": (128, 4, 4),
    "S": (384, 12, 6),
    "B": (768, 12, 12),
    "L": (1024, 24, 16),
    "XL": (1152, 28, 16),
}


def sincos_positions(width: int, grid: int) -> Tensor:
    """Fixed 2-D sine-cosine embedding ``[grid², width]``: half the channels encode the row,
    half the column, each with the 1-D transformer frequencies."""
    if width % 4:
        raise DomainError(f"dit: width {width} must be a multiple of 4 (2-D sin-cos positions)")
    quarter = width // 4
    freqs = 1.0 / 10_000 ** (torch.arange(quarter, dtype=torch.float64) / quarter)
    coords = torch.arange(grid, dtype=torch.float64)
    rows, cols = torch.meshgrid(coords, coords, indexing="ij")

    def embed(pos: Tensor) -> Tensor:
        angles = pos.reshape(-1, 1) * freqs
        return torch.cat([angles.sin(), angles.cos()], dim=1)

    return torch.cat([embed(rows), embed(cols)], dim=1).float()


class DiT(nn.Module):
    """Denoiser ``forward(x [B,C,H,W], c_noise, cond) -> [B,C,H,W]`` (the engine's contract)."""

    def __init__(
        self,
        in_channels: int,
        resolution: int,
        num_classes: int = 0,
        cond_dim: int = 0,
        size: str = "tiny",
        patch: int = 2,
        width: int | None = None,
        depth: int | None = None,
        heads: int | None = None,
        mlp_ratio: float = 4.0,
        text: dict | None = None,
        text_width: int = 64,
        text_depth: int = 2,
    ):
        super().__init__()
        if size not in SIZES:
            raise DomainError(f"dit: unknown size {size!r}; choose one of {', '.join(SIZES)}")
        base = SIZES[size]
        width, depth, heads = width or base[0], depth or base[1], heads or base[2]
        if patch < 1 or resolution % patch:
            raise DomainError(f"dit: image size {resolution} is not divisible by patch {patch}")
        if width % heads:
            raise DomainError(f"dit: width {width} is not divisible by heads {heads}")
        self.in_channels, self.patch, self.grid = in_channels, patch, resolution // patch
        self.embed = nn.Conv2d(in_channels, width, patch, stride=patch)
        self.register_buffer("pos", sincos_positions(width, self.grid), persistent=False)
        self.noise_emb = NoiseEmbedding(256, width)  # 256 frequencies -> width, as DiT's
        self.cond_emb = ConditionEmbedding(width, num_classes, cond_dim)
        # captions: pooled into c, and every block cross-attends to the tokens
        self.text = TextConditioning(text, width, text_width, text_depth) if text else None
        context = text_width if text else 0
        self.blocks = nn.ModuleList(
            AdaLNZeroBlock(width, heads, mlp_ratio, context) for _ in range(depth)
        )
        self.head = AdaLNZeroHead(width, patch * patch * in_channels)  # starts at zero output
        self.register_load_state_dict_pre_hook(_rename_old_head)

    def forward(
        self, x: Tensor, c_noise: Tensor, cond: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        b = x.shape[0]
        c_noise = c_noise.reshape(-1).expand(b) if c_noise.numel() == 1 else c_noise.reshape(b)
        c = self.noise_emb(c_noise) + self.cond_emb(cond, b, x.device)
        text = None
        if self.text is not None:
            pooled, text = self.text(cond, b, x.device)
            c = c + pooled
        h = self.embed(x).flatten(2).transpose(1, 2) + self.pos.to(x.dtype)
        for block in self.blocks:
            h = block(h, c, text=text)
        return self.unpatchify(self.head(h, c))

    def unpatchify(self, h: Tensor) -> Tensor:
        """Tokens ``[B, g·g, p·p·C]`` (row-major over the patch grid, as the patch embedding
        orders them) -> image ``[B, C, g·p, g·p]``."""
        p, g, c = self.patch, self.grid, self.in_channels
        h = h.reshape(h.shape[0], g, g, p, p, c).permute(0, 5, 1, 3, 2, 4)
        return h.reshape(h.shape[0], c, g * p, g * p)


# before the blocks moved to multigen.nn (issue 17) the head's layers sat on the DiT itself
_OLD_HEAD = {"ada_out.": "head.ada.", "out.": "head.out."}


def _rename_old_head(module, state_dict, prefix, *args) -> None:
    """Let weights saved with the old names (``ada_out.*``, ``out.*``) load into ``head``."""
    for old, new in _OLD_HEAD.items():
        for key in [k for k in state_dict if k.startswith(prefix + old)]:
            state_dict[prefix + new + key[len(prefix + old) :]] = state_dict.pop(key)


def build_dit(info: dict, **params) -> DiT:
    """Builder for ``model: {name: dit, params: {size: tiny|S|B|L|XL, patch: 2, ...}}``."""
    return build_square(DiT, "dit", info, params)

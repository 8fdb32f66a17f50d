"""Text conditioning: a word tokenizer fitted to a data set's captions and a small transformer
text encoder trained from scratch together with the denoiser (no pretrained weights can be
downloaded here), as in latent diffusion's text-to-image models but at CPU size.

A caption travels as the batch's condition: token ids ``[B, L]`` (long), 0 = padding. The
null (unconditional) caption is a row of -1, which :func:`multigen.nn.null_condition` and
:func:`~multigen.nn.drop_condition` already make for integer conditions, so condition dropout
and classifier-free guidance work on captions unchanged. A run's data description stores the
tokenizer under ``info["text"]`` (its vocabulary, caption length and a few example captions),
so sampling with ``--prompt`` needs nothing but the run.

The encoder returns per-token features (keys/values of the denoiser's cross-attention) and a
pooled vector (added to the noise embedding, like a class embedding).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from multigen.errors import DomainError

PAD = "<pad>"
_WORD = re.compile(r"[a-z]+|[0-9]+|[^\sa-z0-9]")


def words(caption: str) -> list[str]:
    """Lower-cased words, numbers and punctuation marks of a caption, in order."""
    return _WORD.findall(caption.lower())


@dataclass(frozen=True)
class Tokenizer:
    """Word-level tokenizer over a fixed vocabulary (``vocab[0]`` is the padding token)."""

    vocab: tuple[str, ...]
    max_len: int
    examples: tuple[str, ...] = ()  # captions sampled when no prompt is given

    @classmethod
    def fit(cls, captions: Iterable[str], examples: Sequence[str] = ()) -> Tokenizer:
        """The vocabulary and the longest caption of ``captions``."""
        split = [words(c) for c in captions]
        if not split or not any(split):
            raise DomainError("text: no captions to fit a tokenizer to")
        vocab = sorted({w for ws in split for w in ws})
        return cls((PAD, *vocab), max(len(ws) for ws in split), tuple(examples))

    @classmethod
    def from_info(cls, info: Mapping[str, Any]) -> Tokenizer:
        """The tokenizer a run's data description stores (``info["text"]``)."""
        spec = info.get("text")
        if not spec:
            raise DomainError(
                "this run was not trained on captions (its data has no text), so it takes no "
                "prompt; sample it without --prompt"
            )
        try:
            return cls(tuple(spec["vocab"]), int(spec["max_len"]), tuple(spec.get("examples", ())))
        except (KeyError, TypeError, ValueError) as exc:
            raise DomainError(f"the run's text description is malformed ({exc})") from None

    def to_info(self) -> dict[str, Any]:
        return {"vocab": list(self.vocab), "max_len": self.max_len, "examples": list(self.examples)}

    @property
    def size(self) -> int:
        return len(self.vocab)

    @functools.cached_property
    def index(self) -> dict[str, int]:
        """Word -> id (padding excluded: it is never a word of a prompt)."""
        return {w: i for i, w in enumerate(self.vocab) if i}

    def ids(self, caption: str) -> list[int]:
        """Token ids of one caption, padded to ``max_len``; words outside the vocabulary and
        captions too long are refused in one line."""
        ws = words(caption)
        unknown = [w for w in ws if w not in self.index]
        if unknown:
            known = " ".join(self.vocab[1:])
            raise DomainError(
                f"prompt {caption!r}: word(s) {unknown} are not in this run's vocabulary "
                f"({self.size - 1} words: {known})"
            )
        if not ws:
            raise DomainError("prompt: empty caption; give at least one word")
        if len(ws) > self.max_len:
            raise DomainError(
                f"prompt {caption!r}: {len(ws)} words, this run reads at most {self.max_len}"
            )
        return [self.index[w] for w in ws] + [0] * (self.max_len - len(ws))

    def encode(self, captions: Sequence[str]) -> Tensor:
        """Token ids ``[len(captions), max_len]`` (long)."""
        return torch.tensor([self.ids(c) for c in captions], dtype=torch.long)

    def decode(self, ids: Sequence[int] | Tensor) -> str:
        """The caption of one row of ids (padding dropped; a null row gives '')."""
        values = ids.tolist() if isinstance(ids, Tensor) else list(ids)
        return " ".join(self.vocab[i] for i in values if 0 < i < self.size)


def check_tokens(cond: Tensor, info: Mapping[str, Any]) -> None:
    """Refuse a condition that is not captions of the run described by ``info``."""
    tok = Tokenizer.from_info(info)
    if cond.is_floating_point() or cond.ndim != 2 or cond.shape[1] != tok.max_len:
        raise DomainError(
            f"cond: this run is conditioned on captions (token ids [n, {tok.max_len}]); "
            "pass prompts (--prompt / api.sample(prompt=...)) rather than labels"
        )
    if cond.numel() and (cond.max() >= tok.size or cond.min() < -1):
        raise DomainError(f"cond: token ids must be in -1..{tok.size - 1}")


class TextEncoder(nn.Module):
    """Token embedding + learned positions + a pre-norm transformer encoder.

    ``forward(ids [B, L]) -> (tokens [B, L, width], pad [B, L], pooled [B, width])``; ``pad``
    is True at padding, the pooled vector is the mean over real tokens. A null caption (a row
    of -1) reads as one learned "no caption" token.
    """

    def __init__(self, vocab_size: int, max_len: int, width: int, depth: int = 2, heads: int = 4):
        super().__init__()
        if width % heads:
            raise DomainError(f"text encoder: width {width} is not divisible by heads {heads}")
        self.vocab_size = vocab_size
        self.embed = nn.Embedding(vocab_size + 1, width)  # last row: the null caption
        self.pos = nn.Parameter(torch.randn(max_len, width) * 0.02)
        layer = nn.TransformerEncoderLayer(
            width, heads, 2 * width, dropout=0.0, activation="gelu", batch_first=True,
            norm_first=True,
        )  # fmt: skip
        self.encoder = nn.TransformerEncoder(layer, depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(width)

    def forward(self, ids: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        ids = ids.long()
        null = (ids < 0).all(-1, keepdim=True)
        ids = torch.where(ids < 0, torch.full_like(ids, self.vocab_size), ids)
        pad = ids == 0
        first = torch.zeros_like(pad)
        first[:, 0] = True
        pad = torch.where(null, ~first, pad) & ~first  # position 0 always attends
        h = self.embed(ids) + self.pos[: ids.shape[1]]
        h = self.norm(self.encoder(h, src_key_padding_mask=pad))
        keep = (~pad).unsqueeze(-1).to(h.dtype)
        pooled = (h * keep).sum(1) / keep.sum(1)
        return h, pad, pooled


class CrossAttention(nn.Module):
    """Tokens ``x [B, T, W]`` attend to text features ``context [B, L, Wc]`` (padding hidden),
    with a residual; the output projection starts at zero, so the layer starts as the identity."""

    def __init__(self, width: int, context_width: int, heads: int):
        super().__init__()
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.attn = nn.MultiheadAttention(
            width, heads, kdim=context_width, vdim=context_width, batch_first=True
        )
        nn.init.zeros_(self.attn.out_proj.weight)
        nn.init.zeros_(self.attn.out_proj.bias)

    def forward(self, x: Tensor, context: Tensor, pad: Tensor) -> Tensor:
        out = self.attn(self.norm(x), context, context, key_padding_mask=pad, need_weights=False)
        return x + out[0]


class TextConditioning(nn.Module):
    """What a denoiser needs from a caption: ``forward(ids) -> (pooled [B, dim], context, pad)``
    with the pooled vector projected to the network's embedding size ``dim``."""

    def __init__(
        self, text: Mapping[str, Any], dim: int, width: int = 64, depth: int = 2, heads: int = 4
    ):
        super().__init__()
        tok = Tokenizer.from_info({"text": text})
        self.width = width
        self.encoder = TextEncoder(tok.size, tok.max_len, width, depth, heads)
        self.pool = nn.Sequential(nn.Linear(width, dim), nn.SiLU(), nn.Linear(dim, dim))

    def forward(
        self, ids: Tensor | None, batch_size: int, device: torch.device
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``(pooled [B, dim], (tokens, pad))``; no ids = the null caption for every sample."""
        if ids is None:
            ids = torch.full((batch_size, self.encoder.pos.shape[0]), -1, device=device)
        tokens, pad, pooled = self.encoder(ids)
        return self.pool(pooled), (tokens, pad)

"""Drawing samples from a trained method, batch-size invariant: sample ``i`` of seed ``s``
uses generators seeded by ``s + i`` alone, whatever batch it lands in."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from multigen.config import SampleConfig
from multigen.domain import Batch, DataInfo, Domain
from multigen.methods import Method
from multigen.parts import PartsBatch, concat_parts
from multigen.precision import autocast
from multigen.randomness import sample_generators
from multigen.text import Tokenizer

TEMPLATE_SEED_OFFSET = 0x5EED  # template draws (e.g. atom counts) use their own stream


def pad_cat(tensors: Sequence[Tensor | None]) -> Tensor | None:
    """Concatenate along dim 0, zero-padding dim 1 (set size) to the largest one."""
    if tensors[0] is None:
        return None
    if tensors[0].ndim < 2:
        return torch.cat(list(tensors))
    n = max(t.shape[1] for t in tensors)
    padded = []
    for t in tensors:
        pad = [0, 0] * (t.ndim - 2) + [0, n - t.shape[1]]
        padded.append(F.pad(t, pad))
    return torch.cat(padded)


def concat_batches(batches: Sequence[Batch]) -> Batch:
    x = pad_cat([b.x for b in batches])
    mask, cond = pad_cat([b.mask for b in batches]), pad_cat([b.cond for b in batches])
    parts = concat_parts(batches, x.shape[1]) if x.ndim > 1 else None
    return Batch(x, mask, cond) if parts is None else PartsBatch(x, mask, cond, parts)


def default_condition(info: DataInfo, seeds: Sequence[int]) -> Tensor | None:
    """Class-conditional models without a requested class cycle through the classes;
    caption-conditioned ones through the example captions their data description keeps."""
    classes = info.num_classes
    if classes:
        return torch.tensor([s % classes for s in seeds])
    if info.extra.get("text"):
        tok = Tokenizer.from_info(info)
        if tok.examples:
            return tok.encode([tok.examples[s % len(tok.examples)] for s in seeds])
    return None


@torch.no_grad()
def generate(
    method: Method,
    models: dict[str, nn.Module],
    domain: Domain,
    info: dict[str, Any],
    n: int,
    options: SampleConfig,
    device: torch.device,
    precision: str = "fp32",
    cond: Tensor | None = None,
    conditional: bool = True,
    progress: Callable[[int], None] | None = None,
) -> Batch:
    """``n`` samples in network scale (call ``domain.decode`` for objects).

    ``progress(done)`` is called after each batch with the number of samples drawn so far."""
    if n < 1:
        raise ValueError(f"the number of samples must be at least 1 (got {n})")
    info = DataInfo.of(info)
    for m in models.values():
        m.eval()
    if options.compile:
        models = {k: torch.compile(m) for k, m in models.items()}
    seeds = [options.seed + i for i in range(n)]
    if cond is None and conditional:
        cond = default_condition(info, seeds)
    out = []
    for start in range(0, n, options.batch_size):
        chunk = seeds[start : start + options.batch_size]
        parts = []
        for j, s in enumerate(chunk):
            g = torch.Generator().manual_seed(s + TEMPLATE_SEED_OFFSET)
            c = None if cond is None else cond[start + j : start + j + 1]
            parts.append(domain.template(info, 1, g, cond=c, device="cpu"))
        template = concat_batches(parts).to(device)
        gens = sample_generators(chunk)
        with autocast(device, precision):
            out.append(method.sample(models, template, gens, options).to("cpu"))
        if progress is not None:
            progress(min(start + options.batch_size, n))
    return concat_batches(out)

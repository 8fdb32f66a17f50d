"""Classifier-free guidance (Ho & Salimans 2022) as a wrapper around a denoiser."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from multigen.nn import null_condition

DenoiserFn = Callable[[Tensor, Tensor, Tensor | None, Tensor | None], Tensor]


def guided(denoise: DenoiserFn, weight: float) -> DenoiserFn:
    """D_w = D(x, ∅) + w·(D(x, c) - D(x, ∅)); w = 1 is the plain conditional model.

    Conditional and unconditional halves go through the network as one batch.
    """
    if weight == 1.0:
        return denoise

    def wrapped(x: Tensor, sigma: Tensor, cond: Tensor | None, mask: Tensor | None) -> Tensor:
        if cond is None:
            return denoise(x, sigma, cond, mask)
        both = denoise(
            torch.cat([x, x]),
            torch.cat([sigma, sigma]),
            torch.cat([cond, null_condition(cond)]),
            None if mask is None else torch.cat([mask, mask]),
        )
        cond_out, uncond_out = both.chunk(2)
        return uncond_out + weight * (cond_out - uncond_out)

    return wrapped

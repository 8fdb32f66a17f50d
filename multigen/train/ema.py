"""Exponential moving average of a network's weights, with warm-up.

Without warm-up an average with decay β still holds β^k of the random initialisation after
k updates (74 % after 300 steps at β = 0.999), so a short run's EMA samples noise while its
raw weights already work. With warm-up the decay at update k (0-based) is
``min(β, (1 + k) / (10 + k))`` — the schedule of TensorFlow's ExponentialMovingAverage with
``num_updates`` and of diffusers' EMAModel — so the initialisation's share after k updates
is ∏ (1 + j)/(10 + j) = 9!·k!/(k + 9)!, below 1e-9 after 100 updates, and the average
spans roughly the last k/10 updates until β takes over.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


def ema_decay(beta: float, update: int, warmup: bool = True) -> float:
    """The decay used at 0-based update ``update``."""
    if not warmup:
        return beta
    return min(beta, (1 + update) / (10 + update))


class EMA:
    """An averaged copy of ``module`` (parameters averaged, buffers copied)."""

    def __init__(self, module: nn.Module, beta: float, warmup: bool = True):
        self.beta, self.warmup = beta, warmup
        self.module = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module, update: int) -> None:
        """Fold in ``module``'s weights as the ``update``-th (0-based) update."""
        decay = ema_decay(self.beta, update, self.warmup)
        ema_p = list(self.module.parameters())
        src_p = list(module.parameters())
        torch._foreach_lerp_(ema_p, src_p, 1 - decay)
        for eb, sb in zip(self.module.buffers(), module.buffers()):
            eb.copy_(sb)

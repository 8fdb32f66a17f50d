"""GAN losses and regularisers, as functions of discriminator logits.

Conventions: ``d_real``/``d_fake`` are [B] logits (critic values for WGAN). Each loss returns
a per-sample tensor; the caller averages.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

GAN_LOSSES = ("non_saturating", "hinge", "wgan_gp", "least_squares")


def d_loss(kind: str, d_real: Tensor, d_fake: Tensor) -> Tensor:
    if kind == "non_saturating":
        # -log σ(D(x)) - log(1 - σ(D(G(z))))
        return F.softplus(-d_real) + F.softplus(d_fake)
    if kind == "hinge":
        return F.relu(1 - d_real) + F.relu(1 + d_fake)
    if kind == "wgan_gp":
        return d_fake - d_real
    if kind == "least_squares":  # LSGAN (Mao et al. 2017), a-b-c = 0-1-1: (D(x)-1)² + D(G(z))²
        return (d_real - 1).square() + d_fake.square()
    raise ValueError(f"unknown GAN loss {kind!r}; choose one of: {', '.join(GAN_LOSSES)}")


def g_loss(kind: str, d_fake: Tensor) -> Tensor:
    if kind == "non_saturating":
        return F.softplus(-d_fake)  # -log σ(D(G(z)))
    if kind in ("hinge", "wgan_gp"):
        return -d_fake
    if kind == "least_squares":
        return (d_fake - 1).square()
    raise ValueError(f"unknown GAN loss {kind!r}; choose one of: {', '.join(GAN_LOSSES)}")


def _grad_norm2(outputs: Tensor, inputs: Tensor) -> Tensor:
    (grad,) = torch.autograd.grad(outputs.sum(), inputs, create_graph=True)
    return grad.flatten(1).pow(2).sum(1)


def r1_penalty(disc: Callable[[Tensor], Tensor], real: Tensor) -> Tensor:
    """R1 (Mescheder et al. 2018): ‖∇_x D(x)‖² on real data, per sample."""
    real = real.detach().requires_grad_(True)
    return _grad_norm2(disc(real), real)


def gradient_penalty(
    disc: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor, u: Tensor
) -> Tensor:
    """WGAN-GP (Gulrajani et al. 2017): (‖∇D(x̂)‖ - 1)² at x̂ = u·real + (1-u)·fake."""
    u = u.reshape((-1,) + (1,) * (real.ndim - 1))
    mix = (u * real.detach() + (1 - u) * fake.detach()).requires_grad_(True)
    return (_grad_norm2(disc(mix), mix).add(1e-12).sqrt() - 1) ** 2

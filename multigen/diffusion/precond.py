"""Parameterisations: every network becomes one denoiser D(x, σ, cond) -> x̂0.

With x = x0 + σ·n (VE form), a parameterisation is four coefficients (Karras et al. 2022,
Table 1): D(x, σ) = c_skip(σ)·x + c_out(σ)·F(c_in(σ)·x, c_noise(σ)). ε-, v-, x0-prediction,
EDM preconditioning and flow velocity differ only in these coefficients, so the training
target is the same expression for all of them: F_target = (x0 - c_skip·x) / c_out.

c_noise is put on one common scale (roughly 0..1000, as a DDPM step index) so every
network's sinusoidal noise embedding sees the same range whatever the method.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from multigen.diffusion.schedules import sigma_to_index


@dataclass
class Coefficients:
    c_skip: Tensor
    c_out: Tensor
    c_in: Tensor
    c_noise: Tensor  # [B]


class Parameterization:
    """Maps σ (shape [B]) to the coefficients; subclasses implement :meth:`coefficients`."""

    name = "base"

    def coefficients(self, sigma: Tensor) -> Coefficients:
        raise NotImplementedError


class EDMPrecond(Parameterization):
    """Karras et al. (2022): unit-variance network input and target for data std σ_data."""

    name = "edm"

    def __init__(self, sigma_data: float):
        self.sigma_data = sigma_data

    def coefficients(self, sigma: Tensor) -> Coefficients:
        sd2 = self.sigma_data**2
        total = sigma**2 + sd2
        return Coefficients(
            c_skip=sd2 / total,
            c_out=sigma * self.sigma_data / total.sqrt(),
            c_in=1 / total.sqrt(),
            # EDM's c_noise = ln(σ)/4, times 1000 for the shared embedding scale.
            c_noise=250.0 * sigma.log(),
        )


class VPPrecond(Parameterization):
    """DDPM-family prediction of ε, v or x0 on a discrete VP schedule.

    The network sees the VP-scaled input x/sqrt(1+σ²) and the (interpolated) step index.
    """

    def __init__(self, prediction: str, sigma_table: Tensor):
        if prediction not in ("eps", "v", "x0"):
            raise ValueError(f"unknown prediction {prediction!r}; choose eps, v or x0")
        self.name = prediction
        self.prediction = prediction
        self.sigma_table = sigma_table.double()

    def coefficients(self, sigma: Tensor) -> Coefficients:
        c_in = 1 / (1 + sigma**2).sqrt()
        one, zero = torch.ones_like(sigma), torch.zeros_like(sigma)
        if self.prediction == "eps":
            c_skip, c_out = one, -sigma
        elif self.prediction == "v":
            c_skip, c_out = 1 / (1 + sigma**2), -sigma * c_in
        else:
            c_skip, c_out = zero, one
        index = sigma_to_index(sigma, self.sigma_table).to(sigma.dtype)
        # Scale the index to 0..1000 whatever T is, so networks see the same range.
        c_noise = index * (1000.0 / self.sigma_table.shape[0])
        return Coefficients(c_skip, c_out, c_in, c_noise)


class FlowPrecond(Parameterization):
    """Rectified flow: x_t = (1-t)·x0 + t·ε = x/(1+σ) with t = σ/(1+σ); network predicts ε - x0."""

    name = "flow"

    def coefficients(self, sigma: Tensor) -> Coefficients:
        s = 1 / (1 + sigma)  # 1 - t
        t = sigma * s
        return Coefficients(c_skip=s, c_out=-t, c_in=s, c_noise=1000.0 * t)


def _append_dims(v: Tensor, ndim: int) -> Tensor:
    return v.reshape(v.shape + (1,) * (ndim - v.ndim))


class Denoiser(nn.Module):
    """Wraps a network F(x, c_noise, cond, mask) into D(x, σ, cond, mask) -> x̂0."""

    def __init__(self, net: nn.Module, param: Parameterization):
        super().__init__()
        self.net = net
        self.param = param

    def coefficients(self, sigma: Tensor, ndim: int) -> Coefficients:
        c = self.param.coefficients(sigma.float())
        return Coefficients(
            *(_append_dims(v, ndim) for v in (c.c_skip, c.c_out, c.c_in)), c_noise=c.c_noise
        )

    def forward(
        self, x: Tensor, sigma: Tensor, cond: Tensor | None = None, mask: Tensor | None = None
    ) -> Tensor:
        c = self.coefficients(sigma, x.ndim)
        x = x.float()
        out = self.net(c.c_in * x, c.c_noise, cond, mask)
        return c.c_skip * x + c.c_out * out.float()

    def loss(
        self,
        x0: Tensor,
        noise: Tensor,
        sigma: Tensor,
        cond: Tensor | None = None,
        mask: Tensor | None = None,
    ) -> Tensor:
        """Per-sample MSE between F and its target (the ε-, v-, velocity- or EDM-loss).

        The target is formed from x0 and n separately, not as (x0 - c_skip·x)/c_out, so small
        σ does not lose the noise to cancellation.
        """
        c = self.coefficients(sigma, x0.ndim)
        sig = _append_dims(sigma.float(), x0.ndim)
        x = x0 + sig * noise
        target = ((1 - c.c_skip) * x0 - c.c_skip * sig * noise) / c.c_out
        out = self.net(c.c_in * x, c.c_noise, cond, mask).float()
        err = (out - target) ** 2
        return masked_mean(err, mask)


def masked_mean(err: Tensor, mask: Tensor | None) -> Tensor:
    """Mean over all but the batch dim, counting only real (mask = 1) elements."""
    dims = tuple(range(1, err.ndim))
    if mask is None:
        return err.mean(dim=dims)
    m = _append_dims(mask.to(err.dtype), err.ndim).expand_as(err)
    return (err * m).sum(dim=dims) / m.sum(dim=dims).clamp(min=1)

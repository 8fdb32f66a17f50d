"""Style-space pieces of StyleGAN2 (Karras et al. 2020a) the engine applies to any generator
that has a mapping network: truncation, style mixing, path-length regularisation and the
optimiser correction for lazily computed regularisers.

A generator opts in by subclassing :class:`StyleGenerator`: ``mapping(latent, cond)`` gives
per-layer styles ``ws [B, num_ws, w_dim]`` and ``synthesis(ws, latent)`` draws the image (the
latent may carry more than the mapping's input, e.g. per-pixel noise maps, so a sample stays
a function of its own seed). Everything here is domain-free: ``x`` is any ``[B, ...]`` tensor.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn

from multigen.domain import DomainError
from multigen.nn import Generator


class StyleGenerator(Generator):
    """A generator with a mapping network: ``forward = synthesis(mapping(latent, cond), latent)``.

    Subclasses set ``num_ws`` and ``w_dim`` and keep ``w_avg`` (a ``[w_dim]`` buffer: the
    running mean of the mapping's output during training, the centre of truncation)."""

    num_ws: int
    w_dim: int
    w_avg: Tensor

    def mapping(self, latent: Tensor, cond: Tensor | None = None) -> Tensor:
        raise NotImplementedError

    def synthesis(self, ws: Tensor, latent: Tensor) -> Tensor:
        raise NotImplementedError

    def forward(self, z: Tensor, cond: Tensor | None = None, mask: Tensor | None = None) -> Tensor:
        return self.synthesis(self.mapping(z, cond), z)


STYLE_OPTIONS = ("truncation", "style_mixing")


def require_style(generator: nn.Module | None, option: str, what: str) -> StyleGenerator:
    """``generator`` if it has a mapping network, else one line saying the option needs one."""
    if isinstance(generator, StyleGenerator):
        return generator
    has = f"generator {what} has none" if generator is not None else f"{what} has no generator"
    raise DomainError(
        f"{option} needs a generator with a mapping network (stylegan2_generator); {has}"
    )


def truncate(ws: Tensor, w_avg: Tensor, psi: float, cutoff: int | None = None) -> Tensor:
    """The truncation trick: ``w_avg + ψ·(w - w_avg)`` on the first ``cutoff`` layers (all
    when None); ψ = 1 leaves ws as they are, ψ = 0 gives ``w_avg`` everywhere."""
    if psi == 1:
        return ws
    out = w_avg.to(ws.dtype).lerp(ws, psi)
    if cutoff is None or cutoff >= ws.shape[1]:
        return out
    return torch.cat([out[:, :cutoff], ws[:, cutoff:]], dim=1)


def mix_styles(ws: Tensor, ws2: Tensor, cutoff: Tensor) -> Tensor:
    """Style mixing: layers ``>= cutoff[i]`` of sample ``i`` take their styles from ``ws2``
    (``cutoff = num_ws``: no mixing)."""
    layer = torch.arange(ws.shape[1], device=ws.device)
    use2 = layer[None, :] >= cutoff.to(ws.device)[:, None]
    return torch.where(use2[..., None], ws2, ws)


def mixing_cutoffs(u_mix: Tensor, u_layer: Tensor, num_ws: int, prob: float) -> Tensor:
    """Per-sample crossover layers from two uniforms in [0, 1): with probability ``prob`` a
    layer drawn uniformly from 1..num_ws-1, else ``num_ws`` (no mixing)."""
    drawn = 1 + (u_layer * (num_ws - 1)).long().clamp(max=num_ws - 2)
    return torch.where(u_mix < prob, drawn, torch.full_like(drawn, num_ws))


def path_lengths(synthesis: Callable[[Tensor], Tensor], ws: Tensor, y: Tensor) -> Tensor:
    """‖J_wᵀ y‖ per sample (StyleGAN2's path length): the gradient of ⟨g(w), y⟩ with respect
    to ws, squared and summed over ``w_dim``, averaged over layers, square-rooted. ``y`` is
    the random image direction (N(0, I)/√(pixels) in the paper); the graph is kept so the
    penalty trains. ``ws`` must be part of the graph (requires grad)."""
    x = synthesis(ws)
    (grad,) = torch.autograd.grad((x.float() * y).sum(), ws, create_graph=True)
    return grad.float().square().sum(2).mean(1).sqrt()


def pl_direction(shape: tuple[int, ...], normal: Tensor) -> Tensor:
    """The paper's ``y``: a standard normal ``normal`` [B, *shape] scaled by 1/√(positions)
    (H·W for [C, H, W] images; the whole state otherwise), so the expected length does not
    grow with the resolution."""
    positions = math.prod(shape[1:]) if len(shape) > 1 else math.prod(shape)
    return normal / math.sqrt(positions)


class PathLengthMean(nn.Module):
    """The running mean ``a`` of the path lengths the penalty (‖J_wᵀy‖ - a)² pulls towards;
    a buffer, so it is saved with the checkpoint."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros((), dtype=torch.float32))

    def update(self, lengths: Tensor, decay: float) -> Tensor:
        """The mean moved ``decay`` of the way to this batch's mean (StyleGAN2's pl_mean);
        stored only while training, so a timing probe in eval mode changes nothing."""
        mean = self.mean.lerp(lengths.detach().float().mean(), decay)
        if self.training:
            self.mean.copy_(mean)
        return mean


def lazy_adam(lr: float, betas: tuple[float, float], every: int) -> tuple[float, tuple]:
    """Adam's lr and betas for a network whose regulariser runs every ``every`` steps beside
    its main loss (Karras et al. 2020a, App. B): with c = k/(k+1), lr·c and β^c, so the two
    phases together move the weights as one combined step would (k = 1: every step has two
    optimiser steps, c = 1/2)."""
    c = every / (every + 1)
    return lr * c, (betas[0] ** c, betas[1] ** c)


def unwrap(module: nn.Module) -> nn.Module:
    """The module under a ``torch.compile`` wrapper."""
    return getattr(module, "_orig_mod", module)


@torch.no_grad()
def styled_sample(
    generator: nn.Module,
    template,
    generators,
    truncation: float | None,
    style_mixing: int | None,
    what: str,
) -> Tensor:
    """Samples with the truncation trick and/or style mixing at layer ``style_mixing`` (the
    second latent is the next draw from each sample's own generator)."""
    option = "truncation" if truncation is not None else "style_mixing"
    gen = require_style(unwrap(generator), option, what)
    latent = gen.sample_latent(template, generators)
    ws = gen.mapping(latent, template.cond)
    if style_mixing is not None:
        if not 1 <= style_mixing < gen.num_ws:
            raise DomainError(
                f"style_mixing {style_mixing}: generator {what} has {gen.num_ws} style layers; "
                f"choose a crossover layer from 1 to {gen.num_ws - 1}"
            )
        ws2 = gen.mapping(gen.sample_latent(template, generators), template.cond)
        cut = torch.full((ws.shape[0],), style_mixing, device=ws.device)
        ws = mix_styles(ws, ws2, cut)
    if truncation is not None:
        ws = truncate(ws, gen.w_avg, truncation)
    return gen.synthesis(ws, latent)


def check_style_options(models: dict[str, nn.Module], options, what: str) -> None:
    """Refuse sample options that need a mapping network when the run has none (one line)."""
    for option in STYLE_OPTIONS:
        if getattr(options, option, None) is not None:
            require_style(models.get("generator"), option, what)

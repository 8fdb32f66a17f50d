"""Adaptive discriminator augmentation (ADA, Karras et al. 2020b).

Every image the discriminator sees — real or generated, in every phase — passes through the
same random augmentation, applied to each sample with probability ``p`` per operation, so
the generator cannot learn the augmentations (they "leak" only when p approaches 1) while the
discriminator cannot memorise a small training set. ``p`` is tuned as training goes: every
``interval`` steps the overfitting heuristic r_t = E[sign(D(real))] over the steps since the
last update moves p up by (images seen)/(speed_kimg·1000) when r_t > target (D is too sure of
the reals) and down otherwise.

The operators take NCHW tensors (any channel count) and are differentiable with respect to
the images, so the engine stays domain-free; a domain whose states are not images simply does
not turn augmentation on. The pipeline is the paper's ``bgc`` subset, the one it found to
matter most: pixel blitting (x-flip, 90° rotations, integer translation), general geometric
transforms (isotropic scale, arbitrary rotation, anisotropic scale, fractional translation;
bilinear resampling with reflection padding instead of the paper's wavelet upsampling) and
colour (brightness, contrast, and saturation for 3-channel images); ``cutout`` is optional.
Random draws come from the per-sample generators the engine passes, so a run stays
reproducible and ``--resume`` continues exactly (p and the statistics are buffers, saved
with the checkpoint).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from multigen.randomness import rand, randn

BLIT = ("xflip", "rotate90", "xint")
GEOM = ("scale", "rotate", "aniso", "xfrac")
COLOR = ("brightness", "contrast", "saturation")
OPS = (*BLIT, *GEOM, *COLOR, "cutout")
PIPELINES = {"bgc": (*BLIT, *GEOM, *COLOR), "bg": (*BLIT, *GEOM), "b": BLIT, "bgc_cutout": OPS}

# the paper's strengths (stylegan2-ada-pytorch augment.py defaults)
XINT_MAX, SCALE_STD, ROTATE_MAX, ANISO_STD, XFRAC_STD = 0.125, 0.2, 1.0, 0.2, 0.125
BRIGHTNESS_STD, CONTRAST_STD, SATURATION_STD, CUTOUT_SIZE = 0.2, 0.5, 1.0, 0.5
N_UNIFORM, N_NORMAL = 24, 8  # draws per sample per call (fixed, so streams stay aligned)


def _eye(b: int, device, dtype=torch.float32) -> Tensor:
    return torch.eye(3, device=device, dtype=dtype).repeat(b, 1, 1)


def _translate(tx: Tensor, ty: Tensor) -> Tensor:
    m = _eye(tx.shape[0], tx.device)
    m[:, 0, 2], m[:, 1, 2] = tx, ty
    return m


def _scale(sx: Tensor, sy: Tensor) -> Tensor:
    m = _eye(sx.shape[0], sx.device)
    m[:, 0, 0], m[:, 1, 1] = sx, sy
    return m


def _rotate(theta: Tensor) -> Tensor:
    m = _eye(theta.shape[0], theta.device)
    c, s = torch.cos(theta), torch.sin(theta)
    m[:, 0, 0], m[:, 0, 1], m[:, 1, 0], m[:, 1, 1] = c, -s, s, c
    return m


def _gate(apply: Tensor, m: Tensor) -> Tensor:
    return torch.where(apply[:, None, None], m, _eye(m.shape[0], m.device))


def augment(
    x: Tensor, p: float, u: Tensor, n: Tensor, ops: Sequence[str] = PIPELINES["bgc"]
) -> Tensor:
    """``x`` [B, C, H, W] augmented: each operation in ``ops`` applied to each sample with
    probability ``p``; ``u`` [B, N_UNIFORM] uniforms and ``n`` [B, N_NORMAL] normals are the
    sample's random draws. p = 0 returns ``x`` itself. Differentiable with respect to x."""
    if x.ndim != 4:
        raise ValueError(f"augment expects NCHW images, got shape {tuple(x.shape)}")
    if p <= 0:
        return x
    unknown = sorted(set(ops) - set(OPS))
    if unknown:
        raise ValueError(f"unknown augmentation(s) {unknown}; choose from: {', '.join(OPS)}")
    b, c, h, w = x.shape
    dev = x.device
    u, n = u.to(dev, torch.float32), n.to(dev, torch.float32)
    on = ops.__contains__
    g = _eye(b, dev)  # output -> input coordinates, normalised to [-1, 1]
    if on("xflip"):
        flip = (u[:, 0] < p) & (u[:, 1] < 0.5)
        g = g @ _gate(flip, _scale(-torch.ones(b, device=dev), torch.ones(b, device=dev)))
    if on("rotate90"):
        k = (u[:, 3] * 4).floor().clamp(max=3)
        g = g @ _gate(u[:, 2] < p, _rotate(k * (math.pi / 2)).round())  # exact 0/±1
    if on("xint"):
        # whole pixels: 2/W of normalised width per pixel
        tx = ((u[:, 5] * 2 - 1) * XINT_MAX * w).round() * (2 / w)
        ty = ((u[:, 6] * 2 - 1) * XINT_MAX * h).round() * (2 / h)
        g = g @ _gate(u[:, 4] < p, _translate(tx, ty))
    if on("scale"):
        s = torch.exp2(n[:, 0] * SCALE_STD)
        g = g @ _gate(u[:, 7] < p, _scale(s, s))
    p_rot = 1 - math.sqrt(max(0.0, 1 - p))  # two rotations: P(any) = p
    if on("rotate"):
        g = g @ _gate(u[:, 8] < p_rot, _rotate((u[:, 9] * 2 - 1) * math.pi * ROTATE_MAX))
    if on("aniso"):
        s = torch.exp2(n[:, 1] * ANISO_STD)
        g = g @ _gate(u[:, 10] < p, _scale(s, 1 / s))
    if on("rotate"):
        g = g @ _gate(u[:, 11] < p_rot, _rotate((u[:, 12] * 2 - 1) * math.pi * ROTATE_MAX))
    if on("xfrac"):
        g = g @ _gate(u[:, 13] < p, _translate(n[:, 2] * XFRAC_STD * 2, n[:, 3] * XFRAC_STD * 2))
    out = x.float()
    moved = (g - _eye(b, dev)).abs().amax(dim=(1, 2)) > 1e-7
    if bool(moved.any()):
        grid = F.affine_grid(g[:, :2, :], list(out.shape), align_corners=False)
        warped = F.grid_sample(
            out, grid, mode="bilinear", padding_mode="reflection", align_corners=False
        )
        out = torch.where(moved[:, None, None, None], warped, out)
    one = torch.ones(b, device=dev)
    if on("brightness"):
        out = (
            out + torch.where(u[:, 14] < p, n[:, 4] * BRIGHTNESS_STD, 0 * one)[:, None, None, None]
        )
    if on("contrast"):  # around mid-grey (0 in [-1, 1] pixels)
        scale = torch.where(u[:, 15] < p, torch.exp2(n[:, 5] * CONTRAST_STD), one)
        out = out * scale[:, None, None, None]
    if on("saturation") and c == 3:
        luma = out.mean(1, keepdim=True)
        sat = torch.where(u[:, 16] < p, torch.exp2(n[:, 6] * SATURATION_STD), one)
        out = luma + (out - luma) * sat[:, None, None, None]
    if on("cutout"):
        ys = (torch.arange(h, device=dev) + 0.5) / h
        xs = (torch.arange(w, device=dev) + 0.5) / w
        inside = ((xs[None, None, :] - u[:, 18, None, None]).abs() < CUTOUT_SIZE / 2) & (
            (ys[None, :, None] - u[:, 19, None, None]).abs() < CUTOUT_SIZE / 2
        )
        cut = inside & (u[:, 17] < p)[:, None, None]
        out = out * (~cut)[:, None].to(out.dtype)
    return out.to(x.dtype)


class AdaptiveAugment(nn.Module):
    """The augmentation pipeline with its probability ``p`` and the r_t statistics as
    buffers. ``forward(x, generators)`` augments; ``observe(d_real)`` accumulates sign(D(real))
    while training; ``update()`` moves p (call it every ``interval`` steps).

    ``target`` None keeps p fixed at its initial value (plain differentiable augmentation)."""

    def __init__(
        self,
        pipeline: str = "bgc",
        p: float = 0.0,
        target: float | None = 0.6,
        interval: int = 4,
        speed_kimg: float = 500.0,
        p_max: float = 1.0,
    ):
        super().__init__()
        if pipeline not in PIPELINES:
            raise ValueError(
                f"unknown augment pipeline {pipeline!r}; choose one of {list(PIPELINES)}"
            )
        self.ops = PIPELINES[pipeline]
        self.target, self.interval, self.speed_kimg, self.p_max = (
            target,
            interval,
            speed_kimg,
            p_max,
        )
        self.register_buffer("p", torch.tensor(float(p), dtype=torch.float64))
        self.register_buffer("rt", torch.tensor(0.0, dtype=torch.float64))  # last r_t
        self.register_buffer("sign_sum", torch.tensor(0.0, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(0.0, dtype=torch.float64))

    @property
    def adaptive(self) -> bool:
        return self.target is not None

    def forward(self, x: Tensor, generators: Sequence[torch.Generator] | None = None) -> Tensor:
        p = float(self.p)
        if p <= 0:
            return x
        b = x.shape[0]
        if generators is None:
            u = torch.rand(b, N_UNIFORM, device=x.device)
            n = torch.randn(b, N_NORMAL, device=x.device)
        else:
            u, n = rand(generators, (N_UNIFORM,)), randn(generators, (N_NORMAL,))
        return augment(x, p, u, n, self.ops)

    @torch.no_grad()
    def observe(self, d_real: Tensor) -> None:
        """Accumulate sign(D(real)) of one step (ignored outside training, so a timing probe
        in eval mode changes nothing)."""
        if self.training and self.adaptive:
            self.sign_sum += torch.sign(d_real.detach().double()).sum()
            self.count += d_real.numel()

    @torch.no_grad()
    def update(self) -> None:
        """Move p from the statistics since the last update (summed over processes)."""
        if not (self.training and self.adaptive):
            return
        stats = torch.stack([self.sign_sum, self.count])
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.all_reduce(stats)
        total, count = stats.tolist()
        if count <= 0:
            return
        rt = total / count
        step = math.copysign(count / (self.speed_kimg * 1000), rt - self.target)
        if rt == self.target:
            step = 0.0
        self.p.copy_(torch.clamp(self.p + step, 0.0, self.p_max))
        self.rt.fill_(rt)
        self.sign_sum.zero_()
        self.count.zero_()

    def extra_repr(self) -> str:
        return f"ops={self.ops}, target={self.target}, interval={self.interval}"

"""Categorical flow matching for discrete parts of a state (Campbell et al. 2024; Gat et al.
2024), in the engine's time convention: ``t = 0`` is data, ``t = 1`` is the prior.

The path is the mixture ``p_t(x | x0) = (1 - t)·δ(x0) + t·π``: each variable keeps its data
class with probability ``1 - t`` and is otherwise redrawn from the prior ``π`` (the data's
marginal, as SemlaFlow and FlowMol use, or uniform). Its generating velocity towards the data
(Gat et al., mixture paths) is ``u(j | x) = (p̂(j) - δ_x(j)) / t`` with ``p̂ = p(x0 | x_t)`` the
network's posterior, so an Euler step from ``t`` to ``t - h`` draws the next class from
``(1 - h/t)·δ_x + (h/t)·p̂``; the last step (``h = t``) draws from ``p̂`` itself.

With ``masked`` (Campbell et al. 2024's masking path; FlowMol's CTMC), the prior is an extra
*mask* state instead: ``p_t(x | x0) = (1 - t)·δ(x0) + t·δ(M)``, state index ``classes``. A
masked variable unmasks at rate ``1/t`` (to a draw from p̂), an unmasked one keeps its class:
the network never sees a wrong class, only unknown ones.

``eta > 0`` adds Campbell et al.'s detailed-balance rates, which leave every conditional path
(and so the marginals) unchanged while letting the sampler revise decisions: mixture path
``R(x -> j) = η·[(1 - t)·p̂(j) + t·π(j)]`` (j ≠ x); masking path remasks at rate ``η`` and
unmasks at ``(1 + η·(1 - t))/t``.

A part is either per element (``[B, N]``, atom types) or per unordered pair (``[B, N, N]``,
bond orders): pair parts are drawn on ``i < j`` and mirrored, the diagonal is class 0.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from multigen.randomness import rand


@dataclass(frozen=True)
class CategoricalPart:
    """One categorical part of a state: ``classes`` values, a prior over them, its layout."""

    name: str
    prior: tuple[float, ...]  # π, sums to 1
    pairwise: bool = False  # [B, N, N] symmetric (True) or [B, N] (False)
    masked: bool = False  # the prior is a mask state (index ``classes``) instead of π

    @property
    def classes(self) -> int:
        return len(self.prior)

    @property
    def states(self) -> int:
        """Values the noisy state takes: the classes, plus the mask state when masked."""
        return self.classes + int(self.masked)

    def prior_tensor(self, device: torch.device | str = "cpu") -> Tensor:
        return torch.tensor(self.prior, dtype=torch.float64, device=device)

    @classmethod
    def from_info(cls, name: str, spec: Mapping[str, Any]) -> CategoricalPart:
        """From a data description entry ``{"prior": [...], "pairwise": bool}``."""
        prior = [float(p) for p in spec["prior"]]
        total = sum(prior)
        if not prior or total <= 0 or min(prior) < 0:
            raise ValueError(f"part {name!r}: prior must be non-negative weights, not all 0")
        return cls(name, tuple(p / total for p in prior), bool(spec.get("pairwise", False)))


def marginal_prior(counts: Tensor, floor: float = 1e-3) -> tuple[float, ...]:
    """Class frequencies with a small floor, so every class stays reachable from the prior."""
    p = counts.double().clamp(min=0) / counts.double().sum().clamp(min=1)
    p = (p + floor) / (1 + floor * len(p))
    return tuple(float(v) for v in p)


def element_mask(part: CategoricalPart, mask: Tensor) -> Tensor:
    """Which entries of the part are real variables: real elements; for pairs, i < j of
    real elements (the lower triangle mirrors the upper one)."""
    m = mask.bool()
    if not part.pairwise:
        return m
    n = m.shape[1]
    upper = torch.ones(n, n, dtype=torch.bool, device=m.device).triu(1)
    return m[:, :, None] & m[:, None, :] & upper


def symmetrize(x: Tensor) -> Tensor:
    """Mirror the strict upper triangle of ``[B, N, N]`` classes; diagonal 0."""
    up = x.triu(1)
    return up + up.transpose(1, 2)


def _draw(probs: Tensor, u: Tensor) -> Tensor:
    """Inverse-CDF draw of one class per row of ``probs [..., K]`` from uniforms ``u [...]``."""
    cdf = probs.cumsum(-1)
    cdf = cdf / cdf[..., -1:].clamp(min=1e-12)
    return (u.unsqueeze(-1) > cdf).sum(-1).clamp(max=probs.shape[-1] - 1)


def _shape(part: CategoricalPart, n: int) -> tuple[int, ...]:
    return (n, n) if part.pairwise else (n,)


def _finish(part: CategoricalPart, x: Tensor, mask: Tensor) -> Tensor:
    """Zero outside the part's real variables, then mirror pair parts."""
    x = x * element_mask(part, mask)
    return symmetrize(x) if part.pairwise else x


def sample_prior(
    part: CategoricalPart, mask: Tensor, generators: Sequence[torch.Generator]
) -> Tensor:
    """Classes drawn from π, one generator per sample (batch-size invariant); the mask
    state everywhere for a masked part (the generators are advanced the same way)."""
    n = mask.shape[1]
    u = rand(generators, _shape(part, n), torch.float64).to(mask.device)
    if part.masked:
        return _finish(part, torch.full(u.shape, part.classes, device=mask.device), mask)
    x = _draw(part.prior_tensor(mask.device).expand(*u.shape, -1), u)
    return _finish(part, x, mask)


def interpolate(
    part: CategoricalPart,
    x0: Tensor,
    t: Tensor,
    mask: Tensor,
    generators: Sequence[torch.Generator],
) -> Tensor:
    """A draw of ``x_t ~ (1 - t)·δ(x0) + t·π`` per variable; ``t`` is ``[B]``."""
    n = mask.shape[1]
    shape = _shape(part, n)
    u_keep = rand(generators, shape, torch.float64).to(x0.device)
    noise = sample_prior(part, mask, generators)
    tt = t.to(x0.device, torch.float64).reshape(-1, *([1] * len(shape)))
    x = torch.where(u_keep < tt, noise, x0)
    return _finish(part, x, mask)


def marginal(part: CategoricalPart, x0: Tensor, t: Tensor) -> Tensor:
    """The closed-form ``p_t(· | x0) = (1 - t)·onehot(x0) + t·π``, ``[..., K]`` (masked:
    ``t·δ(M)`` instead of ``t·π``, ``[..., K + 1]``)."""
    onehot = torch.nn.functional.one_hot(x0.long(), part.states).double()
    tt = t.double().reshape(-1, *([1] * (x0.ndim - 1 + 1)))
    if part.masked:
        noise = torch.zeros(part.states, dtype=torch.float64, device=x0.device)
        noise[part.classes] = 1.0
    else:
        noise = part.prior_tensor(x0.device)
    return (1 - tt) * onehot + tt * noise


def velocity(x: Tensor, probs: Tensor, t: Tensor) -> Tensor:
    """Rates ``u(j | x) = (p̂(j) - δ_x(j)) / t`` of the mixture path, ``[..., K]``: off the
    current class non-negative, and summing to zero over ``j`` (a CTMC generator row)."""
    onehot = torch.nn.functional.one_hot(x.long(), probs.shape[-1]).to(probs.dtype)
    tt = t.to(probs.dtype).reshape(-1, *([1] * (probs.ndim - 1)))
    return (probs - onehot) / tt


def step_probs(
    x: Tensor,
    probs: Tensor,
    t: Tensor,
    t_next: Tensor,
    eta: float = 0.0,
    prior: Tensor | None = None,
) -> Tensor:
    """The distribution of the class after one Euler step from ``t`` to ``t_next < t``:
    ``δ_x + (t - t_next)·u(· | x) = (1 - h/t)·δ_x + (h/t)·p̂``; with ``eta`` (and the
    part's ``prior`` π) plus ``h·η·(q - δ_x)``, ``q = (1 - t)·p̂ + t·π`` (the
    detailed-balance rates, none on the last step)."""
    onehot = torch.nn.functional.one_hot(x.long(), probs.shape[-1]).to(probs.dtype)
    h = (t - t_next).to(probs.dtype).reshape(-1, *([1] * (probs.ndim - 1)))
    out = onehot + h * velocity(x, probs, t)
    if eta > 0:
        if prior is None:
            raise ValueError("step_probs: eta > 0 needs the part's prior")
        tt = t.to(probs.dtype).reshape(h.shape)
        q = (1 - tt) * probs + tt * prior.to(probs.dtype)
        out = out + (h * eta * (t_next > 0).to(probs.dtype).reshape(h.shape)) * (q - onehot)
    return out


def masked_step_probs(
    x: Tensor, probs: Tensor, t: Tensor, t_next: Tensor, eta: float = 0.0
) -> Tensor:
    """The masking path's Euler step, over ``K + 1`` states (``K`` = mask): a masked variable
    unmasks with probability ``h·(1 + η·(1 - t))/t`` (capped at 1) to a class drawn from
    p̂; an unmasked one is remasked with probability ``h·η`` (never on the last step)."""
    K = probs.shape[-1]
    h = (t - t_next).to(probs.dtype).reshape(-1, *([1] * (probs.ndim - 1)))
    tt = t.to(probs.dtype).reshape(h.shape)
    last = (t_next <= 0).to(probs.dtype).reshape(h.shape)
    unmask = (h * (1 + eta * (1 - tt)) / tt).clamp(max=1.0)
    unmask = torch.maximum(unmask, last)
    remask = (h * eta * (1 - last)).clamp(max=1.0)
    masked = (x == K).unsqueeze(-1).to(probs.dtype)
    onehot = torch.nn.functional.one_hot(x.long(), K + 1).to(probs.dtype)
    stay = onehot * (1 - masked * unmask - (1 - masked) * remask)
    into = torch.cat([probs * unmask, torch.zeros_like(probs[..., :1])], -1) * masked
    back = torch.zeros_like(onehot)
    back[..., K] = 1.0
    return stay + into + back * (1 - masked) * remask


def step(
    part: CategoricalPart,
    x: Tensor,
    probs: Tensor,
    t: Tensor,
    t_next: Tensor,
    mask: Tensor,
    generators: Sequence[torch.Generator],
    eta: float = 0.0,
) -> Tensor:
    """One sampling step of a part: draw from :func:`step_probs` (:func:`masked_step_probs`
    for a masked part), per sample generator."""
    if part.masked:
        p = masked_step_probs(x, probs.double(), t.double(), t_next.double(), eta)
    else:
        prior = part.prior_tensor(x.device)
        p = step_probs(x, probs.double(), t.double(), t_next.double(), eta, prior)
    p = p.clamp(min=0)
    u = rand(generators, _shape(part, mask.shape[1]), torch.float64).to(x.device)
    return _finish(part, _draw(p, u), mask)


def argmax(part: CategoricalPart, probs: Tensor, mask: Tensor, x: Tensor | None = None) -> Tensor:
    """The most likely class of every real variable (pair parts mirrored); for a masked part
    with its current state ``x``, only the masked variables take it (the others keep their
    class, as the masking path never changes an unmasked one)."""
    best = probs.argmax(-1)
    if part.masked and x is not None:
        best = torch.where(x == part.classes, best, x)
    return _finish(part, best, mask)


def posterior(prior: Tensor, data: Tensor, t: float) -> Tensor:
    """The exact ``p(x0 = j | x_t = k)`` ``[K, K]`` (rows k) for factorised data
    ``q = data``: the perfect denoiser, used to check samplers. ``∝ q_j·p_t(k | j)``."""
    K = len(prior)
    lik = (1 - t) * torch.eye(K, dtype=torch.float64) + t * prior[None, :]  # [j, k]
    joint = data[:, None] * lik
    return (joint / joint.sum(0, keepdim=True).clamp(min=1e-300)).T


def cross_entropy(part: CategoricalPart, logits: Tensor, x0: Tensor, mask: Tensor) -> Tensor:
    """Per-sample mean cross-entropy over the part's real variables, ``[B]``."""
    m = element_mask(part, mask).to(logits.dtype)
    ce = torch.nn.functional.cross_entropy(
        logits.float().movedim(-1, 1), x0.long(), reduction="none"
    )
    dims = tuple(range(1, ce.ndim))
    return (ce * m).sum(dims) / m.sum(dims).clamp(min=1)

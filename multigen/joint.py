"""Joint flow matching over a state with a continuous part and categorical parts.

The continuous part ``x`` follows the engine's flow path (``x_t = (1 - t)·x0 + t·ε``, the
:class:`~multigen.diffusion.processes.FlowProcess` draws t and gives the σ list sampling
walks, σ = t/(1 - t)); each categorical part follows the mixture path of
:mod:`multigen.diffusion.discrete` at the same t. One network reads the whole noisy state
and returns x̂0 for the continuous part and logits of p(x0 | x_t) for every categorical
part; training takes the x̂0 squared error plus the parts' cross-entropies.

The network's contract: ``net(x_t, t, parts_t, cond, mask) -> (x̂0, {part: logits})`` with
``parts_t`` class indices (``[B, N]`` or ``[B, N, N]``) and logits ``[..., classes]``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import torch
from torch import Tensor, nn

from multigen.config import SampleConfig
from multigen.diffusion import discrete
from multigen.diffusion import samplers as S
from multigen.diffusion.processes import FlowProcess
from multigen.domain import Batch, DomainError, expand_mask
from multigen.methods import Method, OptimizerSpec, Phase
from multigen.nn import drop_condition, null_condition
from multigen.parts import PartsBatch, with_parts
from multigen.randomness import rand

Prediction = tuple[Tensor, dict[str, Tensor]]


def state_parts(info) -> dict[str, discrete.CategoricalPart]:
    """The categorical parts a data description declares (``info["parts"]``)."""
    spec = info.get("parts") or {}
    try:
        return {k: discrete.CategoricalPart.from_info(k, v) for k, v in spec.items()}
    except (KeyError, TypeError, ValueError) as exc:
        raise DomainError(f"the data description's parts are malformed ({exc})") from None


def masked_mse(x0_hat: Tensor, x0: Tensor, mask: Tensor | None) -> Tensor:
    """Per-sample mean squared error over real elements, ``[B]``."""
    err = (x0_hat.float() - x0.float()) ** 2
    if mask is None:
        return err.flatten(1).mean(1)
    m = expand_mask(mask, err).expand_as(err)
    return (err * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp(min=1)


def coordinate_step(
    x: Tensor, x0: Tensor, t: float, t_next: float, churn: float = 0.0, z: Tensor | None = None
) -> Tensor:
    """One step of the coordinates from ``t`` to ``t_next < t`` given the prediction x̂0.

    ``churn`` γ = 0: Euler on the flow ODE dx/dt = (x - x̂0)/t. γ > 0: Euler–Maruyama on the
    reverse SDE with the same marginals, diffusion g² = 2γt: with ε̂ = (x - (1 - t)·x̂0)/t
    (score -ε̂/t), ``x - h·(ε̂ - x̂0) - h·γ·ε̂ + sqrt(2γ·t·h)·z``; the noise ``z`` (unit,
    in the state's noise space) lets the sampler forget an early error."""
    h = t - t_next
    eps = (x - (1 - t) * x0) / t
    out = x - h * (eps - x0)
    if churn > 0 and z is not None:
        out = out - h * churn * eps + (2 * churn * t * h) ** 0.5 * z
    return out


class JointFlow(Method):
    """``method.name: joint_flow`` (see the module docstring)."""

    ema_models = ("model",)
    default_sampler = "euler"

    def __post_init__(self) -> None:
        self.parts = state_parts(self.info)
        if self.config.categorical_prior == "masked":
            self.parts = {k: replace(p, masked=True) for k, p in self.parts.items()}
        if not self.parts:
            raise DomainError(
                "method joint_flow needs categorical parts in the data (molecules: "
                "data.params.graph: true)"
            )
        self.process = FlowProcess(self.config, self.info)
        params = dict(self.run.model.params)
        if self.config.self_condition:
            params["self_condition"] = True
        if self.config.categorical_prior == "masked":
            params["mask_token"] = True  # one more input state per part
        net = self.build_network("joint_denoiser", self.run.model.name, params)
        self.models = {"model": net}
        known = {"x", *self.parts}
        bad = sorted(set(self.config.loss_weights) - known)
        if bad:
            raise DomainError(
                f"method.loss_weights: unknown part(s) {bad}; parts: {', '.join(sorted(known))}"
            )
        bad = sorted(set(self.config.part_time) - set(self.parts))
        if bad:
            raise DomainError(
                f"method.part_time: unknown part(s) {bad}; parts: {', '.join(sorted(self.parts))}"
            )
        if any(not g > 0 for g in self.config.part_time.values()):
            raise DomainError(f"method.part_time: exponents must be > 0: {self.config.part_time}")

    def optimizers(self) -> dict[str, OptimizerSpec]:
        return {"model": OptimizerSpec(("model",), self.run.train.lr)}

    def weight(self, part: str) -> float:
        return float(self.config.loss_weights.get(part, 1.0))

    def x_weight(self, t: Tensor) -> Tensor:
        """The coordinates' loss weight per sample at time ``t`` (``method.x_weight``):
        1, or the velocity loss's 1/t² capped at ``x_weight_cap``
        (|v̂ - v|² = |x̂0 - x0|²/t² on the path x_t = (1 - t)·x0 + t·ε)."""
        if self.config.x_weight == "velocity":
            return (1 / t.double() ** 2).clamp(max=self.config.x_weight_cap).float()
        return torch.ones_like(t, dtype=torch.float32)

    def part_t(self, part: str, t: Tensor) -> Tensor:
        """The noise level of categorical ``part`` at the coordinates' time ``t``."""
        g = float(self.config.part_time.get(part, 1.0))
        return t if g == 1.0 else t**g

    def call(self, net: nn.Module, x, t, parts, cond, mask, prev) -> Prediction:
        """The network, with the previous prediction when it self-conditions."""
        if self.config.self_condition:
            return net(x, t, parts, cond, mask, prev=prev)
        return net(x, t, parts, cond, mask)

    # ---- training ----------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        return [Phase("denoise", "model", self._loss)]

    def noisy(
        self, batch: Batch, t: Tensor, gens: Sequence[torch.Generator]
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """``(x_t, parts_t)``: every part noised at the sample's own t."""
        mask = self._mask(batch)
        noise = self.domain.noise(batch, gens)
        if self.config.ot_pairing:
            noise = self.domain.align(batch, noise)
        tx = t.to(batch.x.device, batch.x.dtype).reshape(-1, *([1] * (batch.x.ndim - 1)))
        x_t = (1 - tx) * batch.x + tx * noise
        parts_t = {
            k: discrete.interpolate(p, batch.parts[k], self.part_t(k, t), mask, gens)
            for k, p in self.parts.items()
        }
        return x_t, parts_t

    def _loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        if not isinstance(batch, PartsBatch) or set(batch.parts) != set(self.parts):
            raise DomainError(
                f"method joint_flow: the batch carries parts {sorted(getattr(batch, 'parts', {}))}"
                f", the run was described with {sorted(self.parts)}"
            )
        device = batch.x.device
        sigma = self.process.training_sigmas(gens).to(device)
        t = sigma / (1 + sigma)
        x_t, parts_t = self.noisy(batch, t, gens)
        cond = batch.cond
        if cond is not None and self.config.cond_drop > 0:
            cond = drop_condition(cond, self.config.cond_drop, uniform=rand(gens).to(device))
        net, prev = models["model"], None
        if self.config.self_condition and rand(gens[:1]).item() < 0.5:
            with torch.no_grad():  # half the steps learn to refine a first prediction
                x0_prev, logits_prev = self.call(
                    net, x_t, t.float(), parts_t, cond, batch.mask, None
                )
            prev = (x0_prev, {k: torch.softmax(v.float(), -1) for k, v in logits_prev.items()})
        x0_hat, logits = self.call(net, x_t, t.float(), parts_t, cond, batch.mask, prev)
        mask = self._mask(batch)
        loss = (
            self.weight("x") * self.x_weight(t).to(device) * masked_mse(x0_hat, batch.x, batch.mask)
        )
        for k, p in self.parts.items():
            loss = loss + self.weight(k) * discrete.cross_entropy(
                p, logits[k], batch.parts[k], mask
            )
        return loss.mean()

    # ---- sampling ----------------------------------------------------------------------
    def samplers(self) -> tuple[str, ...]:
        return ("euler",)

    def sampler(self, name: str) -> S.Sampler:
        if name != "euler":
            raise DomainError(f"method joint_flow samples with 'euler' only, not {name!r}")
        return S.get_sampler("euler")

    def times(self, steps: int) -> Tensor:
        """Descending t from t_max to 0 (the flow σ list as times)."""
        sigmas = self.process.sampling_sigmas(steps)
        return sigmas / (1 + sigmas)

    def predict(
        self,
        net: nn.Module,
        x: Tensor,
        t: float,
        parts: dict[str, Tensor],
        batch: Batch,
        w: float,
        prev: Prediction | None = None,
    ) -> tuple[Tensor, dict[str, Tensor]]:
        """x̂0 and per-part probabilities; classifier-free guidance with weight ``w``
        extrapolates x̂0 and the parts' log-probabilities from the unconditional ones.
        ``prev``: the previous step's (x̂0, probabilities) for a self-conditioning model."""
        B = x.shape[0]
        cond, mask = batch.cond, batch.mask
        guide = w != 1.0 and cond is not None
        if guide:
            x, parts = torch.cat([x, x]), {k: torch.cat([v, v]) for k, v in parts.items()}
            cond = torch.cat([cond, null_condition(cond)])
            mask = None if mask is None else torch.cat([mask, mask])
            if prev is not None:
                prev = (
                    torch.cat([prev[0], prev[0]]),
                    {k: torch.cat([v, v]) for k, v in prev[1].items()},
                )
        tt = torch.full((x.shape[0],), t, device=x.device, dtype=torch.float32)
        if prev is not None:
            prev = (prev[0].float(), {k: v.float() for k, v in prev[1].items()})
        x0, logits = self.call(net, x.float(), tt, parts, cond, mask, prev)
        logp = {k: torch.log_softmax(v.double(), -1) for k, v in logits.items()}
        x0 = x0.double()
        if guide:
            c, u = x0[:B], x0[B:]
            x0 = u + w * (c - u)
            logp = {k: v[B:] + w * (v[:B] - v[B:]) for k, v in logp.items()}
        return x0, {k: torch.softmax(v, -1) for k, v in logp.items()}

    def sample(
        self,
        models: dict[str, nn.Module],
        template: Batch,
        generators: Sequence[torch.Generator],
        options: SampleConfig,
        sigmas: Tensor | None = None,
    ) -> Batch:
        self.sampler(options.sampler or self.default_sampler)
        ts = self.times(options.steps) if sigmas is None else sigmas / (1 + sigmas)
        net, mask, B = models["model"], self._mask(template), len(template)
        x = ts[0].item() * S.as_float64(self.domain.noise(template, generators))
        parts = {k: discrete.sample_prior(p, mask, generators) for k, p in self.parts.items()}
        prev = None
        for t, t_next in zip(ts[:-1].tolist(), ts[1:].tolist()):
            x0, probs = self.predict(net, x, t, parts, template, options.guidance, prev)
            prev = (x0, probs) if self.config.self_condition else None
            z = None
            if self.config.x_churn > 0 and t_next > 0:
                z = S.as_float64(self.domain.noise(template, generators))
            x = coordinate_step(x, x0, t, t_next, self.config.x_churn, z)
            tb = torch.full((B,), t, dtype=torch.float64, device=x.device)
            tn = torch.full((B,), t_next, dtype=torch.float64, device=x.device)
            if t_next == 0 and self.config.final == "argmax":
                # Independent draws from p̂ over ~N² pairs leave about one wrong bond per
                # molecule even when p̂ is 99 % right: the last step takes the mode.
                parts = {
                    k: discrete.argmax(p, probs[k], mask, parts[k]) for k, p in self.parts.items()
                }
                continue
            parts = self.step_parts(parts, probs, tb, tn, mask, generators)
        return with_parts(template, x.float(), parts)

    def step_parts(
        self,
        parts: dict[str, Tensor],
        probs: dict[str, Tensor],
        t: Tensor,
        t_next: Tensor,
        mask: Tensor,
        generators: Sequence[torch.Generator],
    ) -> dict[str, Tensor]:
        """One categorical sampling step of every part from ``t`` to ``t_next`` (``[B]``)."""
        return {
            k: discrete.step(
                p,
                parts[k],
                probs[k],
                self.part_t(k, t),
                self.part_t(k, t_next),
                mask,
                generators,
                self.config.eta,
            )
            for k, p in self.parts.items()
        }

    @staticmethod
    def _mask(batch: Batch) -> Tensor:
        if batch.mask is None:
            return torch.ones(batch.x.shape[:2], dtype=torch.bool, device=batch.x.device)
        return batch.mask.bool()

"""``method.name: consistency``: consistency distillation (CD) from a trained diffusion or
flow run of the suite, and consistency training (CT) from scratch, sampled in one or a few
network calls. The mathematics is in :mod:`multigen.diffusion.consistency`; the σ levels,
the boundary-conditioned denoiser and the sampler record in
:class:`~multigen.diffusion.processes.ConsistencyProcess`.

The teacher (a run folder or ``zoo:NAME``) is loaded when training starts
(:meth:`Consistency.prepare_training`), never when a finished run is loaded for sampling:
a distilled run does not need its teacher any more.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
from torch import Tensor, nn

from multigen.diffusion import consistency as C
from multigen.diffusion.guidance import guided
from multigen.diffusion.precond import EDMPrecond
from multigen.domain import Batch, DomainError
from multigen.methods import DiffusionFamily, Phase
from multigen.nn import drop_condition
from multigen.randomness import rand

SIGMA_TOLERANCE = 0.01  # relative slack when the student's σ range must lie in the teacher's


class Consistency(DiffusionFamily):
    """A consistency model (see the module docstring); ``config`` is a ConsistencyMethod."""

    def __post_init__(self) -> None:
        cfg = self.config
        if cfg.mode == "distill" and not cfg.teacher:
            raise DomainError(
                "method consistency: mode 'distill' needs method.teacher (a run folder of a "
                "trained ddpm/edm/flow run, or zoo:NAME)"
            )
        super().__post_init__()
        self.teacher: Any = None  # the LoadedRun distillation follows (training only)
        self.init_note = ""
        try:  # a config's own sample.steps beyond the levels it lists fails before training
            self.process.sampling_sigmas(self.run.sample.steps)
        except DomainError as exc:
            raise DomainError(f"sample.steps: {exc}; set sample.steps within it") from None

    # ---- what sampling accepts -----------------------------------------------------------
    def samplers(self) -> tuple[str, ...]:
        return ("consistency",)

    def schedules(self) -> tuple[str, ...]:
        return ("default",)  # the levels are method.sample_sigmas

    # ---- the teacher ---------------------------------------------------------------------
    def prepare_training(self, device: torch.device) -> None:
        cfg = self.config
        if not cfg.teacher:
            return
        teacher = load_teacher(cfg.teacher, device)
        self._check_teacher(teacher)
        if cfg.mode == "distill":
            self._check_teacher_sigmas(teacher)
            self.teacher = teacher
            self.teacher_guidance = (
                cfg.teacher_guidance
                if cfg.teacher_guidance is not None
                else teacher.config.sample.guidance
            )
            if self.teacher_guidance != 1.0 and not (
                teacher.info.conditional and getattr(teacher.config.method, "cond_drop", 0)
            ):
                raise DomainError(
                    f"method.teacher {cfg.teacher}: guidance {self.teacher_guidance} needs a "
                    "conditional teacher trained with condition dropout; set "
                    "method.teacher_guidance: 1"
                )
        reason = self._init_mismatch(teacher)
        if cfg.init_from_teacher and reason is None:
            student, source = self.models["model"].net, teacher.models["model"].net
            student.load_state_dict(source.state_dict())
            self.init_note = f"initialised from the weights of {cfg.teacher}"
        elif cfg.mode == "train":  # the teacher's only use here is the initialisation
            why = reason or "method.init_from_teacher is false"
            raise DomainError(
                f"method.teacher {cfg.teacher} cannot initialise this run ({why}); in mode "
                "'train' a teacher only initialises"
            )
        else:
            self.init_note = f"random initialisation ({reason or 'init_from_teacher: false'})"

    def _check_teacher(self, teacher: Any) -> None:
        name, cfg = self.config.teacher, teacher.config
        if not isinstance(teacher.method, DiffusionFamily) or isinstance(
            teacher.method, Consistency
        ):
            raise DomainError(
                f"method.teacher {name} is a {cfg.method.name!r} run; a consistency model "
                "learns from a diffusion or flow run (ddpm, edm, flow)"
            )
        if cfg.domain != self.run.domain:
            raise DomainError(
                f"method.teacher {name} is a {cfg.domain!r} model; this run is {self.run.domain!r}"
            )
        if list(teacher.info.shape) != list(self.info.shape):
            raise DomainError(
                f"method.teacher {name} makes states of shape {list(teacher.info.shape)}; this "
                f"run's data has shape {list(self.info.shape)} (data.params must match the "
                "teacher's)"
            )
        ours = (self.info.num_classes or 0, self.info.cond_dim or 0)
        theirs = (teacher.info.num_classes or 0, teacher.info.cond_dim or 0)
        if ours != theirs:
            raise DomainError(
                f"method.teacher {name} takes conditions (classes, properties) {theirs}; this "
                f"run gives {ours} (set data.conditional as the teacher was trained)"
            )

    def _check_teacher_sigmas(self, teacher: Any) -> None:
        lo, hi = teacher.method.process.sigma_range()
        c = self.config
        if c.sigma_min < lo * (1 - SIGMA_TOLERANCE) or c.sigma_max > hi * (1 + SIGMA_TOLERANCE):
            raise DomainError(
                f"method.teacher {c.teacher} was trained over sigma {lo:.4g} to {hi:.4g}; "
                f"method.sigma_min {c.sigma_min} and sigma_max {c.sigma_max} must lie within it"
            )

    def _init_mismatch(self, teacher: Any) -> str | None:
        """Why the teacher's network cannot start this one (None: it can)."""
        if not isinstance(teacher.method.process.precond, EDMPrecond):
            return f"its {teacher.config.method.name} parameterisation is not EDM's"
        if teacher.config.model != self.run.model:
            return "its network section differs from this run's model section"
        ours = self.process.precond.sigma_data
        if not math.isclose(teacher.method.process.precond.sigma_data, ours, rel_tol=1e-6):
            return "its sigma_data differs"
        return None

    def _teacher_denoiser(self) -> C.ConsistencyFn:
        model = guided(self.teacher.models["model"], self.teacher_guidance)
        clip = self.teacher.info.x0_clip

        def denoise(x: Tensor, sigma: Tensor, cond: Tensor | None, mask: Tensor | None):
            x0 = model(x, sigma, cond, mask)
            return x0 if clip is None else x0.clamp(*clip)

        return denoise

    # ---- training ------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        return [Phase("consistency", "model", self._consistency_loss)]

    def _consistency_loss(
        self, models: dict[str, nn.Module], batch: Batch, gens: Sequence[torch.Generator], step: int
    ) -> Tensor:
        cfg = self.config
        if cfg.mode == "distill" and self.teacher is None:
            raise DomainError("method consistency: the teacher is not loaded (prepare_training)")
        x0, mask, device = batch.x, batch.mask, batch.x.device
        lo, hi = self.process.training_pairs(gens, step, self.run.train.steps)
        lo, hi = lo.to(device, torch.float32), hi.to(device, torch.float32)
        noise = self.domain.noise(batch, gens)
        shape = (-1,) + (1,) * (x0.ndim - 1)
        x_hi = x0 + hi.reshape(shape) * noise
        if cfg.mode == "distill":
            with torch.no_grad():
                x_lo = C.heun_step(self._teacher_denoiser(), x_hi, hi, lo, batch.cond, mask)
        else:
            x_lo = x0 + lo.reshape(shape) * noise
        cond = batch.cond
        if cond is not None and cfg.cond_drop > 0:
            cond = drop_condition(cond, cfg.cond_drop, uniform=rand(gens).to(device))
        loss = C.consistency_loss(
            models["model"], x_hi, hi, x_lo, lo, cond, mask, cfg.loss,
            cfg.huber_c or C.huber_c(_real_elements(x0, mask)), cfg.weighting,
        )  # fmt: skip
        return loss.mean()


def _real_elements(x: Tensor, mask: Tensor | None) -> int:
    """Dimensions of one sample (set data: its mean number of real elements)."""
    per = x[0].numel()
    if mask is None:
        return per
    elements = math.prod(x.shape[1 : mask.ndim])
    return max(
        1, round(per / elements * float(mask.float().sum(dim=tuple(range(1, mask.ndim))).mean()))
    )


def load_teacher(ref: str, device: torch.device) -> Any:
    """The teacher's :class:`~multigen.api.LoadedRun` (EMA weights) on ``device``."""
    from multigen.api import load_run
    from multigen.train.checkpoint import CheckpointError

    try:
        teacher = load_run(ref, device="cpu")
    except (DomainError, CheckpointError) as exc:
        text = " ".join(str(exc).split())
        raise DomainError(f"method.teacher {ref}: {text}") from None
    for m in teacher.models.values():
        m.to(device).eval().requires_grad_(False)
    return teacher

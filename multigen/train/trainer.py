"""One Trainer for every method: devices, torchrun data parallelism, bf16 autocast,
torch.compile, EMA, clipping, warm-up, periodic sampling/evaluation, logs and checkpoints.

Determinism: the data order, σ, noise and latents of step ``k`` depend only on (seed, k,
position in the global batch), so ``--resume`` continues exactly and a 2-process run equals
a 1-process run with the same global batch.

Why one file of ~500 lines: the state a run's end needs (EMA weights, the final checkpoint,
the loaded reference, the resolved precision) is the Trainer's own, so :meth:`Trainer.fit`
(training) and :meth:`Trainer.finish` (one draw, exported and scored) live together; the
pieces with no such state are their own modules (batches, ema, checkpoint, logger, lock,
reference, data_report).
"""

from __future__ import annotations

import json
import math
import platform
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from multigen import __version__
from multigen.adversarial.style import check_style_options
from multigen.config import RunConfig, dump_config
from multigen.domain import DataInfo, Domain, DomainError, options_spelled
from multigen.fileio import atomic_write_text
from multigen.generate import generate
from multigen.methods import Method, build_method
from multigen.metrics.checks import require_finite_scores
from multigen.precision import BF16_MIN_SPEEDUP, autocast, measure_speedup, resolve_precision
from multigen.randomness import step_generators
from multigen.train import checkpoint as ckpt
from multigen.train.batches import StepBatches, resolve_device
from multigen.train.data_report import report_data
from multigen.train.distributed import (
    DistInfo,
    all_ranks_true,
    average_gradients,
    barrier,
    broadcast_modules,
    init_distributed,
)
from multigen.train.ema import EMA
from multigen.train.logger import Progress, RunLogger, say
from multigen.train.reference import reference_samples


class TrainingDiverged(DomainError):
    """A non-finite loss or weights: training stops before anything non-finite is saved."""


def _versions() -> dict[str, str]:
    return {
        "multigen": __version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


class Trainer:
    def __init__(
        self, config: RunConfig, domain: Domain, run_dir: Path, resume: bool = False
    ) -> None:
        self.cfg, self.domain, self.run_dir = config, domain, Path(run_dir)
        tc = config.train
        probe = resolve_device(tc.device)
        self.dist: DistInfo = init_distributed(probe.type)
        self.device = resolve_device(tc.device, self.dist.local_rank)
        if self.device.type == "cuda":
            torch.cuda.set_device(self.device)
        if config.data.batch_size % self.dist.world_size:
            raise DomainError(
                f"data.batch_size {config.data.batch_size} is not divisible by the "
                f"{self.dist.world_size} processes"
            )
        torch.manual_seed(tc.seed)
        self.dataset = self._dataset("train")
        self.info = DataInfo.of(domain.describe(self.dataset))
        if not config.data.conditional:  # labels in the data are not fed to the network
            self.info = self.info.without_conditions()
        self.method: Method = build_method(config, domain, self.info)
        self.method.prepare_training(self.device)  # e.g. load a distillation's teacher
        self.models = {k: m.to(self.device) for k, m in self.method.models.items()}
        if self.dist.enabled:
            broadcast_modules(list(self.models.values()))
        self.emas = {
            k: EMA(self.models[k], tc.ema_decay, tc.ema_warmup) for k in self.method.ema_models
        }
        self.opt_specs = self.method.optimizers()
        self.optimizers = {
            name: torch.optim.AdamW(
                [p for m in spec.models for p in self.models[m].parameters()],
                lr=spec.lr,
                betas=spec.betas,
                weight_decay=tc.weight_decay,
            )
            for name, spec in self.opt_specs.items()
        }
        self.precision, self.precision_reason = self._choose_precision(resume)
        if tc.compile:
            for m in self.models.values():
                # Diffusion losses call Denoiser.net directly (not Denoiser.forward), so the
                # network is what gets compiled; in place, so checkpoint keys do not change.
                getattr(m, "net", m).compile()
        self.step = 0
        self.best: float | None = None
        self.resumed_from: Path | None = None
        self._reference: Any = None
        if resume:
            self._resume()
        elif self.dist.is_main and ckpt.latest_checkpoint(self.run_dir):
            raise DomainError(
                f"{self.run_dir} already holds checkpoints; pass --resume to continue it "
                "or choose another --out"
            )

    # ---- precision --------------------------------------------------------------------
    def _choose_precision(self, resume: bool) -> tuple[str, str]:
        """``train.precision`` resolved for this device. ``auto`` on a CPU with native bf16
        also times one training step in each precision and keeps bf16 only if it is clearly
        faster (small convolutional nets run slower in bf16 there); a resumed run keeps the
        precision its checkpoint recorded, so it continues exactly."""
        choice = self.cfg.train.precision
        precision, reason = resolve_precision(choice, self.device)
        if choice != "auto":
            return precision, reason
        last = ckpt.latest_checkpoint(self.run_dir) if resume else None
        recorded = ckpt.read_meta(last).get("precision") if last else None
        if recorded in ("fp32", "bf16"):
            return recorded, "auto: as recorded in the checkpoint being resumed"
        if precision != "bf16" or self.device.type != "cpu" or self.dist.enabled:
            return precision, reason
        speedup = measure_speedup(self._time_step)
        if speedup >= BF16_MIN_SPEEDUP:
            return "bf16", f"{reason}; one step measured {speedup:.2f}x faster in bf16"
        return "fp32", f"{reason}, but one step measured {speedup:.2f}x in bf16: kept fp32"

    def _time_step(self, precision: str) -> float:
        """Seconds of one forward/backward of every phase on the first batch; no weight,
        optimizer, buffer or RNG state changes (eval mode, gradients dropped, RNG restored)."""
        d = self.cfg.data
        idx = StepBatches(len(self.dataset), d.batch_size, 0, 1, self.cfg.train.seed, 0)
        batch = self.domain.collate([self.dataset[i] for i in idx.indices(0)]).to(self.device)
        if not d.conditional:
            batch.cond = None
        gens = step_generators(self.cfg.train.seed, 0, range(len(batch)), self.device)
        with torch.random.fork_rng(devices=[]):
            for m in self.models.values():
                m.eval()
            start = time.perf_counter()
            for phase in self.method.phases():
                with autocast(self.device, precision):
                    loss = phase.loss(self.models, batch, gens, 0)
                loss.backward()
            seconds = time.perf_counter() - start
        for m in self.models.values():
            m.zero_grad(set_to_none=True)
            m.train()
        return seconds

    # ---- data -----------------------------------------------------------------------
    def _dataset(self, split: str) -> Dataset:
        d = self.cfg.data
        with options_spelled("data.params.{}"):  # messages name the switch training takes
            ds = self.domain.load_dataset(d.name, d.path, split, **d.params)
        if len(ds) == 0:
            raise DomainError(
                f"dataset {d.name!r} ({d.path or 'embedded'}) split {split!r} is empty"
            )
        return ds

    def _loader(self) -> DataLoader:
        d = self.cfg.data
        sampler = StepBatches(
            len(self.dataset),
            d.batch_size,
            self.dist.rank,
            self.dist.world_size,
            self.cfg.train.seed,
            self.step,
        )
        self.batches = sampler
        return DataLoader(
            self.dataset,
            batch_sampler=sampler,
            collate_fn=self.domain.collate,
            num_workers=d.num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=d.num_workers > 0,
        )

    def _report_data(self, logger: RunLogger) -> None:
        sets = [("train", self.dataset)]
        if self._reference is not None and self.cfg.eval.reference:  # a test split: tensors
            sets.append(("reference", self.reference()))
        report_data(self.domain, sets, self.run_dir, logger, self.step)

    # ---- checkpoints ------------------------------------------------------------------
    def _meta(self, metrics: dict[str, float] | None = None) -> dict[str, Any]:
        return {
            "step": self.step,
            "domain": self.domain.name,
            "method": self.cfg.method.name,
            "info": self.info.to_dict(),
            "config": self.cfg.model_dump(mode="json"),
            "metrics": metrics or {},
            "evaluated": False,
            "best": self.best,
            "precision": self.precision,
            "versions": _versions(),
            "parameters": {
                k: sum(p.numel() for p in m.parameters()) for k, m in self.models.items()
            },
        }

    def save(self, metrics: dict[str, float] | None = None) -> Path | None:
        if not self.dist.is_main:
            return None
        weights = ckpt.flat_state(
            {"model": self.models, "ema": {k: e.module for k, e in self.emas.items()}}
        )
        bad = ckpt.nonfinite_tensors(weights)
        if bad:  # never publish a checkpoint a later --resume or sample would choke on
            raise TrainingDiverged(
                f"the weights are not finite after step {self.step} ({bad[0]}"
                f"{f' and {len(bad) - 1} more' if len(bad) > 1 else ''}); no checkpoint was "
                f"written ({self._last_checkpoint_text()}); lower train.lr or set train.grad_clip"
            )
        state = {
            "step": self.step,
            "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
            "best": self.best,
        }
        return ckpt.save_checkpoint(
            self.run_dir, self.step, weights, state, self._meta(metrics), self.cfg.train.keep_last
        )

    def _resume(self) -> None:
        last = ckpt.latest_checkpoint(self.run_dir)
        if last is None:
            raise DomainError(f"--resume: no checkpoint in {self.run_dir / 'checkpoints'}")
        weights = ckpt.load_weights(last)
        ckpt.restore_modules(weights, "model", self.models, last)
        ckpt.restore_modules(weights, "ema", {k: e.module for k, e in self.emas.items()}, last)
        state = ckpt.load_state(last)
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        torch.set_rng_state(state["rng"])
        if state.get("cuda_rng") and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda_rng"])
        self.step = int(state["step"])
        self.best = state.get("best")
        self.resumed_from = last
        if self.step > self.cfg.train.steps:
            raise DomainError(
                f"the run in {self.run_dir} is at step {self.step}, beyond train.steps="
                f"{self.cfg.train.steps}; raise train.steps to continue it (`multigen sample` "
                "uses it as it is)"
            )

    def _last_checkpoint_text(self) -> str:
        last = ckpt.latest_checkpoint(self.run_dir)
        return f"the last one, {last.name}, is intact" if last else "there is none yet"

    # ---- training ---------------------------------------------------------------------
    def _lr_scale(self) -> float:
        w = self.cfg.train.warmup
        return min(1.0, (self.step + 1) / w) if w else 1.0

    def train_step(self, batch) -> dict[str, torch.Tensor]:
        tc = self.cfg.train
        if not self.cfg.data.conditional:
            batch.cond = None
        local = len(batch)
        first = self.dist.rank * local
        gens = step_generators(tc.seed, self.step, range(first, first + local), self.device)
        losses = {}
        for phase in self.method.phases():
            if self.step % phase.every:  # a lazy regulariser's phase, not due this step
                continue
            opt = self.optimizers[phase.optimizer]
            spec = self.opt_specs[phase.optimizer]
            for g in opt.param_groups:
                g["lr"] = spec.lr * self._lr_scale()
            trainable = [self.models[m] for m in spec.models]
            for m in self.models.values():
                m.train()
            for name in phase.frozen:
                self.models[name].requires_grad_(False)
            for _ in range(phase.repeat):
                opt.zero_grad(set_to_none=True)
                with autocast(self.device, self.precision):
                    loss = phase.loss(self.models, batch, gens, self.step)
                self._require_finite(loss, phase.name)
                loss.backward()
                average_gradients(trainable, self.dist.world_size)
                if tc.grad_clip:
                    params = [p for m in trainable for p in m.parameters()]
                    torch.nn.utils.clip_grad_norm_(params, tc.grad_clip)
                opt.step()
            for name in phase.frozen:
                self.models[name].requires_grad_(True)
            losses[f"loss_{phase.name}"] = loss.detach()
        for k, e in self.emas.items():
            e.update(self.models[k], self.step)
        self.step += 1
        return losses

    def _require_finite(self, loss: torch.Tensor, name: str) -> None:
        """Checked every step, before the update, so the weights stay finite; all ranks agree
        (a NaN on one rank would otherwise leave the others waiting in the all-reduce)."""
        if all_ranks_true(torch.isfinite(loss.detach()).all(), self.dist):
            return
        raise TrainingDiverged(
            f"loss_{name} is {float(loss.detach()):g} at step {self.step + 1}; training stopped "
            f"({self._last_checkpoint_text()}); lower train.lr or set train.grad_clip"
        )

    def sample_models(self) -> dict[str, nn.Module]:
        """EMA weights where the method keeps them, live weights otherwise."""
        return {k: (self.emas[k].module if k in self.emas else m) for k, m in self.models.items()}

    def fit(self) -> None:
        """Train to ``train.steps`` and save the final checkpoint; :meth:`finish` then
        samples and scores it, so a failure there never costs training."""
        tc = self.cfg.train
        logger = RunLogger(self.run_dir, self.dist.is_main, tc.tensorboard, tc.progress, tc.steps)
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(dump_config(self.cfg))
            self._report_data(logger)
        if self.resumed_from is not None:
            logger.say(f"resuming from step {self.step} ({self.resumed_from})")
        if self.step >= tc.steps:
            logger.say(
                f"train.steps={tc.steps} already reached: nothing to train (raise train.steps "
                "to continue)"
            )
            logger.close()
            return
        logger.say(
            f"training steps {self.step + 1}-{tc.steps} on {self.device} in {self.precision} "
            f"({self.precision_reason})"
        )
        metrics: dict[str, float] = {}
        sums: dict[str, torch.Tensor] = {}
        count, t0, seen = 0, time.perf_counter(), 0
        logger.start(self.step)
        try:
            loader = iter(self._loader())
            while self.step < tc.steps:
                batch = next(loader).to(self.device, non_blocking=True)
                losses = self.train_step(batch)
                for k, v in losses.items():
                    sums[k] = sums.get(k, 0) + v
                count += 1
                seen += len(batch) * self.dist.world_size
                if self.step % tc.log_every == 0 or self.step == tc.steps:
                    values = {k: float(v) / count for k, v in sums.items()}
                    elapsed = time.perf_counter() - t0
                    values["samples_per_s"] = seen / max(elapsed, 1e-9)
                    values["lr"] = self.optimizers[next(iter(self.optimizers))].param_groups[0][
                        "lr"
                    ]
                    values.update(self.method.log_values(self.models))  # e.g. ADA's p
                    logger.log(self.step, values)
                    sums, count, t0, seen = {}, 0, time.perf_counter(), 0
                logger.advance(self.step)
                last = self.step == tc.steps
                if tc.sample_every and self.step % tc.sample_every == 0 and not last:
                    self.write_samples(self.run_dir / "samples" / f"step_{self.step:08d}")
                if tc.eval_every and self.step % tc.eval_every == 0 and not last:
                    metrics = self.evaluate()
                    logger.log(self.step, _eval(metrics))
                if self.step % tc.checkpoint_every == 0 or last:
                    self._checkpoint(metrics)
                    barrier(self.dist)
        finally:
            logger.close()

    def finish(self) -> dict[str, float]:
        """Sample once; export ``sample.n`` of the samples and score ``eval.n_samples`` of them
        against the reference; record the metrics in the final checkpoint and metrics.json.
        A run whose final checkpoint is already scored is not scored again."""
        if not self.dist.is_main:
            barrier(self.dist)
            return {}
        final = ckpt.latest_checkpoint(self.run_dir)
        if final is None:
            raise DomainError(f"{self.run_dir}: no checkpoint to finish; train the run first")
        meta = ckpt.read_meta(final)
        metrics_path = self.run_dir / "metrics.json"
        if meta.get("evaluated") and meta.get("step") == self.step and metrics_path.is_file():
            say(f"the run is complete; metrics of step {self.step} in {metrics_path}")
            barrier(self.dist)
            return dict(meta.get("metrics", {}))
        sc, ec = self.cfg.sample, self.cfg.eval
        batch = self.generate(max(sc.n, ec.n_samples), label="final samples")
        out_dir = self.run_dir / "samples"
        out_dir.mkdir(parents=True, exist_ok=True)
        self.domain.export(self.domain.decode(batch.select(slice(0, sc.n)), self.info), out_dir)
        metrics = self.score(batch.select(slice(0, ec.n_samples)))
        with open(self.run_dir / "log.jsonl", "a") as fh:
            fh.write(json.dumps({"step": self.step, "time": time.time(), **_eval(metrics)}) + "\n")
        ckpt.update_meta(final, metrics=metrics, evaluated=True)
        self._mark_best(final, metrics)
        atomic_write_text(metrics_path, json.dumps(metrics, indent=2))
        barrier(self.dist)
        return metrics

    def _checkpoint(self, metrics: dict[str, float]) -> None:
        path = self.save(metrics)
        if path is not None:
            self._mark_best(path, metrics)

    def _mark_best(self, path: Path, metrics: dict[str, float]) -> None:
        tc = self.cfg.train
        key = tc.best_metric
        if not key or key not in metrics:
            return
        value = metrics[key]
        if not math.isfinite(value):  # never the best (scoring refuses it before this)
            return
        better = self.best is None or (
            value < self.best if tc.best_mode == "min" else value > self.best
        )
        if better:
            self.best = value
            ckpt.mark_best(self.run_dir, path)

    # ---- samples and metrics -----------------------------------------------------------
    def generate(self, n: int, label: str | None = None):
        """``n`` samples from the EMA weights (a progress bar when ``label`` is given)."""
        bar = None
        if label and self.cfg.train.progress and self.dist.is_main:
            bar = Progress(label, n, "samples", every_s=30.0)
        try:
            return generate(
                self.method,
                self.sample_models(),
                self.domain,
                self.info,
                n,
                self.cfg.sample,
                self.device,
                self.precision,
                conditional=self.cfg.data.conditional,
                progress=None if bar is None else bar.update,
            )
        finally:
            if bar is not None:
                bar.close()

    def write_samples(self, out_dir: Path) -> list[Path]:
        batch = self.generate(self.cfg.sample.n)
        out_dir.mkdir(parents=True, exist_ok=True)
        return self.domain.export(self.domain.decode(batch, self.info), out_dir)

    def reference(self) -> Any:
        """The evaluation reference, loaded once (the first time before training starts)."""
        if self._reference is None:
            self._reference = reference_samples(
                self.domain, self.cfg, self.info, self.cfg.eval.n_samples
            )
        return self._reference

    def check_evaluation(self) -> None:
        """Everything the end of the run needs, checked before the first step: the sampler and
        schedule apply to the method, the reference loads and the domain can score it."""
        if not self.dist.is_main:
            return
        sc = self.cfg.sample
        if sc.sampler is not None and sc.sampler not in self.method.samplers():
            raise DomainError(
                f"sample.sampler {sc.sampler!r} does not apply to method "
                f"{self.cfg.method.name!r}; choose one of: {', '.join(self.method.samplers())}"
            )
        if sc.schedule not in self.method.schedules():
            raise DomainError(
                f"sample.schedule {sc.schedule!r} is not known here; choose one of: "
                f"{', '.join(self.method.schedules())}"
            )
        check_style_options(self.models, sc, repr(self.cfg.model.name))
        self.domain.check_options(self.cfg.eval.options)
        self.domain.check_evaluation(self.reference(), **self.cfg.eval.options)

    def score(self, batch) -> dict[str, float]:
        samples = self.domain.decode(batch, self.info)
        show = self.cfg.train.progress and self.dist.is_main
        if show:
            say(f"scoring {len(batch)} samples against the reference ({self.domain.name} metrics)")
        t0 = time.perf_counter()
        metrics = self.domain.evaluate(samples, self.reference(), **self.cfg.eval.options)
        metrics = require_finite_scores(metrics, f"scoring step {self.step}")
        for note in self.domain.sample_size_notes(metrics):
            say(f"warning: {note} (eval.n_samples)")
        if show:
            say(f"scored in {time.perf_counter() - t0:.1f} s")
        return metrics

    def evaluate(self) -> dict[str, float]:
        """Samples from the EMA model scored against the held-out split."""
        return self.score(self.generate(self.cfg.eval.n_samples))


def _eval(metrics: dict[str, float]) -> dict[str, float]:
    return {f"eval/{k}": v for k, v in metrics.items()}

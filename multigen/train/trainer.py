"""One Trainer for every method: devices, torchrun data parallelism, bf16 autocast,
torch.compile, EMA, clipping, warm-up, periodic sampling/evaluation, logs and checkpoints.

Determinism: the data order, σ, noise and latents of step ``k`` depend only on (seed, k,
position in the global batch), so ``--resume`` continues exactly and a 2-process run equals
a 1-process run with the same global batch.
"""

from __future__ import annotations

import copy
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
from multigen.config import RunConfig, dump_config
from multigen.domain import Domain, DomainError
from multigen.generate import autocast, generate
from multigen.methods import Method, build_method, step_generators
from multigen.train import checkpoint as ckpt
from multigen.train.distributed import (
    DistInfo,
    average_gradients,
    barrier,
    broadcast_modules,
    init_distributed,
)
from multigen.train.logger import RunLogger


def resolve_device(choice: str, local_rank: int = 0) -> torch.device:
    if choice == "cuda" and not torch.cuda.is_available():
        raise DomainError("train.device is 'cuda' but CUDA is not available; use auto or cpu")
    if choice == "cuda" or (choice == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


class StepBatches(torch.utils.data.Sampler):
    """Yields this rank's dataset indices for steps ``start, start+1, …``.

    The global index stream is a concatenation of seeded permutations (one per epoch), so
    the indices of step ``k`` are a pure function of (seed, k).
    """

    def __init__(self, n: int, global_batch: int, rank: int, world: int, seed: int, start: int):
        self.n, self.global_batch, self.rank, self.world = n, global_batch, rank, world
        self.seed, self.start = seed, start
        self.local = global_batch // world

    def _perm(self, epoch: int) -> torch.Tensor:
        return torch.randperm(
            self.n, generator=torch.Generator().manual_seed(self.seed * 7919 + epoch)
        )

    def indices(self, step: int) -> list[int]:
        lo = step * self.global_batch + self.rank * self.local
        out, cache = [], {}
        for pos in range(lo, lo + self.local):
            epoch, i = divmod(pos, self.n)
            if epoch not in cache:
                cache[epoch] = self._perm(epoch)
            out.append(int(cache[epoch][i]))
        return out

    def __iter__(self):
        step = self.start
        while True:
            yield self.indices(step)
            step += 1


class EMA:
    """Exponential moving average of a module's parameters (buffers copied)."""

    def __init__(self, module: nn.Module, decay: float):
        self.decay = decay
        self.module = copy.deepcopy(module).eval().requires_grad_(False)

    @torch.no_grad()
    def update(self, module: nn.Module) -> None:
        ema_p = list(self.module.parameters())
        src_p = list(module.parameters())
        torch._foreach_lerp_(ema_p, src_p, 1 - self.decay)
        for eb, sb in zip(self.module.buffers(), module.buffers()):
            eb.copy_(sb)


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
        self.info = domain.describe(self.dataset)
        if not config.data.conditional:  # labels in the data are not fed to the network
            self.info = {
                **self.info,
                "data_num_classes": self.info.get("num_classes", 0),
                "num_classes": 0,
                "cond_dim": 0,
            }
        self.method: Method = build_method(config, domain, self.info)
        self.models = {k: m.to(self.device) for k, m in self.method.models.items()}
        if self.dist.enabled:
            broadcast_modules(list(self.models.values()))
        self.emas = {k: EMA(self.models[k], tc.ema_decay) for k in self.method.ema_models}
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
        if tc.compile:
            for m in self.models.values():
                # Diffusion losses call Denoiser.net directly (not Denoiser.forward), so the
                # network is what gets compiled; in place, so checkpoint keys do not change.
                getattr(m, "net", m).compile()
        self.step = 0
        self.best: float | None = None
        if resume:
            self._resume()
        elif self.dist.is_main and ckpt.latest_checkpoint(self.run_dir):
            raise DomainError(
                f"{self.run_dir} already holds checkpoints; pass --resume to continue it "
                "or choose another --out"
            )

    # ---- data -----------------------------------------------------------------------
    def _dataset(self, split: str) -> Dataset:
        d = self.cfg.data
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

    # ---- checkpoints ------------------------------------------------------------------
    def _meta(self, metrics: dict[str, float] | None = None) -> dict[str, Any]:
        return {
            "step": self.step,
            "domain": self.domain.name,
            "method": self.cfg.method.name,
            "info": self.info,
            "config": self.cfg.model_dump(mode="json"),
            "metrics": metrics or {},
            "best": self.best,
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
                with autocast(self.device, tc.precision):
                    loss = phase.loss(self.models, batch, gens, self.step)
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
            e.update(self.models[k])
        self.step += 1
        return losses

    def sample_models(self) -> dict[str, nn.Module]:
        """EMA weights where the method keeps them, live weights otherwise."""
        return {k: (self.emas[k].module if k in self.emas else m) for k, m in self.models.items()}

    def fit(self) -> dict[str, float]:
        tc = self.cfg.train
        logger = RunLogger(self.run_dir, self.dist.is_main, tc.tensorboard, tc.progress, tc.steps)
        if self.dist.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.yaml").write_text(dump_config(self.cfg))
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
                    for k, v in values.items():
                        if not math.isfinite(v):
                            raise FloatingPointError(
                                f"{k} is {v} at step {self.step}; lower train.lr?"
                            )
                    elapsed = time.perf_counter() - t0
                    values["samples_per_s"] = seen / max(elapsed, 1e-9)
                    values["lr"] = self.optimizers[next(iter(self.optimizers))].param_groups[0][
                        "lr"
                    ]
                    logger.log(self.step, values)
                    sums, count, t0, seen = {}, 0, time.perf_counter(), 0
                logger.advance(self.step)
                last = self.step == tc.steps
                if tc.sample_every and self.step % tc.sample_every == 0 and not last:
                    self.write_samples(self.run_dir / "samples" / f"step_{self.step:08d}")
                if tc.eval_every and self.step % tc.eval_every == 0 and not last:
                    metrics = self.evaluate()
                    logger.log(self.step, {f"eval/{k}": v for k, v in metrics.items()})
                if self.step % tc.checkpoint_every == 0 and not last:
                    self._checkpoint(metrics)
                    barrier(self.dist)
        finally:
            logger.close()
        if self.dist.is_main:
            self.write_samples(self.run_dir / "samples")
            metrics = self.evaluate()
            logger.log(self.step, {f"eval/{k}": v for k, v in metrics.items()})
            self._checkpoint(metrics)
            (self.run_dir / "metrics.json").write_text(json.dumps(metrics, indent=2))
        barrier(self.dist)
        return metrics

    def _checkpoint(self, metrics: dict[str, float]) -> None:
        path = self.save(metrics)
        tc = self.cfg.train
        key = tc.best_metric
        if path is None or not key or key not in metrics:
            return
        value = metrics[key]
        better = self.best is None or (
            value < self.best if tc.best_mode == "min" else value > self.best
        )
        if better:
            self.best = value
            ckpt.mark_best(self.run_dir, path)

    # ---- samples and metrics -----------------------------------------------------------
    def generate(self, n: int):
        return generate(
            self.method,
            self.sample_models(),
            self.domain,
            self.info,
            n,
            self.cfg.sample,
            self.device,
            self.cfg.train.precision,
            conditional=self.cfg.data.conditional,
        )

    def write_samples(self, out_dir: Path) -> list[Path]:
        batch = self.generate(self.cfg.sample.n)
        out_dir.mkdir(parents=True, exist_ok=True)
        return self.domain.export(self.domain.decode(batch, self.info), out_dir)

    def evaluate(self) -> dict[str, float]:
        """Samples from the EMA model scored against the held-out split."""
        ec = self.cfg.eval
        samples = self.domain.decode(self.generate(ec.n_samples), self.info)
        reference = reference_samples(self.domain, self.cfg, self.info, ec.n_samples)
        return self.domain.evaluate(samples, reference, **ec.options)


def reference_samples(domain: Domain, cfg: RunConfig, info: dict[str, Any], n: int) -> Any:
    """The evaluation reference: ``eval.reference`` if set, else the test split of the data."""
    if cfg.eval.reference:
        return domain.reference(cfg.eval.reference, n=n)
    d = cfg.data
    ds = domain.load_dataset(d.name, d.path, "test", **d.params)
    items = [ds[i] for i in range(min(n, len(ds)))]
    return domain.decode(domain.collate(items), info)

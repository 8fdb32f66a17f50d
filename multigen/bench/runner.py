"""Run a suite: train each (domain, training method) once, sample every variant at every NFE,
score each cell with the domain's own metrics, and store one JSON per cell.

A failing cell is recorded with its error and the matrix goes on; ``resume`` skips cells
already stored as ok (failed and skipped cells are tried again). Every file is written
atomically, so Ctrl-C leaves finished cells and trained runs intact.

Why one file of ~420 lines: the runner's state (suite, output folder, resume flag, cached
references) is shared by training a job, the data row and every cell; what needs none of it
lives elsewhere (suite parsing, variants, records, tables, plots, report, gallery files).
"""

from __future__ import annotations

import json
import shutil
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from multigen import api
from multigen.config import RunConfig
from multigen.domain import Domain, DomainError
from multigen.metrics.checks import BOOKKEEPING
from multigen.registry import get_domain, run_domain
from multigen.train import checkpoint as ckpt
from multigen.train.batches import resolve_device
from multigen.train.reference import reference_samples
from multigen.train.trainer import Trainer

from .record import (
    PeakMemory,
    clean_number,
    config_hash,
    device_name,
    machine,
    versions,
    write_json,
)
from .suite import DomainPlan, Suite, TrainJob
from .variants import BENCH_METHODS, FEW_STEP, Variant

Log = Callable[[str], None]


def _print(msg: str) -> None:
    print(msg, flush=True)


def cell_id(domain: str, variant: str, nfe: int) -> str:
    return f"{domain}__{variant}__nfe{nfe:04d}"


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def error_text(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


class Runner:
    def __init__(
        self,
        suite: Suite,
        out: Path,
        resume: bool = False,
        device: str | None = None,
        log: Log = _print,
    ):
        self.suite, self.out, self.resume, self.log = suite, Path(out), resume, log
        self.device = device or suite.device
        self.versions = versions()
        self._refs: dict[str, Any] = {}

    # ---- paths ------------------------------------------------------------------------
    def cell_path(self, cid: str) -> Path:
        return self.out / "cells" / f"{cid}.json"

    def run_dir(self, job: TrainJob) -> Path:
        return self.out / "runs" / job.domain / job.method

    # ---- configs ----------------------------------------------------------------------
    def bench_overrides(self, plan: DomainPlan, job: TrainJob) -> list[str]:
        """What the benchmark fixes for every cell: the same budget, seeds and reference."""
        steps, seed, n = plan.steps_for(job), self.suite.seed, plan.n_samples
        ref = plan.reference if plan.reference else "null"
        return [
            f"train.steps={steps}",
            f"train.seed={seed}",
            f"train.checkpoint_every={steps}",
            "train.keep_last=1",
            "train.eval_every=0",
            "train.sample_every=0",
            "train.best_metric=null",
            "train.tensorboard=false",
            "train.progress=false",
            f"train.device={self.device}",
            f"eval.reference={ref}",
            f"eval.n_samples={n}",
            f"sample.n={n}",
            f"sample.seed={seed}",
        ]

    def job_config(self, job: TrainJob, plan: DomainPlan) -> RunConfig:
        return job.load(self.bench_overrides(plan, job))

    # ---- the matrix -------------------------------------------------------------------
    def run(self) -> list[dict[str, Any]]:
        self.out.mkdir(parents=True, exist_ok=True)
        if self.suite.threads:
            torch.set_num_threads(self.suite.threads)
        cells = self.suite.cells()
        write_json(
            self.out / "plan.json",
            {
                "suite": self.suite.name,
                "source": str(self.suite.source),
                "cells": [cell_id(d, v.name, k) for d, v, k in cells],
                "started": now(),
            },
        )
        self.log(f"benchmark {self.suite.name}: {len(cells)} cells -> {self.out}")
        records = []
        for dname, plan in self.suite.domains.items():
            dcells = [(v, k) for d, v, k in cells if d == dname]
            missing = [p for p in plan.requires if shutil.which(p) is None]
            if missing:
                reason = f"needs external program(s) {', '.join(missing)} (not on PATH)"
                self.log(f"[{dname}] skipped: {reason}")
                for v, k in dcells:
                    records.append(self._skip(dname, v, k, reason))
                continue
            try:
                self.prepare(plan)
            except Exception as exc:
                self.log(f"[{dname}] data preparation failed: {error_text(exc)}")
                tb = traceback.format_exc(limit=8)
                records += [self._fail(plan, v, k, "prepare", exc, tb) for v, k in dcells]
                continue
            self.data_row(plan)
            for method in BENCH_METHODS:
                job = plan.jobs.get(method)
                mcells = [(v, k) for v, k in dcells if v.train == method]
                if mcells and job is not None and job.config is None and method in FEW_STEP:
                    # a few-step method this domain has no config (networks) for: not a failure
                    records += [self._skip(dname, v, k, job.error or "") for v, k in mcells]
                elif mcells and job is not None:
                    records += self._run_job(plan, job, mcells)
        return records

    def prepare(self, plan: DomainPlan) -> None:
        """Materialise datasets the suite needs (e.g. the espeak-ng spoken digits) once."""
        domain = get_domain(plan.domain)
        for name in plan.prepare:
            try:
                domain.load_dataset(name, None, "train")
            except DomainError:
                spec = domain.datasets.get(name)
                if spec is None or spec.prepare is None:
                    raise
                self.log(f"[{plan.name}] preparing dataset {name}")
                spec.prepare(None)

    def _done(
        self, cid: str, plan: DomainPlan, job: TrainJob, train_hash: str | None = None
    ) -> dict[str, Any] | None:
        """A stored ok cell with the same budget (steps, samples) and training config."""
        path = self.cell_path(cid)
        if not (self.resume and path.is_file()):
            return None
        try:
            rec = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        same = (rec.get("train") or {}).get("steps") == plan.steps_for(job) and rec.get(
            "n_samples"
        ) == plan.n_samples
        same = same and train_hash is not None and rec.get("train_config_hash") == train_hash
        return rec if rec.get("status") == "ok" and same else None

    def _run_job(
        self, plan: DomainPlan, job: TrainJob, cells: list[tuple[Variant, int]]
    ) -> list[dict[str, Any]]:
        records, todo = [], []
        try:  # cells of a model trained from another config are stale, whatever their budget
            chash = config_hash(self.job_config(job, plan).model_dump(mode="json"))
        except Exception:  # noqa: BLE001 - a bad config is reported below, per cell
            chash = None
        for v, k in cells:
            done = self._done(cell_id(plan.name, v.name, k), plan, job, chash)
            if done:
                records.append(done)
            else:
                todo.append((v, k))
        if not todo:
            self.log(f"[{job.key}] all {len(cells)} cells finished earlier (resume)")
            return records
        try:
            cfg = self.job_config(job, plan)
            train = self.ensure_trained(job, plan, cfg)
            loaded = api.load_run(self.run_dir(job), device=self.device)
            reference = self.reference(loaded.domain, loaded.config, loaded.info, plan.n_samples)
        except Exception as exc:  # recorded per cell; the matrix goes on
            self.log(f"[{job.key}] failed before sampling: {error_text(exc)}")
            tb = traceback.format_exc(limit=8)
            for v, k in todo:
                records.append(self._fail(plan, v, k, "train", exc, tb))
            return records
        for v, k in todo:
            try:
                rec = self.run_cell(plan, job, v, k, loaded, reference, train)
            except Exception as exc:
                self.log(f"[{plan.name} {v.name} nfe={k}] failed: {error_text(exc)}")
                rec = self._fail(plan, v, k, "sample/evaluate", exc, traceback.format_exc(limit=8))
            records.append(rec)
        return records

    # ---- training ---------------------------------------------------------------------
    def ensure_trained(self, job: TrainJob, plan: DomainPlan, cfg: RunConfig) -> dict[str, Any]:
        run_dir = self.run_dir(job)
        marker = run_dir / "bench_train.json"
        chash = config_hash(cfg.model_dump(mode="json"))
        if marker.is_file() and ckpt.latest_checkpoint(run_dir):
            rec = json.loads(marker.read_text())
            if rec.get("config_hash") == chash:
                self.log(f"[{job.key}] reusing trained run ({rec['seconds']:.1f} s)")
                return rec
        if run_dir.exists():
            shutil.rmtree(run_dir)  # a partial or stale run: train again from scratch
        self.log(f"[{job.key}] training {cfg.train.steps} steps ({job.config})")
        domain = run_domain(cfg)
        device = resolve_device(cfg.train.device)
        start = time.perf_counter()
        with PeakMemory(device) as mem:
            trainer = Trainer(cfg, domain, run_dir)
            setup = time.perf_counter() - start
            trainer.fit()  # no finish(): the benchmark samples and scores every cell itself
        seconds = time.perf_counter() - start
        meta = ckpt.read_meta(ckpt.latest_checkpoint(run_dir))
        examples = cfg.train.steps * cfg.data.batch_size
        rec = {
            "steps": cfg.train.steps,
            "batch_size": cfg.data.batch_size,
            "seconds": seconds,
            "setup_seconds": setup,
            "examples_per_s": examples / max(seconds - setup, 1e-9),
            "peak_memory_mib": mem.mib,
            "peak_memory_delta_mib": mem.delta_mib,
            "memory_kind": mem.kind,
            "parameters": meta.get("parameters", {}),
            "config_hash": chash,
            "config_file": str(job.config),
            "overrides": job.overrides,
            "device": device_name(device),
            "finished": now(),
        }
        write_json(marker, rec)
        self.log(f"[{job.key}] trained in {seconds:.1f} s")
        return rec

    # ---- references and the data row -------------------------------------------------
    def reference(self, domain: Domain, cfg: RunConfig, info: dict[str, Any], n: int) -> Any:
        key = config_hash([cfg.domain, cfg.data.model_dump(mode="json"), cfg.eval.reference, n])
        if key not in self._refs:
            self._refs[key] = reference_samples(domain, cfg, info, n)
        return self._refs[key]

    def data_row(self, plan: DomainPlan) -> dict[str, Any] | None:
        """Real held-out data scored exactly like a model's samples: the floor of each metric.

        The reference is the cells' reference (default: the test split); the "samples" are
        ``n`` items of the other split, decoded as a sampler's output would be.
        """
        path = self.out / "data" / f"{plan.name}.json"
        if self.resume and path.is_file():
            rec = json.loads(path.read_text())
            if rec.get("status") == "ok":
                return rec
        job = next((j for j in plan.jobs.values() if j.config is not None), None)
        if job is None:
            return None
        rec: dict[str, Any] = {"domain": plan.name, "row": "data", "n": plan.n_samples}
        try:
            cfg = self.job_config(job, plan)
            domain = get_domain(cfg.domain)
            d = cfg.data
            train = domain.load_dataset(d.name, d.path, "train", **d.params)
            info = domain.describe(train)
            ref_split = (cfg.eval.reference or "x:test").partition(":")[2] or "test"
            split = "train" if ref_split == "test" else "test"
            ds = (
                train
                if split == "train"
                else domain.load_dataset(d.name, d.path, split, **d.params)
            )
            # Spread the picks over the split (datasets are often ordered by class).
            count = min(plan.n_samples, len(ds))
            picks = torch.linspace(0, len(ds) - 1, count).round().long().unique().tolist()
            samples = domain.decode(domain.collate([ds[i] for i in picks]), info)
            reference = self.reference(domain, cfg, info, plan.n_samples)
            options = {**cfg.eval.options, **plan.eval_options}
            start = time.perf_counter()
            scores = domain.evaluate(samples, reference, **options)
            rec.update(
                status="ok",
                split=split,
                reference=cfg.eval.reference or "test split",
                metrics={k: clean_number(float(v)) for k, v in scores.items()},
                eval_seconds=time.perf_counter() - start,
                dataset=d.name,
            )
            self.log(f"[{plan.name}] data row: {split} split vs {rec['reference']}")
        except Exception as exc:
            rec.update(status="failed", error=error_text(exc))
            self.log(f"[{plan.name}] data row failed: {error_text(exc)}")
        write_json(path, rec)
        return rec

    # ---- one cell ---------------------------------------------------------------------
    def _base(self, domain: str, v: Variant, nfe: int) -> dict[str, Any]:
        return {
            "id": cell_id(domain, v.name, nfe),
            "suite": self.suite.name,
            "domain": domain,
            "variant": v.name,
            "train_method": v.train,
            "sampler": v.sampler or "generator",
            "sampler_options": v.options,
            "nfe_budget": nfe,
            "steps": v.steps(nfe),
            "seed": self.suite.seed,
            "versions": self.versions,
            "finished": now(),
        }

    def _skip(self, domain: str, v: Variant, nfe: int, reason: str) -> dict[str, Any]:
        rec = {**self._base(domain, v, nfe), "status": "skipped", "reason": reason}
        write_json(self.cell_path(rec["id"]), rec)
        return rec

    def _fail(
        self, plan: DomainPlan, v: Variant, nfe: int, phase: str, exc: BaseException, tb: str
    ) -> dict[str, Any]:
        rec = {
            **self._base(plan.name, v, nfe),
            "status": "failed",
            "phase": phase,
            "error": error_text(exc),
            "traceback": tb,
        }
        write_json(self.cell_path(rec["id"]), rec)
        return rec

    def run_cell(
        self,
        plan: DomainPlan,
        job: TrainJob,
        v: Variant,
        nfe: int,
        loaded: api.LoadedRun,
        reference: Any,
        train: dict[str, Any],
    ) -> dict[str, Any]:
        rec = self._base(plan.name, v, nfe)
        n = plan.n_samples
        with PeakMemory(loaded.device) as mem:
            res = api.sample(
                loaded,
                n=n,
                sampler=v.sampler,
                steps=v.steps(nfe),
                seed=self.suite.seed,
                **v.options,
            )
        options = {**loaded.config.eval.options, **plan.eval_options}
        start = time.perf_counter()
        scores = loaded.domain.evaluate(res.samples, reference, **options)
        eval_seconds = time.perf_counter() - start
        start = time.perf_counter()
        gallery = self.gallery(rec["id"], loaded, res.batch, plan.gallery)
        gallery_seconds = time.perf_counter() - start
        cfg = loaded.config.model_dump(mode="json")
        rec.update(
            status="ok",
            nfe=res.nfe,
            metrics={k: clean_number(float(val)) for k, val in scores.items()},
            n_samples=n,
            sample_seconds=res.seconds,
            samples_per_s=n / max(res.seconds, 1e-9),
            sample_peak_memory_mib=mem.mib,
            sample_peak_memory_delta_mib=mem.delta_mib,
            memory_kind=mem.kind,
            eval_seconds=eval_seconds,
            train=train,
            device=device_name(loaded.device),
            machine=machine(),
            config_file=str(job.config),
            config_hash=config_hash([cfg, v.name, v.sampler, v.options, nfe, n, self.suite.seed]),
            train_config_hash=train.get("config_hash"),
            gallery=gallery,
            gallery_seconds=gallery_seconds,
            finished=now(),
        )
        write_json(self.cell_path(rec["id"]), rec)
        shown = [(k, x) for k, x in rec["metrics"].items() if k not in BOOKKEEPING]
        head = next(iter(shown), ("-", float("nan")))
        self.log(
            f"[{plan.name} {v.name} nfe={res.nfe}] {n / max(res.seconds, 1e-9):.1f} samples/s, "
            f"{head[0]}={head[1]} (eval {eval_seconds:.1f} s, gallery {gallery_seconds:.1f} s)"
        )
        return rec

    def gallery(self, cid: str, loaded: api.LoadedRun, batch: Any, k: int) -> list[str]:
        """Export the first ``k`` samples with the domain's own exporter (for the report)."""
        if k <= 0:
            return []
        folder = self.out / "cells" / cid
        if folder.exists():
            shutil.rmtree(folder)
        part = batch.select(slice(0, min(k, len(batch))))
        samples = loaded.domain.decode(part, loaded.info)
        files = loaded.domain.export(samples, folder)
        return sorted(str(Path(f).relative_to(self.out)) for f in files)

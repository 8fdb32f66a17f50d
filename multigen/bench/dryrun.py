"""``--dry-run``: prove every (domain, training method) of a suite loads and starts.

Validates the config, builds the dataset and networks, takes one training step on a tiny
batch and draws two samples with one step. Paper-sized GPU configs thereby start on a CPU:
CUDA-only settings (device, torch.compile) are relaxed, and a dataset whose files are absent
(QM9, SC09, ShapeNet, CIFAR-10 cannot be downloaded here) is replaced by the domain's
embedded data with the same networks, and the record says so.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import torch

from multigen import api
from multigen.registry import run_domain
from multigen.train.batches import resolve_device
from multigen.train.trainer import Trainer

from .record import PeakMemory, write_json
from .runner import Log, Runner, error_text
from .suite import DomainPlan, TrainJob


def _data_missing(job_cfg: Any, domain: Any) -> str | None:
    d = job_cfg.data
    spec = domain.datasets.get(d.name)
    if spec is None or not spec.needs_path:
        return None
    if d.path is None or not Path(d.path).exists():
        return f"dataset {d.name!r} needs files at data.path={d.path!r} (not present)"
    return None


def dry_run_job(runner: Runner, plan: DomainPlan, job: TrainJob) -> dict[str, Any]:
    rec: dict[str, Any] = {"domain": plan.name, "method": job.method, "config": str(job.config)}
    start = time.perf_counter()
    try:
        cfg = runner.job_config(job, plan)
        domain = run_domain(cfg)
        extra = ["train.steps=1", "train.checkpoint_every=1", "data.num_workers=0"]
        extra.append(f"data.batch_size={min(cfg.data.batch_size, 2)}")
        if not torch.cuda.is_available():
            extra += ["train.device=cpu", "train.compile=false"]
        rec["batch_size_paper"] = cfg.data.batch_size
        rec["train_steps_paper"] = plan.steps_for(job)
        missing = _data_missing(cfg, domain)
        if missing:
            rec["data_note"] = f"{missing}; dry run used {domain.default_dataset!r} instead"
            extra += [f"data.name={domain.default_dataset}", "data.path=null", "data.params={}"]
            extra += ["data.conditional=false"]
        cfg = job.load([*runner.bench_overrides(plan, job), *extra])
        run_dir = runner.out / "dryrun" / plan.name / job.method
        if run_dir.exists():
            shutil.rmtree(run_dir)
        device = resolve_device(cfg.train.device)
        with PeakMemory(device) as mem:
            trainer = Trainer(cfg, domain, run_dir)
            trainer.fit()
            loaded = api.load_run(run_dir, device=device.type)
            res = api.sample(loaded, n=2, steps=1, seed=0)
        rec.update(
            status="ok",
            parameters={
                k: sum(p.numel() for p in m.parameters()) for k, m in trainer.models.items()
            },
            sample_shape=list(res.batch.x.shape),
            peak_memory_mib=mem.mib,
        )
    except Exception as exc:
        rec.update(status="failed", error=error_text(exc))
    rec["seconds"] = time.perf_counter() - start
    return rec


def dry_run(runner: Runner, log: Log) -> list[dict[str, Any]]:
    if runner.suite.threads:
        torch.set_num_threads(runner.suite.threads)
    records = []
    for plan in runner.suite.domains.values():
        methods = {v.train for v in runner.suite.variants.values()}
        for method, job in plan.jobs.items():
            if method not in methods:
                continue
            rec = dry_run_job(runner, plan, job)
            params = sum(rec.get("parameters", {}).values())
            note = f"; {rec['data_note']}" if rec.get("data_note") else ""
            status = rec["status"] if rec["status"] == "ok" else f"FAILED: {rec.get('error')}"
            log(f"[{job.key}] {status} ({params / 1e6:.2f}M params, {rec['seconds']:.1f} s){note}")
            records.append(rec)
    write_json(runner.out / "dryrun.json", {"suite": runner.suite.name, "jobs": records})
    return records

"""Build a zoo entry from a finished run: EMA weights (bf16 only where its samples score the
same as fp32 — measured here), the resolved config, the meta the loader needs, a card with
measured metrics beside the data floor, and the manifest. ``multigen pretrained add``.
"""

from __future__ import annotations

import json
import math
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import save_file

from multigen.fileio import plain_name
from multigen.methods import nfe
from multigen.metrics.checks import BOOKKEEPING
from multigen.train import checkpoint as ckpt
from multigen.zoo import card as cards
from multigen.zoo.manifest import ZooError, write_manifest
from multigen.zoo.scoring import check_block, data_floor, score
from multigen.zoo.store import FILES, ZOO_DIR, load_entry

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16}


def training_seconds(run_dir: Path, step: int) -> float | None:
    """Wall-clock to reach ``step`` from ``log.jsonl`` (its first logging interval, which has
    no earlier record, is extrapolated at the run's mean rate)."""
    path = Path(run_dir) / "log.jsonl"
    if not path.is_file():
        return None
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if "samples_per_s" in r and r.get("step", 0) <= step]  # train rows
    if len(rows) < 2:
        return None
    first, last = rows[0], rows[-1]
    rate = (last["time"] - first["time"]) / max(1, last["step"] - first["step"])
    return (last["time"] - first["time"]) + rate * first["step"] + rate * (step - last["step"])


def machine_text() -> str:
    cpu = platform.machine()
    try:
        cpu = next(
            line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if "model name" in line
        )
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores (shared), torch threads {torch.get_num_threads()}"


def _write_entry(folder: Path, run, dtype: str, meta_extra: dict[str, Any]) -> None:
    shipped = [k for k in run.method.ema_models if k in run.models]
    state = {
        f"{name}.{key}": (v.to(DTYPES[dtype]) if v.is_floating_point() else v).cpu().contiguous()
        for name in shipped
        for key, v in run.models[name].state_dict().items()
    }
    save_file(state, str(folder / "model.safetensors"))
    config = run.config.model_dump(mode="json")
    (folder / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    meta = {"info": dict(run.info), "models": shipped, "dtype": dtype, **meta_extra}
    (folder / "meta.json").write_text(json.dumps(meta, indent=2) + "\n")


SCORING_SECTIONS = ("sample.", "eval.")


def with_scoring(run, overrides: list[str] | tuple[str, ...]):
    """``run`` with its sample/eval sections overridden (how an entry is sampled and scored;
    never what was trained, so the weights still match the config)."""
    from dataclasses import replace

    from multigen.config import load_config

    wrong = [o for o in overrides if not o.strip().startswith(SCORING_SECTIONS)]
    if wrong:
        raise ZooError(f"only sample.* and eval.* can be set on a zoo entry, not {wrong}")
    if not overrides:
        return run
    return replace(run, config=load_config(run.config.model_dump(mode="json"), list(overrides)))


def _steps_as_trained(run, step: int):
    """An entry built from an earlier checkpoint of a longer run says the steps its weights
    had (the learning rate is constant after warm-up, so a run of that many steps ends at the
    same weights: ``multigen train zoo:NAME`` retrains exactly this entry)."""
    from dataclasses import replace

    from multigen.config import load_config

    if run.config.train.steps == step:
        return run
    dump = run.config.model_dump(mode="json")
    return replace(run, config=load_config(dump, [f"train.steps={step}"]))


def _same(a: dict[str, float], b: dict[str, float], spread: dict[str, float]) -> bool:
    """Scores equal within the metric's own seed spread (or 1 % of its value)."""
    return all(abs(a[k] - b[k]) <= max(spread.get(k, 0.0), 0.01 * abs(a[k]), 1e-9) for k in a)


def add(
    run_dir: str | Path,
    name: str,
    *,
    title: str | None = None,
    summary: str = "",
    retrain: str | None = None,
    headline: str | None = None,
    checkpoint: str = "latest",
    scoring: list[str] | tuple[str, ...] = (),
    dtype: str = "auto",
    n: int | None = None,
    check_n: int = 64,
    blocks: int = 4,
    anchor: dict[str, str] | None = None,
    notes: str = "",
    machine: str | None = None,
    root: Path = ZOO_DIR,
    log=print,
) -> Path:
    """Write ``root/name`` from a finished run (replacing an older entry of that name)."""
    from multigen.api import load_run

    plain_name(name, "zoo model name")
    if dtype not in ("auto", *DTYPES):
        raise ZooError(f"dtype must be auto, fp32 or bf16, got {dtype!r}")
    run = with_scoring(load_run(run_dir, checkpoint), scoring)
    meta = ckpt.read_meta(run.checkpoint)
    run = _steps_as_trained(run, meta["step"])
    cfg = run.config
    title = title or f"{cfg.method.name} on {cfg.data.name} ({cfg.domain})"
    retrain = retrain or f"multigen train zoo:{name} --out runs/{name}"
    n = n or cfg.eval.n_samples
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".tmp_{name}_", dir=root))
    try:
        meta_extra = {"step": meta["step"], "precision": "fp32", "source": str(run.checkpoint)}
        results: dict[str, dict[str, float]] = {}
        for kind in ("fp32", "bf16") if dtype == "auto" else (dtype,):
            folder = work / kind
            folder.mkdir()
            _write_entry(folder, run, kind, meta_extra)
            entry = load_entry(_with_stub_card(folder, run), device="cpu")
            log(f"[{name}] scoring {kind} weights: {n} samples")
            results[kind] = score(entry, n)
        same_n = results[list(results)[-1]] if check_n == n else None
        check = check_block(entry, check_n, blocks, first=same_n)
        chosen = dtype
        if dtype == "auto":
            spread = {k: v * math.sqrt(check_n / n) for k, v in check["spread"].items()}
            chosen = "bf16" if _same(results["fp32"], results["bf16"], spread) else "fp32"
        folder = work / chosen
        entry = load_entry(folder, device="cpu")
        if chosen != list(results)[-1]:  # the block above was scored with the other dtype
            first = results[chosen] if check_n == n else None
            check = check_block(entry, check_n, blocks, first=first)
        log(f"[{name}] data floor at {n} and at {check_n}")
        floor, floor_split = data_floor(entry, n)
        check["floor"] = data_floor(entry, check_n)[0]  # the check's own size: comparable
        headline = headline or next(k for k in results[chosen] if k not in BOOKKEEPING)
        if headline not in results[chosen]:
            raise ZooError(f"headline metric {headline!r} is not among {sorted(results[chosen])}")
        scored = Scored(results, chosen, dtype, check, floor, floor_split, n, headline)
        text = {"title": title, "summary": summary, "retrain": retrain, "notes": notes}
        card = _card(name, entry, meta, scored, text, anchor, machine or machine_text(), run_dir)
        (folder / "card.json").write_text(json.dumps(card, indent=2) + "\n")
        (folder / "card.md").write_text(cards.render(card))
        write_manifest(folder, list(FILES))
        for f in folder.iterdir():  # package data: readable by everyone
            f.chmod(0o644)
        load_entry(folder, device="cpu")  # the finished entry loads and checks
        final = root / name
        if final.exists():
            shutil.rmtree(final)
        os.replace(folder, final)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return final


def rerender(folder: Path) -> None:
    """Re-derive a card's check tolerances and card.md from its card.json and re-sign the
    manifest (after a change of the card format or the tolerance rule; weights untouched)."""
    from multigen.zoo.scoring import CHECK_MIN_REL, CHECK_SPREAD, tolerances

    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    chk = card["check"]
    chk.update(
        tolerance=tolerances(chk["metrics"], chk["spread"]),
        min_rel=CHECK_MIN_REL,
        spread_factor=CHECK_SPREAD,
    )
    (folder / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    (folder / "card.md").write_text(cards.render(card))
    write_manifest(folder, list(FILES))
    for f in folder.iterdir():
        f.chmod(0o644)


def rescore(folder: Path) -> None:
    """Score a shipped entry again from its own weights (after a metric's feature network
    changed): the evaluation metrics and floor at the card's ``n``, a new check block with
    its floor, then card.md and the manifest (weights, config and the rest untouched)."""
    from multigen import api

    card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
    run = api.load_run(folder, device="cpu")
    ev, n, check_n = card["evaluation"], card["evaluation"]["n"], card["check"]["n"]
    ev["metrics"] = score(run, n)
    ev["floor"] = data_floor(run, n)[0]
    check = check_block(run, check_n, card["check"]["blocks"])
    check["floor"] = data_floor(run, check_n)[0]
    card["check"] = check
    card["rescored"] = date.today().isoformat()
    (folder / "card.json").write_text(json.dumps(card, indent=2) + "\n")
    rerender(folder)


def _with_stub_card(folder: Path, run) -> Path:
    """A provisional card + manifest so the half-built entry loads through the normal path."""
    from multigen.zoo.store import parameter_count

    shipped = {k: run.models[k] for k in run.method.ema_models if k in run.models}
    stub = {
        "domain": run.config.domain,
        "method": run.config.method.name,
        "network": {"name": run.config.model.name, "parameters": parameter_count(shipped)},
    }
    (folder / "card.json").write_text(json.dumps(stub))
    (folder / "card.md").write_text("provisional\n")
    write_manifest(folder, list(FILES))
    return folder


@dataclass(frozen=True)
class Scored:
    """What scoring decided: the scores per dtype, the dtype shipped, the seed-spread check,
    the data floor at ``n`` samples and the headline metric."""

    results: dict[str, dict[str, float]]
    chosen: str
    dtype: str
    check: dict[str, Any]
    floor: dict[str, float]
    floor_split: str
    n: int
    headline: str


def _card(name, entry, meta, scored: Scored, text: dict[str, str], anchor, machine, run_dir):
    """The card's fields; ``text`` holds the title, summary, retrain command and notes."""
    from multigen.zoo.store import parameter_count

    cfg = entry.config
    s = cfg.sample
    d = cfg.data
    method_cfg = cfg.method.model_dump(mode="json")
    method_cfg.pop("name", None)
    weights_file = entry.checkpoint / "model.safetensors"
    results, chosen, headline = scored.results, scored.chosen, scored.headline
    if scored.dtype == "auto":
        a, b = results["fp32"][headline], results["bf16"][headline]
        decision = (
            "bf16: its samples score as fp32's do (every metric within its seed spread or 1 %"
            if chosen == "bf16"
            else "fp32: bf16 weights scored differently (some metric beyond its seed spread"
        ) + f"; {headline} fp32 {a:.4g}, bf16 {b:.4g})"
    else:
        decision = f"{chosen} as asked (not compared with the other)"
    return {
        "name": name,
        "title": text["title"],
        "summary": text["summary"],
        "domain": cfg.domain,
        "dataset": {
            "name": d.name,
            "params": d.params,
            "train_split": "train",
            "reference": cfg.eval.reference or f"{d.name} test split",
            "conditional": d.conditional,
        },
        "method": cfg.method.name,
        "method_config": method_cfg,
        "network": {
            "name": cfg.model.name,
            "params": cfg.model.params,
            "parameters": parameter_count(entry.models),
            "shipped": sorted(entry.models),
        },
        "training": {
            "steps": meta["step"],
            "batch_size": d.batch_size,
            "lr": cfg.train.lr,
            "ema_decay": cfg.train.ema_decay,
            "precision": meta.get("precision", "fp32"),
            "wall_clock_s": training_seconds(Path(run_dir), meta["step"]),
            "machine": machine,
        },
        "weights": {
            "dtype": chosen,
            "bytes": weights_file.stat().st_size,
            "decision": decision,
            "compared": results,
        },
        "sampling": {
            "sampler": s.sampler or entry.method.default_sampler,
            "steps": s.steps,
            "nfe": nfe(entry.method, s.sampler, s.steps),
            "guidance": s.guidance,
            "seed": s.seed,
            # the sampler's own options (churn, eta, …) where the entry sets them
            **({"options": given} if (given := sampler_options(s)) else {}),
        },
        "evaluation": {
            "headline": headline,
            "n": scored.n,
            "metrics": results[chosen],
            "floor": scored.floor,
            "floor_split": scored.floor_split,
            "options": cfg.eval.options,
        },
        "anchor": anchor,
        "check": scored.check,
        "retrain": text["retrain"],
        "notes": text["notes"],
        "created": date.today().isoformat(),
    }


def sampler_options(s) -> dict:
    """The sampler options (``multigen.diffusion.samplers.OPTIONS``) a sample config sets."""
    from multigen.diffusion.samplers import OPTIONS

    return {k: getattr(s, k) for k in OPTIONS if getattr(s, k, None) is not None}

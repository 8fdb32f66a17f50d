"""Zoo entries on disk: where they live, how a reference names one, and loading one into a
ready-to-sample run after checking its files, card, config and weights agree.

An entry is a folder: ``model.safetensors`` (the sampled networks' EMA weights, keys
``<network>.<parameter>``), ``config.yaml`` (the resolved run config), ``meta.json`` (the data
description and step the loader needs), ``card.json`` + ``card.md`` and ``manifest.json``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file

from multigen.config import ConfigError, load_config
from multigen.domain import DataInfo, DomainError
from multigen.fileio import error_text
from multigen.methods import build_method
from multigen.registry import run_domain
from multigen.train import checkpoint as ckpt
from multigen.train.batches import resolve_device
from multigen.zoo.manifest import ZooError, verify

ZOO_DIR = Path(__file__).resolve().parent / "models"
FILES = ("model.safetensors", "config.yaml", "meta.json", "card.json", "card.md")
ZOO_PREFIX, HUB_PREFIX = "zoo:", "hf:"


def names() -> list[str]:
    """The shipped entries, sorted."""
    if not ZOO_DIR.is_dir():
        return []
    return sorted(p.name for p in ZOO_DIR.iterdir() if (p / "card.json").is_file())


def is_reference(ref: Any) -> bool:
    """``zoo:NAME`` or ``hf:ORG/NAME`` (strings only; a Path is always a run folder)."""
    return isinstance(ref, str) and ref.startswith((ZOO_PREFIX, HUB_PREFIX))


def is_entry(folder: Path) -> bool:
    """A folder in the zoo layout (a user's own built entry, or a downloaded one)."""
    return (folder / "manifest.json").is_file() and (folder / "card.json").is_file()


def entry_dir(ref: str | Path) -> Path:
    """The folder of ``zoo:NAME``, ``hf:ORG/NAME`` (downloaded first) or a zoo-layout path."""
    if isinstance(ref, str) and ref.startswith(ZOO_PREFIX):
        name = ref[len(ZOO_PREFIX) :]
        known = names()
        if name not in known:
            raise ZooError(
                f"unknown zoo model {name!r}; known: {', '.join(known) or 'none'} "
                "(see `multigen pretrained list`)"
            )
        return ZOO_DIR / name
    if isinstance(ref, str) and ref.startswith(HUB_PREFIX):
        from multigen.zoo.hub import download

        return download(ref[len(HUB_PREFIX) :])
    folder = Path(ref)
    if not is_entry(folder):
        raise ZooError(f"{folder}: not a zoo entry (no manifest.json and card.json)")
    return folder


def read_card(folder: Path) -> dict[str, Any]:
    """``card.json`` after checking every file of the entry against its manifest."""
    verify(folder, FILES)
    return _json(folder / "card.json")


def _json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ZooError(f"{path}: corrupt JSON ({error_text(exc)})") from None
    if not isinstance(data, dict):
        raise ZooError(f"{path}: corrupt (not a JSON object)")
    return data


def parameter_count(models: dict[str, torch.nn.Module]) -> int:
    return sum(p.numel() for m in models.values() for p in m.parameters())


def check_describes(folder: Path, card: dict[str, Any], cfg, models: dict[str, torch.nn.Module]):
    """A card describes the model its config builds: same domain, method, network and size."""
    net = card.get("network") or {}
    want = {
        "domain": (card.get("domain"), cfg.domain),
        "method": (card.get("method"), cfg.method.name),
        "network": (net.get("name"), cfg.model.name),
        "parameters": (net.get("parameters"), parameter_count(models)),
    }
    wrong = [f"{k} {a!r} vs {b!r}" for k, (a, b) in want.items() if a != b]
    if wrong:
        raise ZooError(
            f"{folder / 'card.json'} does not describe the model its config.yaml builds "
            f"(card vs config: {'; '.join(wrong)}); rebuild it with `multigen pretrained add`"
        )


def load_entry(ref: str | Path, device: str = "auto", weights: str = "ema", checkpoint="latest"):
    """A :class:`multigen.api.LoadedRun` from a zoo entry (EMA weights; one checkpoint)."""
    from multigen.api import LoadedRun

    if weights != "ema":
        raise ZooError(
            f"{ref}: zoo entries keep the EMA weights only; weights={weights!r} does not apply"
        )
    if checkpoint not in ("latest", "best"):
        raise ZooError(
            f"{ref}: a zoo entry has one checkpoint; checkpoint={checkpoint!r} does not apply"
        )
    folder = entry_dir(ref)
    card = read_card(folder)
    meta = _json(folder / "meta.json")
    try:
        cfg = load_config(yaml.safe_load((folder / "config.yaml").read_text(encoding="utf-8")))
        domain = run_domain(cfg)
        info = DataInfo.of(meta["info"])
        method = build_method(cfg, domain, info)
    except (ConfigError, DomainError, KeyError, yaml.YAMLError) as exc:
        raise ZooError(f"{folder}: its model cannot be built ({error_text(exc)})") from None
    shipped = meta.get("models") or list(method.ema_models)
    models = {k: method.models[k] for k in shipped if k in method.models}
    if len(models) != len(shipped):
        raise ZooError(f"{folder / 'meta.json'}: names networks {shipped} the method lacks")
    check_describes(folder, card, cfg, models)
    path = folder / "model.safetensors"
    try:
        state = load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise ZooError(f"{path}: cannot read weights ({error_text(exc)})") from None
    state = {f"ema/{k}": v for k, v in state.items()}
    ckpt.require_finite(state, str(path))
    try:
        ckpt.restore_modules(state, "ema", models, path)
    except ckpt.CheckpointError as exc:  # the config builds another model than the weights
        raise ZooError(f"{exc} (config.yaml and model.safetensors disagree)") from None
    dev = resolve_device(device)
    models = {k: m.float().to(dev).eval() for k, m in models.items()}
    precision = meta.get("precision") or "fp32"
    return LoadedRun(cfg, domain, method, models, info, dev, folder, "ema", precision)

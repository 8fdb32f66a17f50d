"""Checkpoints: safetensors weights + a weights-only torch file of optimizer/RNG state +
meta.json, written into a temporary folder and renamed into place, so a crash or kill
never leaves a half-written checkpoint where a good one was.

Layout: ``RUN/checkpoints/step_00001000/{weights.safetensors, state.pt, meta.json}`` and
``RUN/checkpoints/best/`` (a copy of the best one by the configured metric).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from multigen.fileio import atomic_write_text, error_text

PREFIXES = ("model", "ema")


class CheckpointError(ValueError):
    """A checkpoint that cannot be used (missing, corrupt, or from another model)."""


def step_dir_name(step: int) -> str:
    return f"step_{step:08d}"


def list_checkpoints(run_dir: Path) -> list[Path]:
    """Finished checkpoints of a run, oldest first (temporary folders are ignored)."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("step_*") if (p / "meta.json").is_file())


def latest_checkpoint(run_dir: Path) -> Path | None:
    found = list_checkpoints(run_dir)
    return found[-1] if found else None


def flat_state(groups: dict[str, dict[str, nn.Module]]) -> dict[str, torch.Tensor]:
    """``{"model/generator.layer.weight": tensor, "ema/...": ...}`` (contiguous CPU copies)."""
    flat = {}
    for prefix, models in groups.items():
        for name, module in models.items():
            for key, value in module.state_dict().items():
                flat[f"{prefix}/{name}.{key}"] = value.detach().to("cpu").contiguous().clone()
    return flat


def save_checkpoint(
    run_dir: Path,
    step: int,
    weights: dict[str, torch.Tensor],
    state: dict[str, Any],
    meta: dict[str, Any],
    keep_last: int,
) -> Path:
    root = Path(run_dir) / "checkpoints"
    final = root / step_dir_name(step)
    try:
        root.mkdir(parents=True, exist_ok=True)
        remove_temporaries(run_dir)
        tmp = Path(tempfile.mkdtemp(prefix=".tmp_", dir=root))
    except OSError as exc:
        raise _write_error(run_dir, final, exc) from None
    try:
        save_file(weights, str(tmp / "weights.safetensors"))
        torch.save(state, tmp / "state.pt")
        (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
        for f in tmp.iterdir():  # make the bytes durable before the rename publishes them
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, OSError):  # a full disk, a quota, a read-only folder
            raise _write_error(run_dir, final, exc) from None
        raise
    for old in list_checkpoints(run_dir)[:-keep_last]:
        shutil.rmtree(old, ignore_errors=True)
    return final


TEMPORARY_PREFIXES = (".tmp_", ".old_best_")


def remove_temporaries(run_dir: Path) -> list[Path]:
    """Delete the temporary folders a killed writer left in ``RUN/checkpoints`` (only the run's
    lock holder writes there, so none of them belongs to a live writer)."""
    root = Path(run_dir) / "checkpoints"
    found = [p for p in root.glob(".*") if p.name.startswith(TEMPORARY_PREFIXES)]
    for p in found:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return found


def _write_error(run_dir: Path, final: Path, exc: OSError) -> CheckpointError:
    last = latest_checkpoint(run_dir)
    kept = f"the last good one, {last}, is intact" if last else "no earlier checkpoint exists"
    return CheckpointError(
        f"cannot write checkpoint {final}: {exc.strerror or exc} (errno {exc.errno}); {kept}; "
        "free space (or fix the folder) and continue with --resume"
    )


def mark_best(run_dir: Path, checkpoint: Path) -> Path:
    """Copy a finished checkpoint to ``checkpoints/best`` (atomically replaced)."""
    root = Path(run_dir) / "checkpoints"
    tmp = Path(tempfile.mkdtemp(prefix=".tmp_best_", dir=root))
    shutil.rmtree(tmp)
    try:
        shutil.copytree(checkpoint, tmp)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise _write_error(run_dir, root / "best", exc) from None
    old = root / "best"
    if old.exists():
        trash = Path(tempfile.mkdtemp(prefix=".old_best_", dir=root))
        os.replace(old, trash / "best")
        os.replace(tmp, old)
        shutil.rmtree(trash, ignore_errors=True)
    else:
        os.replace(tmp, old)
    return old


def update_meta(checkpoint: Path, **fields: Any) -> dict[str, Any]:
    """Set ``fields`` in a finished checkpoint's meta.json (atomically replaced)."""
    meta = {**read_meta(checkpoint), **fields}
    atomic_write_text(Path(checkpoint) / "meta.json", json.dumps(meta, indent=2))
    return meta


def nonfinite_tensors(weights: dict[str, torch.Tensor]) -> list[str]:
    """Names of floating-point tensors holding NaN or ±inf."""
    return [
        k for k, v in weights.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]


def require_finite(weights: dict[str, torch.Tensor], source: str) -> None:
    bad = nonfinite_tensors(weights)
    if bad:
        more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
        raise CheckpointError(
            f"{source}: non-finite weights in {', '.join(bad[:3])}{more}; "
            "the run diverged — use an earlier checkpoint (--checkpoint) or retrain"
        )


META_FIELDS = {"config": dict, "info": dict, "step": int}


def read_meta(checkpoint: Path) -> dict[str, Any]:
    path = Path(checkpoint) / "meta.json"
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing; is {checkpoint} a multigen checkpoint?") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupt JSON ({error_text(exc)})") from None
    for key, kind in META_FIELDS.items():
        if not isinstance(meta, dict) or not isinstance(meta.get(key), kind):
            raise CheckpointError(f"{path}: corrupt: no {key!r} {kind.__name__} in it")
    return meta


def load_weights(checkpoint: Path) -> dict[str, torch.Tensor]:
    path = Path(checkpoint) / "weights.safetensors"
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise CheckpointError(f"{path}: cannot read weights ({error_text(exc)})") from None


def load_state(checkpoint: Path) -> dict[str, Any]:
    path = Path(checkpoint) / "state.pt"
    try:
        return torch.load(path, weights_only=True, map_location="cpu")
    except FileNotFoundError:
        raise CheckpointError(f"{path}: missing") from None
    except Exception as exc:
        raise CheckpointError(
            f"{path}: cannot read training state ({error_text(exc, 160)})"
        ) from None


def restore_modules(
    weights: dict[str, torch.Tensor], prefix: str, models: dict[str, nn.Module], source: Path
) -> None:
    """Load ``prefix/name.*`` weights into each module; a shape or key mismatch names them."""
    for name, module in models.items():
        head = f"{prefix}/{name}."
        sub = {k[len(head) :]: v for k, v in weights.items() if k.startswith(head)}
        expected = module.state_dict()
        missing = sorted(set(expected) - set(sub))
        unexpected = sorted(set(sub) - set(expected))
        wrong = sorted(k for k in set(sub) & set(expected) if sub[k].shape != expected[k].shape)
        if missing or unexpected or wrong:
            detail = []
            if missing:
                detail.append(f"missing {missing[:3]}{'…' if len(missing) > 3 else ''}")
            if unexpected:
                detail.append(f"unexpected {unexpected[:3]}{'…' if len(unexpected) > 3 else ''}")
            if wrong:
                k = wrong[0]
                detail.append(f"shape of {k}: {tuple(sub[k].shape)} vs {tuple(expected[k].shape)}")
            raise CheckpointError(
                f"{source}: weights for {name!r} come from a different model "
                f"({'; '.join(detail)}); check the config's model section"
            )
        module.load_state_dict(sub)

"""What each cell records besides its metrics: environment, config hash, peak memory.

Peak memory on CPU is the process's resident high-water mark (VmHWM), reset before each
phase through /proc/self/clear_refs where Linux allows it; otherwise ``ru_maxrss`` (a
process-lifetime peak, flagged as such). On CUDA it is ``torch.cuda.max_memory_allocated``.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import resource
import sys
from pathlib import Path
from typing import Any

import torch

from multigen.fileio import atomic_write_text


def config_hash(obj: Any) -> str:
    """Stable short hash of a JSON-serialisable object (sorted keys)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "torch": torch.__version__}
    for pkg in ("multigen", "numpy", "scipy", "rdkit", "trimesh", "torchaudio"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            continue
    return out


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
    }
    try:
        info["load_avg_1m"] = round(os.getloadavg()[0], 2)
    except OSError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return "cpu"


class PeakMemory:
    """Peak memory of one phase: ``with PeakMemory(device) as m: ...; m.mib``."""

    def __init__(self, device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.mib: float | None = None
        self.base_mib: float | None = None  # resident/allocated memory when the phase began
        self.kind = ""

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
            self.base_mib = torch.cuda.memory_allocated(self.device) / 2**20
        rss = _read_status_kib("VmRSS")
        if self.device.type != "cuda" and rss is not None:
            self.base_mib = rss / 1024
        self._reset = _reset_hwm()
        return self

    @property
    def delta_mib(self) -> float | None:
        """Growth over the phase's starting footprint (what the phase itself needed)."""
        if self.mib is None or self.base_mib is None:
            return None
        return max(self.mib - self.base_mib, 0.0)

    def __exit__(self, *exc: Any) -> None:
        if self.device.type == "cuda":
            self.mib = torch.cuda.max_memory_allocated(self.device) / 2**20
            self.kind = "cuda_max_allocated"
            return
        hwm = _read_status_kib("VmHWM")
        if self._reset and hwm is not None:
            self.mib, self.kind = hwm / 1024, "rss_peak"
        else:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
            scale = 1 if sys.platform != "darwin" else 1 / 1024  # macOS reports bytes
            self.mib, self.kind = peak * scale / 1024, "rss_peak_process_lifetime"


def _reset_hwm() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _read_status_kib(field: str) -> int | None:
    try:
        m = re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text())
    except OSError:
        return None
    return int(m.group(1)) if m else None


def write_json(path: Path, obj: Any) -> None:
    """Atomic write: a Ctrl-C never leaves a half-written cell."""
    atomic_write_text(path, json.dumps(obj, indent=2, default=_jsonable))


def _jsonable(v: Any) -> Any:
    if hasattr(v, "item"):
        return v.item()
    return str(v)


def clean_number(v: Any) -> Any:
    """NaN/inf are not JSON: keep them as strings so the file stays valid JSON."""
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return str(v)
    return v

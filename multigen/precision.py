"""Training/sampling precision: ``fp32``, ``bf16`` or ``auto``.

``auto`` picks bf16 only where the hardware computes it natively: a CUDA device that
supports bf16, or a CPU with AVX-512 BF16 or AMX. On other CPUs (AVX2 only) bf16 matmuls
are emulated and several times slower than fp32 (reported: a DiffWave trained at 0.6 vs 3.8
clips/s), so ``auto`` stays in fp32 there. Even with native bf16 some CPU networks run
slower in bf16 (measured here: the digits U-Net at 0.33-0.50x, DiffWave at 1.7-4.3x;
benchmarks/results/precision_auto.md), so the trainer also times one step each way on such
CPUs (:func:`measure_speedup`) and records the choice in every checkpoint; resuming and
sampling reuse the recorded choice.
"""

from __future__ import annotations

import contextlib
import functools

import torch

PRECISIONS = ("auto", "fp32", "bf16")


@functools.cache
def cpu_bf16_features() -> tuple[str, ...]:
    """The native-bf16 features of this CPU (empty when bf16 would be emulated)."""
    found = []
    cpu = getattr(torch, "cpu", None)
    for name, probe in (
        ("avx512_bf16", "_is_avx512_bf16_supported"),
        ("amx_tile", "_is_amx_tile_supported"),
    ):
        check = getattr(cpu, probe, None)
        if check is not None and check():
            found.append(name)
    if not found:  # aarch64 (and torch builds without the probes): the kernel's CPU flags
        try:
            text = open("/proc/cpuinfo").read()
        except OSError:
            text = ""
        flags = set(text.replace(":", " ").split())
        found = [f for f in ("avx512_bf16", "amx_bf16", "bf16") if f in flags]
    return tuple(found)


def resolve_precision(choice: str, device: torch.device | str) -> tuple[str, str]:
    """``(precision, reason)`` with precision ``fp32`` or ``bf16``; ``reason`` is for the log."""
    if choice not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {choice!r}")
    if choice != "auto":
        return choice, "set in the config"
    kind = torch.device(device).type
    if kind == "cuda":
        if torch.cuda.is_bf16_supported():
            return "bf16", "auto: the GPU supports bf16"
        return "fp32", "auto: the GPU has no bf16"
    if kind == "cpu":
        feats = cpu_bf16_features()
        if feats:
            return "bf16", f"auto: the CPU has native bf16 ({', '.join(feats)})"
        return "fp32", "auto: the CPU has no native bf16 (it would be emulated, several x slower)"
    return "fp32", f"auto: fp32 on {kind}"


BF16_MIN_SPEEDUP = 1.15  # below this, timing noise could flip the choice between runs


def measure_speedup(time_step, repeats: int = 2) -> float:
    """fp32 time / bf16 time of ``time_step(precision) -> seconds``: one warm-up call each,
    then the best of ``repeats`` alternating calls (machine load hits both alike)."""
    time_step("fp32")
    time_step("bf16")
    best = {"fp32": float("inf"), "bf16": float("inf")}
    for _ in range(repeats):
        for p in best:
            best[p] = min(best[p], time_step(p))
    return best["fp32"] / max(best["bf16"], 1e-12)


def autocast(device: torch.device, precision: str) -> contextlib.AbstractContextManager:
    """bf16 autocast when ``precision`` (``auto`` resolved for ``device``) is bf16."""
    if resolve_precision(precision, device)[0] == "bf16":
        return torch.autocast(torch.device(device).type, dtype=torch.bfloat16)
    return contextlib.nullcontext()


def autocast_bf16(device_type: str) -> bool:
    """True inside a bf16 autocast region (networks with hand-written bf16 paths follow it)."""
    return torch.is_autocast_enabled(device_type) and (
        torch.get_autocast_dtype(device_type) == torch.bfloat16
    )

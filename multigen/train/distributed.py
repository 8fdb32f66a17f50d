"""Data parallelism under ``torchrun``: one process per device, gradients averaged.

Gradients are all-reduced per optimisation phase (flattened into one buffer), which keeps
GAN phases with frozen networks simple and is equivalent to DDP's averaging.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def init_distributed(device_type: str) -> DistInfo:
    """Join the process group torchrun describes in the environment (no-op otherwise)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device_type == "cuda" else "gloo")
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")))


def average_gradients(modules: list[nn.Module], world_size: int) -> None:
    grads = [p.grad for m in modules for p in m.parameters() if p.grad is not None]
    if world_size <= 1 or not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for g in grads:
        n = g.numel()
        g.copy_(flat[offset : offset + n].view_as(g))
        offset += n


def all_ranks_true(flag: torch.Tensor, info: DistInfo) -> bool:
    """``flag`` (a 0-d bool tensor) is true on every rank."""
    if not info.enabled:
        return bool(flag)
    t = flag.to(torch.int32).reshape(1)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return bool(t.item())


def broadcast_modules(modules: list[nn.Module]) -> None:
    """Start every rank from rank 0's weights."""
    for m in modules:
        for t in list(m.parameters()) + list(m.buffers()):
            dist.broadcast(t.data, 0)


def barrier(info: DistInfo) -> None:
    if info.enabled:
        dist.barrier()

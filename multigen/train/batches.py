"""Which data a training step sees, and on which device it runs.

The data order is a pure function of (seed, step), so ``--resume`` continues exactly and a
2-process run sees the same global batches as a 1-process run.
"""

from __future__ import annotations

import torch

from multigen.domain import DomainError


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

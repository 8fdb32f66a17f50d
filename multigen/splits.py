"""One seeded train/valid/test split for folders and files that come without one.

A user's molecule file and a user's audio folder without ``train/``/``test/`` sub-folders are
split the same way: a permutation seeded by ``seed``, the first 80 % train, the next 10 %
valid, the rest test, so a run never scores itself on its own training items.
"""

from __future__ import annotations

import numpy as np

SPLIT_NAMES = ("train", "valid", "test", "all")
FRACTIONS = (0.8, 0.1, 0.1)


def seeded_split(n: int, split: str, seed: int = 0, fractions=FRACTIONS) -> np.ndarray:
    """Sorted indices of ``split`` (train, valid/val, test or all) among ``n`` items."""
    from multigen.domain import DomainError

    if split not in SPLIT_NAMES and split != "val":
        raise DomainError(f"split {split!r} unknown; use one of {', '.join(SPLIT_NAMES)}")
    perm = np.random.RandomState(seed).permutation(n)
    n_train, n_valid = int(fractions[0] * n), int(fractions[1] * n)
    parts = {
        "train": perm[:n_train],
        "valid": perm[n_train : n_train + n_valid],
        "test": perm[n_train + n_valid :],
        "all": perm,
    }
    parts["val"] = parts["valid"]
    return np.sort(parts[split])


def describe_split(n: int, seed: int = 0) -> str:
    """The policy in words (logs and notes)."""
    shares = "/".join(f"{round(f * 100)}" for f in FRACTIONS)
    return f"a seeded {shares} train/valid/test split of its {n} items (seed {seed})"

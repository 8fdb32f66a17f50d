"""Hypothesis strategies for broken files: mutations of a valid seed, random bytes, empties."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from .harness import NUMBERS, mutate

FAST = settings(
    max_examples=12,
    derandomize=True,  # the default run is seeded: same inputs every time
    deadline=None,  # the harness's own time limit applies per case
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# thousands per reader under `-m slow`; MULTIGEN_FUZZ_EXAMPLES overrides the count
SLOW = settings(
    FAST, max_examples=int(os.environ.get("MULTIGEN_FUZZ_EXAMPLES", 2000)), derandomize=False
)

KINDS = ["truncate", "overwrite", "insert", "tail", "number", "empty"]
TEXT_KINDS = ["truncate", "overwrite", "insert", "number", "number", "number"]


def ops(text: bool):
    payload = st.one_of(st.binary(min_size=1, max_size=48), st.sampled_from(NUMBERS))
    kind = st.sampled_from(TEXT_KINDS if text else KINDS)
    return st.lists(st.tuples(kind, st.integers(0, 1 << 16), payload), min_size=1, max_size=4)


def broken_file(seed: bytes, text: bool):
    """Mostly mutated seeds; sometimes random bytes or nothing at all."""
    mutated = ops(text).map(lambda o: mutate(seed, o))
    return st.one_of(mutated, mutated, mutated, st.binary(max_size=512), st.just(b""))

"""Property-based fuzzing of every input reader (see harness.py for the contract).

The default run tries a small seeded set per reader; ``pytest -m slow tests/fuzz`` tries a
thousand random ones per reader."""

import tempfile
from pathlib import Path

import pytest
from hypothesis import given

from .harness import check
from .readers import READERS, seed_bytes, write_case
from .strategies import FAST, SLOW, broken_file


def fuzz_case(reader, data: bytes) -> None:
    with tempfile.TemporaryDirectory() as d:
        check(reader.read, write_case(Path(d), reader, data), reader.names)


def make_test(reader, profile):
    @profile
    @given(data=broken_file(seed_bytes(reader.name), reader.text))
    def run(data):
        fuzz_case(reader, data)

    return run


@pytest.mark.parametrize("name", [r.name for r in READERS])
def test_reader_fuzz_fast(name):
    reader = next(r for r in READERS if r.name == name)
    make_test(reader, FAST)()


@pytest.mark.slow
@pytest.mark.parametrize("name", [r.name for r in READERS])
def test_reader_fuzz_thousands(name):
    reader = next(r for r in READERS if r.name == name)
    make_test(reader, SLOW)()

"""Fuzzing the run-side readers: ``--set`` strings and checkpoint folders (meta.json,
weights.safetensors, state.pt) of a real tiny run."""

import shutil
import tempfile
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from multigen import api
from multigen.config import load_config
from multigen.train import checkpoint as ckpt
from tests.train.helpers import tiny_config

from .harness import check
from .readers import YAML
from .strategies import FAST, SLOW, broken_file

KEYS = [
    "train.lr",
    "train.steps",
    "data.batch_size",
    "data.params",
    "model.params.width",
    "method.name",
    "sample.n",
    "eval.n_samples",
    "train",
    "nonexistent.key",
    "train.lr.deeper",
    "",
    " ",
]
VALUES = st.one_of(
    st.sampled_from(
        [
            "nan",
            ".nan",
            ".inf",
            "-.inf",
            "1e999",
            "[",
            "{a: 1",
            "- x",
            "!!python/none",
            "&a *a",
            "0",
            "-5",
            "1e6",
            "'",
            "null",
            "{}",
            "[]",
            "true",
        ]
    ),
    st.text(max_size=40),
)
SET_STRINGS = st.one_of(
    st.builds(lambda k, v: f"{k}={v}", st.sampled_from(KEYS), VALUES),
    st.text(max_size=60),
)


@cache
def base_config() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz_cfg_"))
    (folder / "base.yaml").write_bytes(YAML)
    return folder / "base.yaml"


def set_case(assignment: str) -> str:
    key = assignment.split("=", 1)[0].strip()
    first = key.split(".")[0].strip()
    candidates = (key, first, repr(first)[1:-1], assignment.strip(), "--set")
    names = tuple(n for n in candidates if n)
    return check(lambda p: load_config(p, [assignment]), base_config(), names=names)


@cache
def trained_run() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="fuzz_run_"))
    return api.train(tiny_config("flow", steps=2, checkpoint_every=2), out=folder / "run")


def checkpoint_case(target: str, data: bytes) -> str:
    with tempfile.TemporaryDirectory() as d:
        run = Path(d) / "run"
        shutil.copytree(trained_run(), run)
        last = ckpt.latest_checkpoint(run)
        (last / target).write_bytes(data)
        names = (target, last.name)  # the file, or the checkpoint folder it belongs to
        if target == "state.pt":
            return check(lambda p: ckpt.load_state(p.parent), last / target, names)
        else:
            return check(lambda p: api.load_run(run, device="cpu").models, last / target, names)


TARGETS = ["meta.json", "weights.safetensors", "state.pt"]


def seed_of(target: str) -> bytes:
    return (ckpt.latest_checkpoint(trained_run()) / target).read_bytes()


@FAST
@given(assignment=SET_STRINGS)
def test_set_strings_fast(assignment):
    set_case(assignment)


@pytest.mark.slow
@SLOW
@given(assignment=SET_STRINGS)
def test_set_strings_thousands(assignment):
    set_case(assignment)


def run_checkpoint_fuzz(target: str, profile) -> None:
    @profile
    @given(data=broken_file(seed_of(target), target == "meta.json"))
    def run(data):
        checkpoint_case(target, data)

    run()


@pytest.mark.parametrize("target", TARGETS)
def test_checkpoint_files_fast(target):
    run_checkpoint_fuzz(target, FAST)


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS)
def test_checkpoint_files_thousands(target):
    run_checkpoint_fuzz(target, SLOW)

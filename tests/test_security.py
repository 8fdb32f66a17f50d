"""Security (issue 19): nothing a user supplies is unpickled or executed, named things never
escape their folders, and the HTML reports show file names and captions as text."""

import io
import os
import pickle
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from multigen import api
from multigen.bench.gallery import gallery_html
from multigen.bench.report import table_html
from multigen.bench.suite import suite_path
from multigen.config import ConfigError, load_config
from multigen.domain import DomainError
from multigen.fileio import load_numpy, plain_name
from multigen.registry import get_domain
from multigen.train import checkpoint as ckpt
from tests.train.helpers import tiny_config


class Payload:
    """Unpickling this creates the marker file: proof that a loader ran user code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    return api.train(tiny_config("flow", steps=2), out=tmp_path_factory.mktemp("r") / "run")


def test_checkpoint_state_is_never_unpickled(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    last = ckpt.latest_checkpoint(copy)
    marker = tmp_path / "pwned"
    torch.save({"step": 2, "evil": Payload(marker)}, last / "state.pt")
    with pytest.raises(ckpt.CheckpointError, match="state.pt"):
        ckpt.load_state(last)
    with pytest.raises(ckpt.CheckpointError, match="state.pt"):
        api.train(tiny_config("flow", steps=3), out=copy, resume=True)
    assert not marker.exists()


def test_weights_file_that_is_a_pickle_is_refused(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    last = ckpt.latest_checkpoint(copy)
    marker = tmp_path / "pwned"
    (last / "weights.safetensors").write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(ckpt.CheckpointError, match="weights.safetensors"):
        api.load_run(copy, device="cpu")
    assert not marker.exists()


def test_numpy_files_with_objects_are_never_unpickled(tmp_path):
    marker = tmp_path / "pwned"
    arr = np.array([Payload(marker)], dtype=object)
    np.save(tmp_path / "evil.npy", arr, allow_pickle=True)
    np.savez(tmp_path / "evil.npz", x=arr)
    for name in ("evil.npy", "evil.npz"):
        with pytest.raises(DomainError, match="Python objects"):
            load_numpy(tmp_path / name)
    for domain, name in (("images", "evil.npz"), ("toy", "evil.npy"), ("shapes", "evil.npy")):
        with pytest.raises(DomainError, match=name):
            get_domain(domain).load_samples(tmp_path / name, strict=True)
    assert not marker.exists()


def test_yaml_configs_are_loaded_safely(tmp_path):
    marker = tmp_path / "pwned"
    evil = tmp_path / "evil.yaml"
    evil.write_text(f"domain: !!python/object/apply:os.system ['touch {marker}']\n")
    with pytest.raises(ConfigError, match="evil.yaml"):
        load_config(evil)
    with pytest.raises(ConfigError):
        load_config(
            tmp_path / "evil.yaml", [f"train.lr=!!python/object/apply:os.system ['touch {marker}']"]
        )
    assert not marker.exists()


@pytest.mark.parametrize("name", ["../x", "a/b", "..", ".hidden", "", "a\\b", "x\0y"])
def test_names_cannot_escape_their_folder(name):
    with pytest.raises(DomainError):
        plain_name(name, "thing")


def test_suite_and_demo_names_stay_in_their_folders(tmp_path):
    outside = tmp_path / "outside.yaml"
    outside.write_text("domains: [toy]\n")
    rel = os.path.relpath(outside.with_suffix(""), suite_path("smoke").parent)
    with pytest.raises(DomainError, match="not a plain name"):
        suite_path(rel)  # ../../…/outside: a name that would leave configs/bench
    assert suite_path(str(outside)) == outside  # an explicit file path is the user's choice
    with pytest.raises(DomainError, match="unknown domain"):
        api.demo_config("../toy", fast=True)


HOSTILE = '<script>alert("x")'  # a file name cannot hold "/", so no closing tag


def png_bytes():
    buf = io.BytesIO()
    Image.new("RGB", (4, 4)).save(buf, "PNG")
    return buf.getvalue()


def test_gallery_shows_hostile_file_names_as_text(tmp_path):
    names = [f"{HOSTILE}.png", '"><img src=x onerror=alert(1)>.png', f"{HOSTILE}.wav"]
    for n in names[:2]:
        (tmp_path / n).write_bytes(png_bytes())
    (tmp_path / names[2]).write_bytes(b"RIFF")  # embedded as a clip under its name
    xyz = tmp_path / "m.xyz"
    xyz.write_text(f"1\n{HOSTILE}\n{HOSTILE} 0 0 0\n")  # an element name from the file
    page = gallery_html(tmp_path, [*names, "m.xyz"])
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;" in page


def test_report_tables_escape_every_cell():
    page = table_html([HOSTILE], [[HOSTILE, HOSTILE]], [HOSTILE])
    assert "<script>" not in page and page.count("&lt;script&gt;") == 4

"""Folders as users have them: empty, holding a symlink loop, or files with very long or
non-UTF-8 names. Every folder reader (each domain's samples folder and its folder dataset)
keeps the contract: data, or one line naming the folder, within the time limit."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from multigen.registry import get_domain

from .harness import check
from .readers import _audio, _mesh, _ply_points, _png, _sdf

# domain -> (a valid file's suffix and bytes, read a folder of samples, read a folder dataset)
FOLDERS = {
    "images": (
        ".png",
        _png,
        lambda p: get_domain("images").load_samples(p),
        lambda p: get_domain("images").load_dataset("folder", str(p), "train", size=16),
    ),
    "audio": (
        ".wav",
        lambda: _audio("WAV", "PCM_16"),
        lambda p: get_domain("audio").load_samples(p),
        lambda p: get_domain("audio").load_dataset("folder", str(p), "all", length=256),
    ),
    "shapes": (
        ".ply",
        _ply_points,
        lambda p: get_domain("shapes").load_samples(p, n_points=64),
        lambda p: get_domain("shapes").load_dataset(
            "pointcloud_folder", str(p), "train", n_points=64, test_fraction=0.0
        ),
    ),
    "meshes": (
        ".obj",
        lambda: _mesh("obj"),
        lambda p: get_domain("shapes").load_samples(p, n_points=64),
        lambda p: get_domain("shapes").load_dataset(
            "mesh_folder", str(p), "train", n_points=64, test_fraction=0.0
        ),
    ),
    "molecules": (
        ".sdf",
        _sdf,
        lambda p: get_domain("molecules").load_samples(p),
        None,  # molecule datasets are files, not folders
    ),
}  # toy reads single files only
CASES = [(d, which) for d, spec in FOLDERS.items() for which in (2, 3) if spec[which]]


def _files_dir(folder: Path, which: int) -> Path:
    """Samples folders are flat (as the exporters write them); datasets take class folders."""
    where = folder if which == 2 else folder / "cls"
    where.mkdir(parents=True, exist_ok=True)
    return where


def _ids(case):
    return f"{case[0]}-{'samples' if case[1] == 2 else 'dataset'}"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_empty_folder_is_one_line(case, tmp_path):
    domain, which = case
    folder = tmp_path / "empty"
    folder.mkdir()
    assert check(FOLDERS[domain][which], folder, names=(str(folder), "empty")) == "refused"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_symlink_loop_neither_hangs_nor_is_read_twice(case, tmp_path):
    domain, which = case
    suffix, data, *_ = FOLDERS[domain]
    folder = tmp_path / "data"
    files = _files_dir(folder, which)
    for i in range(3):
        (files / f"item{i}{suffix}").write_bytes(data())
    os.symlink(folder, files / "loop")  # a link back to the top: a cycle
    assert check(FOLDERS[domain][which], folder, names=(str(folder),)) == "ok"


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_very_long_and_non_utf8_names_are_read(case, tmp_path):
    domain, which = case
    suffix, data, *_ = FOLDERS[domain]
    folder = tmp_path / "data"
    files = _files_dir(folder, which)
    long_name = "x" * (250 - len(suffix)) + suffix  # 250 bytes: near the 255-byte limit
    (files / long_name).write_bytes(data())
    odd = os.fsencode(files) + b"/caf\xe9" + suffix.encode()  # Latin-1, not UTF-8
    Path(os.fsdecode(odd)).write_bytes(data())
    for i in range(2):
        (files / f"item{i}{suffix}").write_bytes(data())
    assert check(FOLDERS[domain][which], folder, names=(str(folder),)) == "ok"

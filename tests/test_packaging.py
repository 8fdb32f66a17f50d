"""The project installs as a package: a wheel built from the checkout, installed into a fresh
virtual environment, runs `multigen info` and the fast toy demo from a directory that is not
the checkout (so nothing is found through the working tree)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(cmd: list[str], cwd: Path, env: dict[str, str] | None = None, timeout: int = 600):
    out = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{out.stdout}\n{out.stderr}"
    return out


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    # Built from a copy of what a clean clone holds: an in-tree build/ folder keeps files of
    # modules since removed, and a wheel built over it would ship them.
    src, dist = tmp_path_factory.mktemp("src"), tmp_path_factory.mktemp("dist")
    junk = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in ("multigen", "domains"):
        shutil.copytree(ROOT / name, src / name, ignore=junk)
    for name in ("setup.py", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    # No build isolation: the build needs only setuptools, which the test environment has.
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(dist), str(src)],
        cwd=dist,
    )  # fmt: skip
    (path,) = dist.glob("multigen-*.whl")
    return path


def test_wheel_holds_owned_packages_and_configs(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {n.split("/")[0] for n in names if not n.endswith(".dist-info/RECORD")}
    assert "multigen_domains" in tops and "multigen" in tops
    assert "domains" not in tops, "a bare `domains` package could clash with other projects"
    assert "multigen/configs/toy/demo_fast.yaml" in names
    assert "multigen/configs/bench/cpu.yaml" in names
    zoo = [n for n in names if n.startswith("multigen/zoo/models/")]  # the pretrained models
    assert any(n.endswith("/manifest.json") for n in zoo)
    assert any(n.endswith("/model.safetensors") for n in zoo)
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry).decode()
    assert "toy = multigen_domains.toy:get_domain" in text


def test_installed_wheel_runs_outside_the_checkout(wheel, tmp_path):
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    # The dependencies (torch, rdkit, ...) come from this environment's site-packages through a
    # path file; multigen itself only from the wheel. The editable install's finder is not
    # loaded that way (nested .pth files are not processed), so it cannot leak in.
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    purelib.mkdir(parents=True, exist_ok=True)
    (purelib / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q",
          str(wheel)], cwd=tmp_path)  # fmt: skip
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["MULTIGEN_CACHE"] = str(tmp_path / "cache")
    code = "import multigen, multigen_domains; print(multigen.__file__, multigen_domains.__file__)"
    where = _run([str(python), "-c", code], elsewhere, env)
    assert str(ROOT) not in where.stdout and str(venv) in where.stdout
    info = _run([str(venv / "bin" / "multigen"), "info"], elsewhere, env)
    assert "molecules" in info.stdout and "toy" in info.stdout
    _run([str(venv / "bin" / "multigen"), "demo", "--domain", "toy", "--fast", "--out", "demo"],
         elsewhere, env)  # fmt: skip
    assert any((elsewhere / "demo").rglob("*.json"))
    # A shipped config by its README path, from a directory without configs/
    _run([str(venv / "bin" / "multigen"), "train", "configs/toy/demo_fast.yaml", "--out", "run",
          "--set", "train.steps=5"], elsewhere, env)  # fmt: skip
    assert (elsewhere / "run").is_dir()

"""The shared atomic writers: a failed write leaves the previous file or folder untouched and no
temporary file behind; a successful one replaces it whole."""

from __future__ import annotations

import numpy as np
import pytest

from multigen.fileio import atomic_dir, atomic_save, atomic_write_text, cache_root


def test_atomic_save_keeps_old_file_when_the_writer_fails(tmp_path):
    path = tmp_path / "table.npz"
    atomic_save(path, lambda tmp: np.savez(tmp, a=np.arange(3)))
    assert np.load(path)["a"].tolist() == [0, 1, 2]

    def broken(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        atomic_save(path, broken)
    assert np.load(path)["a"].tolist() == [0, 1, 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.npz"]


def test_atomic_save_keeps_the_extension_numpy_would_append(tmp_path):
    # np.savez appends ".npz" to a name without it: the temporary name must already end so
    atomic_save(tmp_path / "x.npz", lambda tmp: np.savez(tmp, a=np.ones(2)))
    assert [p.name for p in tmp_path.iterdir()] == ["x.npz"]


def test_atomic_dir_replaces_whole_or_not_at_all(tmp_path):
    folder = tmp_path / "subset"
    with atomic_dir(folder) as tmp:
        (tmp / "a.txt").write_text("one")
    assert (folder / "a.txt").read_text() == "one"
    with pytest.raises(RuntimeError), atomic_dir(folder) as tmp:
        (tmp / "b.txt").write_text("half")
        raise RuntimeError("killed")
    assert sorted(p.name for p in folder.iterdir()) == ["a.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["subset"]
    with atomic_dir(folder) as tmp:  # an older folder is replaced, not merged
        (tmp / "c.txt").write_text("new")
    assert sorted(p.name for p in folder.iterdir()) == ["c.txt"]


def test_atomic_write_text_and_cache_root(tmp_path, monkeypatch):
    atomic_write_text(tmp_path / "deep" / "f.json", "{}")
    assert (tmp_path / "deep" / "f.json").read_text() == "{}"
    monkeypatch.setenv("MULTIGEN_CACHE", str(tmp_path / "cache"))
    assert cache_root("data") == tmp_path / "cache" / "data"

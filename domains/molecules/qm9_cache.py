"""The parsed qm9pack table cached as one ``.npz`` (no pickles) under ``$MULTIGEN_CACHE``.

A cache is used only when it reads back whole and its recorded source signature (format
version, qm9pack version, and each CSV's size and mtime) equals the current one; otherwise it
is rebuilt, and the reason is printed. It is written to a temporary file in the same folder
and renamed into place, so a crash never leaves a half-written cache under the real name.
"""

from __future__ import annotations

import hashlib
import json
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import numpy as np

from multigen.fileio import atomic_save

from .conformers import cache_dir
from .qm9_pack import PACK_PARTS, PACK_PROPERTIES, POLAR_FILE, QM9Table, read_pack

CACHE_FORMAT = 1
_FIELDS = ("index", "offsets", "numbers", "positions", "props", "smiles")
_MEMO: dict[tuple[str, str], QM9Table] = {}  # one read per cache file per process


def cache_path(folder: Path) -> Path:
    key = hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:12]
    return cache_dir() / f"qm9pack_{key}.npz"


def source_signature(folder: Path) -> dict:
    try:
        version = metadata.version("qm9pack")
    except metadata.PackageNotFoundError:
        version = None
    files = []
    for name in (*PACK_PARTS, POLAR_FILE):
        st = (Path(folder) / name).stat()
        files.append([name, st.st_size, st.st_mtime_ns])
    return {
        "format": CACHE_FORMAT,
        "qm9pack": version,
        "folder": str(Path(folder).resolve()),
        "files": files,
        "properties": list(PACK_PROPERTIES),
    }


def read_cache(path: Path, signature: dict) -> tuple[QM9Table | None, str]:
    """The cached table, or None and why it cannot be used ('' when there is no cache)."""
    if not path.exists():
        return None, ""
    try:
        with np.load(path, allow_pickle=False) as npz:
            meta = json.loads(str(npz["meta"]))
            arrays = {k: npz[k] for k in _FIELDS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
        return None, f"unreadable, probably truncated ({type(exc).__name__}: {exc})"
    if meta != signature:
        diff = sorted(k for k in signature if meta.get(k) != signature[k])
        return None, f"stale: built from a different source ({', '.join(diff)} changed)"
    table = QM9Table(**arrays)
    m, a = len(table.index), len(table.numbers)
    shapes_ok = (
        table.offsets.shape == (m + 1,)
        and table.offsets[-1] == a
        and table.positions.shape == (a, 3)
        and table.props.shape == (m, len(PACK_PROPERTIES))
        and table.smiles.shape == (m,)
    )
    if not shapes_ok:
        return None, "inconsistent array sizes (damaged)"
    return table, ""


def write_cache(path: Path, table: QM9Table, signature: dict) -> None:
    fields = {k: getattr(table, k) for k in _FIELDS}
    atomic_save(path, lambda tmp: np.savez(tmp, meta=np.asarray(json.dumps(signature)), **fields))


def load_table(folder: Path, progress: bool = True, rebuild: bool = False) -> QM9Table:
    """The qm9pack table of ``folder``: from the cache when valid, else parsed and cached."""
    path = cache_path(folder)
    signature = source_signature(folder)
    key = (str(path), json.dumps(signature))
    if key in _MEMO and not rebuild and path.exists():
        return _MEMO[key]
    table, why = (None, "") if rebuild else read_cache(path, signature)
    if table is None:
        if why:
            print(f"QM9 cache {path}: {why}; rebuilding it", file=sys.stderr)
        table = read_pack(folder, progress=progress)
        write_cache(path, table, signature)
    _MEMO.clear()
    _MEMO[key] = table
    return table

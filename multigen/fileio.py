"""File helpers shared by the engine and the domains: atomic writes and the cache root.

Atomic: a file is written under a temporary name in its final folder and renamed into place,
so a reader (or a run killed halfway) sees the old file or the new one, never a part.
Cache: everything the suite caches (feature networks, prepared data sets, conformers) lives
under one root, ``$MULTIGEN_CACHE`` (default ``~/.cache/multigen``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

CACHE_ENV = "MULTIGEN_CACHE"


def cache_root(*parts: str) -> Path:
    """``$MULTIGEN_CACHE/<parts…>`` (default ``~/.cache/multigen``); not created here."""
    env = os.environ.get(CACHE_ENV)
    root = Path(env) if env else Path.home() / ".cache" / "multigen"
    return root.joinpath(*parts)


def package_dir(name: str, missing: str) -> Path:
    """The folder of installed package ``name``, found without importing it (data-only wheels
    whose code does not import on this stack); ``missing`` is the error when it is absent."""
    import importlib.util

    from multigen.domain import DomainError  # local, as in load_numpy below

    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise DomainError(missing)
    return Path(next(iter(spec.submodule_search_locations)))


def atomic_save(path: str | Path, save: Callable[[str], object]) -> Path:
    """Call ``save(tmp_name)`` to write a temporary file beside ``path``, then rename it into
    place (for writers that want a file name: numpy, safetensors, PIL, soundfile)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(path.suffixes) or ".tmp"  # keep the extension: some writers append one
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=f".tmp{suffix}", dir=path.parent)
    os.close(fd)
    try:
        save(tmp)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; when the block succeeds it replaces ``path``
    (an older, incomplete folder there is removed first), otherwise it is deleted. Readers
    never see a half-written folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        shutil.rmtree(path, ignore_errors=True)
        os.replace(tmp, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically."""
    return atomic_save(path, lambda tmp: Path(tmp).write_text(text))


def error_text(exc: BaseException, limit: int = 200) -> str:
    """``Type: message`` on one line (library messages can span several), shortened."""
    text = " ".join(str(exc).split())
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_text(path: str | Path) -> str:
    """A text file's contents; ``DomainError`` naming the file when it is not UTF-8 text."""
    from multigen.domain import DomainError

    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise DomainError(
            f"{path}: not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
        ) from None


def _check_npy_header(fh, available: int, where: str) -> None:
    """Refuse object dtypes and shapes that need more bytes than the file holds, before
    numpy allocates the declared shape."""
    from multigen.domain import DomainError

    fmt = np.lib.format
    start = fh.tell()
    version = fmt.read_magic(fh)
    if version == (1, 0):
        shape, _, dtype = fmt.read_array_header_1_0(fh, max_header_size=10_000)
    elif version == (2, 0):
        shape, _, dtype = fmt.read_array_header_2_0(fh, max_header_size=10_000)
    else:
        raise DomainError(f"{where}: unsupported .npy format version {version}")
    if dtype.hasobject:
        raise DomainError(
            f"{where}: holds Python objects (dtype {dtype}); only numeric arrays are read "
            "(objects would need unpickling)"
        )
    need = int(np.prod(shape, dtype=np.float64) * dtype.itemsize)
    have = available - (fh.tell() - start)
    if need > have:
        raise DomainError(
            f"{where}: header declares shape {tuple(shape)} {dtype} ({need:,} bytes) but only "
            f"{max(have, 0):,} bytes follow; the file is truncated or corrupt"
        )


def load_numpy(path: str | Path) -> np.ndarray | dict[str, np.ndarray]:
    """A ``.npy`` array or a ``.npz``'s arrays (by name), read without unpickling; sizes a
    header declares are checked against the bytes present before anything is allocated.
    Any problem is a ``DomainError`` naming the file."""
    import zipfile

    from multigen.domain import DomainError

    path = Path(path)
    try:
        if path.suffix.lower() == ".npz":
            with zipfile.ZipFile(path) as z:
                for info in z.infolist():
                    with z.open(info) as fh:
                        _check_npy_header(fh, info.file_size, f"{path} [{info.filename}]")
            with np.load(path, allow_pickle=False) as data:
                return {k: np.asarray(data[k]) for k in data.files}
        with open(path, "rb") as fh:
            _check_npy_header(fh, os.fstat(fh.fileno()).st_size, str(path))
        return np.load(path, allow_pickle=False)
    except DomainError:
        raise
    except FileNotFoundError:
        raise DomainError(f"{path}: file not found") from None
    except Exception as exc:  # numpy, zipfile and zlib raise many types for corrupt files
        raise DomainError(f"{path}: not a readable NumPy file ({error_text(exc)})") from None


def read_each(
    files: Iterable[Path], read: Callable[[Path], Any], strict: bool, hint: str = ""
) -> tuple[list[tuple[int, Any]], list[tuple[str, str]]]:
    """``read`` every file of a user's folder: ``(index, value)`` of each file read and
    ``(file, reason)`` of each that raised ``DomainError`` (the reason without the leading
    file name). ``strict`` re-raises the first such error instead, with ``hint`` appended."""
    from multigen.domain import DomainError

    read_ok, skipped = [], []
    for i, f in enumerate(files):
        try:
            read_ok.append((i, read(f)))
        except DomainError as err:
            if strict:
                raise (DomainError(f"{err}{hint}") if hint else err) from None
            skipped.append((str(f), str(err).removeprefix(f"{f}: ")))
    return read_ok, skipped


def plain_name(name: str, what: str) -> str:
    """``name`` if it can only name something inside its folder (no separators, no ``..``,
    not hidden); otherwise a ``DomainError`` — named things never escape their folders."""
    from multigen.domain import DomainError

    if not name or name in (".", "..") or "/" in name or "\\" in name or name.startswith("."):
        raise DomainError(f"{what} {name!r} is not a plain name (no '/', '..' or leading '.')")
    if "\0" in name:
        raise DomainError(f"{what} {name!r} contains a NUL byte")
    return name

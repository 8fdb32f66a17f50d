"""Read the object arrays in MOSES's ``*_stats.npz`` without unpickling arbitrary code.

The molsets wheel stores its reference statistics as a pickled dict (NumPy arrays and
``collections.Counter``) inside an ``.npz``. ``np.load(allow_pickle=True)`` would run any
callable a tampered file names; this reader allows only the handful of constructors those
files use (array reconstruction, dtype, bytes decoding, Counter) and refuses anything else.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from multigen.domain import DomainError


def _reconstruct():
    try:
        from numpy._core.multiarray import _reconstruct as fn  # NumPy 2
    except ImportError:  # pragma: no cover - NumPy 1
        from numpy.core.multiarray import _reconstruct as fn
    return fn


_ALLOWED = {
    ("numpy.core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _reconstruct,
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: np.dtype,
    ("_codecs", "encode"): lambda: __import__("codecs").encode,
    ("collections", "Counter"): lambda: collections.Counter,
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        factory = _ALLOWED.get((module, name))
        if factory is None:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a statistics file")
        return factory()


def load_object_npz(path: Path, key: str) -> Any:
    """The Python object stored as ``key`` (an object array of shape ()) in an ``.npz``."""
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as zf, zf.open(f"{key}.npy") as fh:
            raw = io.BytesIO(fh.read())
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise DomainError(f"{path}: cannot read {key!r} ({exc})") from exc
    version = np.lib.format.read_magic(raw)
    if version == (1, 0):
        header = np.lib.format.read_array_header_1_0(raw)
    else:
        header = np.lib.format.read_array_header_2_0(raw)
    if header[2] != np.dtype(object):
        raise DomainError(f"{path}: {key!r} is not a pickled object array")
    try:
        value = _RestrictedUnpickler(raw, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError) as exc:
        raise DomainError(f"{path}: refused or damaged statistics ({exc})") from exc
    return value.item() if isinstance(value, np.ndarray) and value.shape == () else value

"""A zoo entry's manifest: the SHA-256 and size of every file, checked before anything loads.

``manifest.json`` = ``{"files": {"model.safetensors": {"sha256": ..., "bytes": ...}, ...}}``.
A missing, extra-sized or altered file is one error naming it (and what to do).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from multigen.fileio import atomic_write_text
from multigen.train.checkpoint import CheckpointError

MANIFEST = "manifest.json"


class ZooError(CheckpointError):
    """A zoo entry that cannot be used (unknown, missing or altered files, mismatched card)."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_manifest(folder: Path, files: list[str]) -> Path:
    """Record the hash and size of ``files`` (names inside ``folder``)."""
    entries = {
        name: {"sha256": sha256(folder / name), "bytes": (folder / name).stat().st_size}
        for name in sorted(files)
    }
    return atomic_write_text(folder / MANIFEST, json.dumps({"files": entries}, indent=2) + "\n")


def read_manifest(folder: Path) -> dict[str, dict]:
    path = folder / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        files = data["files"]
        if not isinstance(files, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in files.values()
        ):
            raise TypeError("files must map names to {sha256, bytes}")
    except FileNotFoundError:
        raise ZooError(f"{path}: missing; is {folder} a zoo entry?") from None
    except (ValueError, KeyError, TypeError) as exc:
        raise ZooError(f"{path}: corrupt ({' '.join(str(exc).split())})") from None
    for name in files:  # names stay inside the entry's folder
        if "/" in name or name.startswith(".") or name in ("", MANIFEST):
            raise ZooError(f"{path}: corrupt (file name {name!r} is not a plain name)")
    return files


def verify(folder: Path, required: tuple[str, ...]) -> None:
    """Every file the manifest lists (which must include ``required``) exists and hashes as
    recorded; raise :class:`ZooError` naming the first that does not."""
    files = read_manifest(folder)
    unlisted = [name for name in required if name not in files]
    if unlisted:
        raise ZooError(f"{folder / MANIFEST}: does not list {', '.join(unlisted)}")
    for name, rec in files.items():
        path = folder / name
        if not path.is_file():
            raise ZooError(f"{path}: missing from the zoo entry (the manifest lists it)")
        if sha256(path) != rec["sha256"]:
            raise ZooError(
                f"{path}: corrupted or altered (its SHA-256 differs from {MANIFEST}); "
                "restore it (e.g. git checkout) or rebuild the entry with `multigen pretrained add`"
            )

"""``hf:ORG/NAME[@REVISION]``: a zoo entry published as a Hugging Face Hub model repo (the same
files as a shipped entry), downloaded through ``huggingface_hub`` (the ``hub`` extra) into its
cache. ``HF_ENDPOINT`` points it at another server (the tests use a local one). Only the entry's
files are fetched; they are checked against the downloaded manifest (trusted as the repo's) here,
with advice that fits a download, and again by the store like any entry's.
"""

from __future__ import annotations

import re
from pathlib import Path

from multigen.fileio import error_text
from multigen.zoo.manifest import MANIFEST, ZooError, read_manifest, sha256

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def download(spec: str) -> Path:
    """Download (or reuse from the cache) the entry ``ORG/NAME[@REVISION]``; its folder."""
    from multigen.zoo.store import FILES

    repo, _, revision = spec.partition("@")
    if not REPO_ID.match(repo) or ".." in repo:
        raise ZooError(f"hf:{spec}: expected hf:ORG/NAME or hf:ORG/NAME@REVISION")
    try:
        from huggingface_hub import constants, errors, snapshot_download
    except ImportError:
        raise ZooError(
            f"hf:{spec} needs the huggingface_hub package, which is not installed "
            '(pip install "multigen[hub]"); or download the repo and pass its folder'
        ) from None
    where = constants.ENDPOINT
    try:
        folder = Path(
            snapshot_download(
                repo_id=repo, revision=revision or None, allow_patterns=[MANIFEST, *FILES]
            )
        )
    except errors.RevisionNotFoundError:
        raise ZooError(f"hf:{spec}: {repo} has no revision {revision!r} on {where}") from None
    except errors.RepositoryNotFoundError:
        raise ZooError(
            f"hf:{spec}: no model repo {repo} on {where} (or it is private or gated: "
            "log in with `hf auth login` or set HF_TOKEN)"
        ) from None
    except errors.LocalEntryNotFoundError as exc:  # offline and not (fully) in the cache
        cause = exc.__cause__ or exc
        raise ZooError(
            f"hf:{spec}: {where} could not be reached and the cache holds no complete copy "
            f"({error_text(cause, 120)})"
        ) from None
    except Exception as exc:  # HTTP errors, a server that is not a Hub: one line
        raise ZooError(f"hf:{spec}: download from {where} failed ({error_text(exc)})") from None
    if not (folder / MANIFEST).is_file():
        raise ZooError(f"hf:{spec}: {repo} is not a zoo entry (no {MANIFEST} at its top level)")
    cached = folder.parent.parent  # <cache>/models--ORG--NAME/snapshots/<commit>
    for name, rec in read_manifest(folder).items():
        path = folder / name
        if path.is_file() and sha256(path) != rec["sha256"]:
            raise ZooError(
                f"hf:{spec}: {name} differs from the repo's {MANIFEST} (SHA-256): the repo is "
                f"inconsistent or the download was altered; delete {cached} to download it again"
            )
    return folder  # a listed file that is missing is named by the store's own check

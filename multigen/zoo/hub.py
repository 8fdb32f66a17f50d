"""``hf:ORG/NAME[@REVISION]``: a zoo entry published as a Hugging Face Hub model repo (the same
files as a shipped entry), downloaded through ``huggingface_hub`` into its cache.
``HF_ENDPOINT`` points it at another server (the tests use a local one). The files are checked
against the downloaded manifest like any entry; the manifest itself is trusted as the repo's.
"""

from __future__ import annotations

import re
from pathlib import Path

from multigen.fileio import error_text
from multigen.zoo.manifest import ZooError

REPO_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def download(spec: str) -> Path:
    """Download (or reuse from the cache) the entry ``ORG/NAME[@REVISION]``; its folder."""
    repo, _, revision = spec.partition("@")
    if not REPO_ID.match(repo) or ".." in repo:
        raise ZooError(f"hf:{spec}: expected hf:ORG/NAME or hf:ORG/NAME@REVISION")
    try:
        from huggingface_hub import snapshot_download
    except ImportError:
        raise ZooError(
            f"hf:{spec} needs the huggingface_hub package, which is not installed "
            "(pip install huggingface_hub); or download the repo and pass its folder"
        ) from None
    try:
        folder = snapshot_download(repo_id=repo, revision=revision or None)
    except Exception as exc:  # offline, unknown repo, HTTP errors: one line
        raise ZooError(f"hf:{spec}: download failed ({error_text(exc)})") from None
    return Path(folder)

"""``hf:ORG/NAME[@REVISION]`` end to end through ``huggingface_hub`` against a local server that
speaks the part of the Hub API ``snapshot_download`` uses (these machines have no internet):
repo info ``/api/models/{repo}/revision/{rev}`` (its ``sha``), the tree listing
``/api/models/{repo}/tree/{commit}``, and ``/{repo}/resolve/{commit}/{file}`` answering HEAD and
GET with ``ETag``, ``X-Repo-Commit`` and ``Content-Length``. Errors carry ``X-Error-Code`` as
the Hub's do. The repo served is a copy of the shipped ``toy-ddpm`` entry."""

import hashlib
import json
import shutil
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
import torch

from multigen import api
from multigen.zoo import store
from multigen.zoo.manifest import ZooError

hub = pytest.importorskip("huggingface_hub", reason="the hub extra (huggingface_hub)")
from huggingface_hub import constants  # noqa: E402

ENTRY = store.ZOO_DIR / "toy-ddpm"
MAIN, V1, BAD = "a" * 40, "b" * 40, "c" * 40  # commits


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Hub:
    """Repos as ``{repo_id: {"refs": {name: commit}, "commits": {commit: {file: bytes}}}}``."""

    def __init__(self):
        self.repos: dict[str, dict] = {}
        self.requests: list[str] = []

    def add(self, repo: str, refs: dict[str, str], commits: dict[str, dict[str, bytes]]) -> None:
        self.repos[repo] = {"refs": refs, "commits": commits}

    def handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_GET(self):
                self.answer(body=True)

            def do_HEAD(self):
                self.answer(body=False)

            def send(self, status, data=b"", headers=(), body=True, ctype="application/json"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers:
                    self.send_header(key, value)
                self.end_headers()
                if body:
                    self.wfile.write(data)

            def error(self, status, code, message, body=True):
                data = json.dumps({"error": message}).encode()
                headers = [("X-Error-Code", code), ("X-Error-Message", message)]
                self.send(status, data, headers, body)

            def answer(self, body):
                path = unquote(urlsplit(self.path).path)
                hub.requests.append(f"{self.command} {path}")
                parts = path.strip("/").split("/")
                api_call = parts[:2] == ["api", "models"]
                if api_call:
                    parts = parts[2:]
                repo_id = "/".join(parts[:2])
                repo = hub.repos.get(repo_id)
                if repo is None:  # the Hub answers 401 for unknown (and private) repos
                    return self.error(401, "RepoNotFound", "Repository not found", body)
                kind, rev, rest = parts[2], parts[3], "/".join(parts[4:])
                commit = repo["refs"].get(rev, rev)
                files = repo["commits"].get(commit)
                if files is None:
                    return self.error(404, "RevisionNotFound", "Invalid rev id: " + rev, body)
                if api_call and kind == "revision":
                    info = {"id": repo_id, "sha": commit, "siblings": []}
                    info["siblings"] = [{"rfilename": name} for name in sorted(files)]
                    return self.send(200, json.dumps(info).encode(), body=body)
                if api_call and kind == "tree":
                    tree = [
                        {"type": "file", "path": name, "size": len(data), "oid": git_blob_id(data)}
                        for name, data in sorted(files.items())
                    ]
                    return self.send(200, json.dumps(tree).encode(), body=body)
                if not api_call and kind == "resolve":
                    if rest not in files:
                        headers = [("X-Repo-Commit", commit)]
                        self.send(404, b"", [*headers, ("X-Error-Code", "EntryNotFound")], body)
                        return None
                    data = files[rest]
                    headers = [("ETag", f'"{git_blob_id(data)}"'), ("X-Repo-Commit", commit)]
                    return self.send(200, data, headers, body, "application/octet-stream")
                return self.send(404, b"{}", body=body)

        return Handler


def entry_files(folder: Path = ENTRY) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}


@pytest.fixture
def server(tmp_path, monkeypatch):
    """A local Hub serving someorg/toy-ddpm (main; tag v1 at another commit; tag broken whose
    weights differ from its manifest) and someorg/readme-only; HF_ENDPOINT and the cache point
    at it and at tmp_path. huggingface_hub reads its settings from the environment when it is
    imported, so the constants it keeps are set too."""
    hub = Hub()
    files = entry_files()
    broken = dict(files)
    weights = bytearray(broken["model.safetensors"])
    weights[-1] ^= 0xFF  # the same size, one bit pattern changed
    broken["model.safetensors"] = bytes(weights)
    hub.add(
        "someorg/toy-ddpm",
        refs={"main": MAIN, "v1": V1, "broken": BAD},
        commits={MAIN: files, V1: files, BAD: broken},
    )
    hub.add("someorg/readme-only", refs={"main": MAIN}, commits={MAIN: {"README.md": b"hi\n"}})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), hub.handler())
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    endpoint = f"http://127.0.0.1:{httpd.server_address[1]}"
    cache = tmp_path / "hf" / "hub"
    env = {
        "HF_ENDPOINT": endpoint,
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_OFFLINE": "0",
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    for name, value in {
        "ENDPOINT": endpoint,
        "HUGGINGFACE_CO_URL_TEMPLATE": endpoint + "/{repo_id}/resolve/{revision}/{filename}",
        "HF_HOME": str(tmp_path / "hf"),
        "HF_HUB_CACHE": str(cache),
        "HF_HUB_OFFLINE": False,
        "HF_HUB_DISABLE_TELEMETRY": True,
        "HF_HUB_DISABLE_XET": True,
        "HF_TOKEN_PATH": str(tmp_path / "hf" / "token"),
    }.items():
        if hasattr(constants, name):
            monkeypatch.setattr(constants, name, value)
    hub.endpoint, hub.cache = endpoint, cache
    yield hub
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def samples(ref, seed=3):
    return api.sample(ref, n=16, seed=seed, steps=4, device="cpu").samples


def test_hub_entry_samples_like_the_shipped_one(server):
    got = samples("hf:someorg/toy-ddpm")
    assert torch.equal(got, samples(str(ENTRY)))
    assert any(
        r.startswith("GET /api/models/someorg/toy-ddpm/revision/main") for r in server.requests
    )
    snapshot = server.cache / "models--someorg--toy-ddpm" / "snapshots" / MAIN
    assert sorted(p.name for p in snapshot.iterdir()) == sorted(entry_files())
    # a second load is served from the cache: the files are not fetched again
    fetched = sum(r.startswith("GET /someorg/toy-ddpm/resolve/") for r in server.requests)
    assert torch.equal(samples("hf:someorg/toy-ddpm"), got)
    assert sum(r.startswith("GET /someorg/toy-ddpm/resolve/") for r in server.requests) == fetched


def test_hub_revision_tag_and_commit(server):
    reference = samples(str(ENTRY))
    assert torch.equal(samples("hf:someorg/toy-ddpm@v1"), reference)
    assert (server.cache / "models--someorg--toy-ddpm" / "snapshots" / V1).is_dir()
    assert any("/revision/v1" in r for r in server.requests)
    assert torch.equal(samples(f"hf:someorg/toy-ddpm@{MAIN}"), reference)
    assert (server.cache / "models--someorg--toy-ddpm" / "snapshots" / MAIN).is_dir()


def test_hub_altered_file_is_refused_naming_it(server):
    """On the server (a tag whose weights differ from its manifest), and in the local cache."""
    with pytest.raises(ZooError) as err:
        samples("hf:someorg/toy-ddpm@broken")
    text = str(err.value)
    assert text.startswith("hf:someorg/toy-ddpm@broken: model.safetensors differs from the repo's")
    assert "\n" not in text
    reference = samples("hf:someorg/toy-ddpm")
    cached = server.cache / "models--someorg--toy-ddpm"
    blob = (cached / "snapshots" / MAIN / "config.yaml").resolve()
    blob.write_bytes(blob.read_bytes().replace(b"steps: 100", b"steps: 101"))
    with pytest.raises(
        ZooError, match=f"config.yaml differs .* delete {cached} to download"
    ) as err:
        samples("hf:someorg/toy-ddpm")
    shutil.rmtree(cached)  # as the message advises
    assert torch.equal(samples("hf:someorg/toy-ddpm"), reference)


def test_hub_file_missing_from_the_repo_is_named(server):
    files = entry_files()
    del files["card.md"]
    server.add("someorg/no-card", refs={"main": MAIN}, commits={MAIN: files})
    with pytest.raises(ZooError, match=r"card\.md: missing from the zoo entry"):
        samples("hf:someorg/no-card")


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("hf:someorg/nope", "no model repo someorg/nope on http://127.0.0.1:"),
        ("hf:someorg/toy-ddpm@v9", "someorg/toy-ddpm has no revision 'v9' on http://127.0.0.1:"),
        ("hf:someorg/readme-only", "someorg/readme-only is not a zoo entry (no manifest.json"),
    ],
)
def test_hub_bad_reference_is_one_clear_line(server, ref, message):
    with pytest.raises(ZooError) as err:
        samples(ref)
    text = str(err.value)
    assert text.startswith(ref + ": ") and message in text and "\n" not in text


def test_hub_unreachable_server_is_one_line(server, monkeypatch, tmp_path):
    import socket

    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    monkeypatch.setattr(constants, "ENDPOINT", closed)
    monkeypatch.setattr(
        constants, "HUGGINGFACE_CO_URL_TEMPLATE", closed + "/{repo_id}/x/{filename}"
    )
    with pytest.raises(ZooError, match="could not be reached and the cache holds no") as err:
        samples("hf:someorg/toy-ddpm")
    assert closed in str(err.value) and "\n" not in str(err.value)

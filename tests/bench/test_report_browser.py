"""report.html in headless Chromium (Debian package `chromium`): it opens offline with no
console errors, shows every section, and its canvases, players and pictures are live.

The output folder is synthetic (one cell per kind of sample file), so this checks the
report for every gallery kind without training anything. Skipped when chromium is absent.
"""

import json
import math
import re
import shutil
import struct
import subprocess
import wave

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from multigen.bench.outputs import write_outputs  # noqa: E402
from multigen.bench.suite import load_suite  # noqa: E402

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(BROWSER is None, reason="chromium is not installed")


def write_png(path):
    fig, ax = plt.subplots(figsize=(1, 1))
    ax.plot([0, 1], [1, 0])
    fig.savefig(path)
    plt.close(fig)


def write_wav(path, n=1600, rate=16000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 5))) for i in range(n)))


def write_ply(path, n=200):
    pts = [(math.cos(i), math.sin(i), i / n) for i in range(n)]
    head = f"ply\nformat ascii 1.0\nelement vertex {n}\n"
    head += "property float x\nproperty float y\nproperty float z\nend_header\n"
    path.write_text(head + "".join(f"{x} {y} {z}\n" for x, y, z in pts))


def write_obj(path):
    path.write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nv 0 0 1\nf 1 2 3\nf 1 2 4\nf 1 3 4\nf 2 3 4\n")


def cell(domain, variant, nfe, metric, gallery, status="ok"):
    rec = {
        "id": f"{domain}__{variant}__nfe{nfe:04d}",
        "suite": "browser",
        "domain": domain,
        "variant": variant,
        "train_method": variant,
        "sampler": "euler",
        "nfe": nfe,
        "nfe_budget": nfe,
        "status": status,
        "metrics": {"score": metric},
        "n_samples": 8,
        "sample_seconds": 0.01 * nfe,
        "samples_per_s": 800 / nfe,
        "train": {"seconds": 2.0, "peak_memory_mib": 900.0, "peak_memory_delta_mib": 10.0},
        "gallery": gallery,
    }
    if status == "failed":
        rec.update(phase="train", error='RuntimeError: <boom> & "quotes"')
    return rec


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser")
    files = {
        "pics": ("grid.png", write_png),
        "sound": ("clip_000.wav", write_wav),
        "clouds": ("clouds/cloud_0000.ply", write_ply),
    }
    cells = []
    for domain, (name, writer) in files.items():
        for nfe in (2, 8):
            rel = f"cells/{domain}__flow__nfe{nfe:04d}/{name}"
            (out / rel).parent.mkdir(parents=True, exist_ok=True)
            writer(out / rel)
            gallery = [rel]
            if domain == "clouds":
                mesh = f"cells/{domain}__flow__nfe{nfe:04d}/meshes/mesh_0000.obj"
                (out / mesh).parent.mkdir(parents=True)
                write_obj(out / mesh)
                gallery.append(mesh)
            cells.append(cell(domain, "flow", nfe, 1.0 / nfe, gallery))
        cells.append(cell(domain, "gan", 1, 0.7, []))
    cells.append(cell("pics", "ddim", 4, 0.0, [], status="failed"))
    for c in cells:
        (out / "cells" / f"{c['id']}.json").write_text(json.dumps(c))
    (out / "data").mkdir()
    (out / "data" / "pics.json").write_text(
        json.dumps({"status": "ok", "split": "train", "metrics": {"score": 0.01}})
    )
    spec = {
        "name": "browser",
        "description": "synthetic cells, one per kind of sample file",
        "train_steps": 1,
        "nfe": [2, 8],
        "n_samples": 8,
        "auto_domains": False,
        "domains": {d: {"quality": {"metric": "score"}} for d in files},
    }
    (out / "suite.yaml").write_text(yaml.safe_dump(spec))
    suite = load_suite(str(out / "suite.yaml"), [])
    write_outputs(out, suite)
    return out / "report.html"


def run_chromium(page, profile):
    cmd = [
        BROWSER,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=3000",
        "--dump-dom",
        page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_report_opens_without_errors_and_shows_every_section(report, tmp_path):
    res = run_chromium(report, tmp_path / "profile")
    dom = res.stdout
    assert "<html" in dom, res.stderr[-2000:]
    console = [ln for ln in res.stderr.splitlines() if "CONSOLE" in ln]
    assert not [ln for ln in console if "rror" in ln or "Uncaught" in ln], console
    root = re.search(r"<html[^>]*>", dom).group(0)
    assert 'data-ready="1"' in root and "data-js-errors" not in root, root
    for section in ("summary", "domain-pics", "domain-sound", "domain-clouds", "protocol"):
        assert f'id="{section}"' in dom
    # every point cloud and mesh canvas was drawn by the inline viewer
    canvases = re.findall(r"<canvas[^>]*>", dom)
    assert len(canvases) == 4 and all('data-drawn="1"' in c for c in canvases)
    assert len(re.findall(r"<audio[^>]*src=\"data:audio/wav;base64,", dom)) == 2
    assert "published, different data" in dom or "No published anchors" in dom
    assert "&lt;boom&gt;" in dom  # error text is escaped, not injected


def test_report_is_self_contained(report):
    page = report.read_text()
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    assert "<link" not in page

"""The smoke suite end to end on toy and images (the CI run of `multigen benchmark smoke`):
every variant trains, samples and scores, and every output file is written and consistent."""

import json

import pytest

from multigen.cli import main

VARIANTS = {"ddpm_ancestral", "ddim", "edm_heun", "dpmpp", "flow", "gan", "ddgan", "consistency"}
CELL_KEYS = {
    "metrics",
    "nfe",
    "steps",
    "train",
    "samples_per_s",
    "sample_seconds",
    "sample_peak_memory_mib",
    "device",
    "seed",
    "versions",
    "config_hash",
    "machine",
}


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp("smoke") / "out"
    assert main(["benchmark", "smoke", "--domains", "toy", "images", "--out", str(out)]) == 0
    return out


def test_every_cell_ran_and_recorded_everything(smoke):
    res = json.loads((smoke / "results.json").read_text())
    cells = [c for c in res["cells"] if c["domain"] in ("toy", "images")]
    # 5 diffusion variants x 2 NFE budgets + 1 GAN cell + 1 DDGAN cell + consistency at
    # 1 and 2 NFE, per domain
    assert len(cells) == 28
    bad = [(c["id"], c.get("error")) for c in cells if c["status"] != "ok"]
    assert not bad
    for c in cells:
        assert CELL_KEYS <= set(c), c["id"]
        assert c["train"]["steps"] == 20 and c["train"]["seconds"] > 0
        own = {"gan": 1, "ddgan": 4}  # the generator's own steps, whatever the budget
        assert c["nfe"] == own.get(c["variant"], c["nfe_budget"]) or c["variant"] == "edm_heun"
        assert c["sample_peak_memory_mib"] > 0
    assert {c["variant"] for c in cells} == VARIANTS
    toy = {c["id"]: c for c in cells if c["domain"] == "toy"}
    # Heun spends 2 calls per step but 1 on the last: a 12-call budget buys 6 steps = 11 NFE
    assert toy["toy__edm_heun__nfe0012"]["nfe"] == 11
    assert toy["toy__edm_heun__nfe0012"]["steps"] == 6
    # one training per (domain, training method): both DDPM variants share the run
    assert (
        toy["toy__ddim__nfe0004"]["train_config_hash"]
        == toy["toy__ddpm_ancestral__nfe0012"]["train_config_hash"]
    )
    assert toy["toy__ddim__nfe0004"]["config_hash"] != toy["toy__ddim__nfe0012"]["config_hash"]
    assert "energy_distance" in toy["toy__flow__nfe0004"]["metrics"]


def test_data_rows_are_floors(smoke):
    res = json.loads((smoke / "results.json").read_text())
    toy = res["data_rows"]["toy"]
    assert toy["status"] == "ok" and toy["split"] == "train"
    # real data scored against the test split is far better than 20-step models on average
    cells = [c for c in res["cells"] if c["domain"] == "toy"]
    mean = sum(c["metrics"]["energy_distance"] for c in cells) / len(cells)
    assert toy["metrics"]["energy_distance"] < mean
    assert res["data_rows"]["images"]["status"] == "ok"


def test_markdown_plots_and_report(smoke):
    md = (smoke / "results.md").read_text()
    for d in ("toy", "images"):
        assert f"## {d}" in md
        assert (smoke / "plots" / f"{d}_quality_vs_nfe.png").stat().st_size > 1000
        assert (smoke / "plots" / f"{d}_pareto.png").stat().st_size > 1000
    assert "| data (train split) |" in md
    page = (smoke / "report.html").read_text()
    for section in ('id="summary"', 'id="domain-toy"', 'id="domain-images"', 'id="protocol"'):
        assert section in page
    assert "published, different data" in page
    assert page.count("data:image/png;base64,") >= 4 + 11  # plots + one picture per cell
    assert "http://" not in page and "https://" not in page  # self-contained


def test_resume_skips_finished_cells(smoke, capsys):
    args = ["benchmark", "smoke", "--domains", "toy", "--out", str(smoke), "--resume"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "training" not in out
    assert out.count("finished earlier (resume)") == 6  # ddpm, edm, flow, gan, ddgan, consistency

"""Suite files, variants and the Pareto front, without training anything."""

import pytest
import yaml

from multigen.bench.plots import pareto
from multigen.bench.suite import discover_configs, load_suite
from multigen.bench.variants import BUILTIN
from multigen.config import ConfigError
from multigen.registry import domain_names


@pytest.mark.parametrize(
    "name", ["smoke", "cpu", "gpu"], ids=["smoke_suite", "cpu_suite", "gpu_suite"]
)
def test_shipped_suites_validate_every_config(name):
    suite = load_suite(name, domain_names())
    assert {"toy", "images"} <= set(suite.domains)
    for plan in suite.domains.values():
        for job in plan.jobs.values():
            if job.config is not None:  # configs of domains still being written may be absent
                cfg = job.load()
                assert cfg.method.name == job.method


def test_smoke_covers_every_registered_domain_and_variant():
    suite = load_suite("smoke", domain_names())
    assert set(domain_names()) <= set(suite.domains)
    assert set(suite.variants) == set(BUILTIN)
    per_domain = 5 * 2 + 1  # five diffusion variants at two NFE budgets, one GAN cell
    assert len(suite.cells()) == per_domain * len(suite.domains)


def test_method_section_replacement():
    # molecules' "EDM" config is the E(3) diffusion model (a DDPM); the suite swaps the method
    plan = load_suite("smoke", domain_names(), ["molecules"]).domains["molecules"]
    assert plan.jobs["edm"].load().method.name == "edm"
    assert plan.jobs["ddpm"].load().method.name == "ddpm"


def test_variant_steps_spend_at_most_the_budget():
    assert BUILTIN["edm_heun"].steps(12) == 6  # 2*6 - 1 = 11 calls
    assert BUILTIN["dpmpp"].steps(12) == 12
    assert BUILTIN["gan"].steps(64) == 1
    assert BUILTIN["ddim"].options == {"eta": 0.0}


def test_discovery_finds_a_config_per_method():
    jobs = discover_configs("toy")
    assert set(jobs) == {"ddpm", "edm", "flow", "gan"}
    assert all(j.config is not None and "_gpu" not in j.config.name for j in jobs.values())


def test_bad_suite_file_names_the_key(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text(
        yaml.safe_dump({"name": "x", "train_steps": 1, "nfe": [1], "n_samples": 4, "bogus": 1})
    )
    with pytest.raises(ConfigError, match="bogus"):
        load_suite(str(path), domain_names())


def test_pareto_front():
    pts = [(1.0, 5.0), (2.0, 3.0), (3.0, 4.0), (4.0, 1.0), (0.5, 9.0)]
    assert pareto(pts, "lower") == [(0.5, 9.0), (1.0, 5.0), (2.0, 3.0), (4.0, 1.0)]
    assert pareto(pts, "higher") == [(0.5, 9.0)]

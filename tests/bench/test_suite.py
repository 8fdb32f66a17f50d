"""Suite files, variants and the Pareto front, without training anything."""

import pytest
import yaml

from multigen.bench.plots import pareto
from multigen.bench.runner import Runner
from multigen.bench.suite import available_suites, discover_configs, filter_variants, load_suite
from multigen.bench.variants import BUILTIN
from multigen.config import ConfigError
from multigen.registry import domain_names


def test_every_shipped_suite_is_tested():
    assert {"smoke", "cpu", "gpu", "toy_nfe", "shapes_nfe", "molecules_nfe"} <= set(
        available_suites()
    )


@pytest.mark.parametrize("name", available_suites(), ids=lambda n: f"{n}_suite")
def test_shipped_suites_validate_every_config(name):
    suite = load_suite(name, domain_names())
    assert suite.domains and suite.cells()
    for plan in suite.domains.values():
        for job in plan.jobs.values():
            if job.config is not None:  # configs of domains still being written may be absent
                cfg = job.load()
                assert cfg.method.name == job.method


def test_smoke_covers_every_registered_domain_and_variant():
    suite = load_suite("smoke", domain_names())
    assert set(domain_names()) <= set(suite.domains)
    assert set(suite.variants) == set(BUILTIN)
    # five diffusion variants at two NFE budgets, one GAN cell, one DDGAN cell (its own T
    # steps), consistency at 1 and 2 NFE; a domain without a DDGAN/consistency config skips them
    per_domain = 5 * 2 + 1 + 1 + 2
    assert len(suite.cells()) == per_domain * len(suite.domains)


def test_sweep_suite_runs_every_sampler_of_every_method():
    # toy_nfe replaces the old per-script sweep: 5 DDPM samplers, 5 EDM, 2 flow, at 5 NFE
    suite = load_suite("toy_nfe", domain_names())
    assert set(suite.domains) == {"eight_gaussians", "grid25"}
    assert {p.domain for p in suite.domains.values()} == {"toy"}
    per_sampler = {}
    for _, v, _ in suite.cells():
        per_sampler.setdefault(v.train, set()).add(v.sampler)
    assert (
        per_sampler["ddpm"] == per_sampler["edm"] == {"ddpm", "ddim", "euler", "heun", "dpmpp_2m"}
    )
    assert per_sampler["flow"] == {"euler", "heun"}
    assert len(suite.cells()) == 2 * (12 * 5 + 1)


def test_a_method_can_have_its_own_budget_and_scale_keeps_the_ratio(tmp_path):
    suite = load_suite("shapes_nfe", domain_names())
    plan = suite.domains["shapes"]
    runner = Runner(suite, tmp_path)
    assert "train.steps=300" in runner.bench_overrides(plan, plan.jobs["gan"])
    assert "train.steps=1000" in runner.bench_overrides(plan, plan.jobs["edm"])
    plan.scale(0.1)
    assert plan.steps_for(plan.jobs["gan"]) == 30 and plan.steps_for(plan.jobs["edm"]) == 100


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
    # the few-step generators: DDGAN at the steps it was trained for, consistency at 1 and 2
    assert BUILTIN["ddgan"].steps(64) is None and BUILTIN["ddgan"].budgets([4, 12]) == [1]
    assert BUILTIN["consistency"].budgets([4, 12]) == [1, 2]
    assert BUILTIN["consistency"].steps(2) == 2


def test_discovery_finds_a_config_per_method():
    jobs = discover_configs("toy")
    assert set(jobs) == {"ddpm", "edm", "flow", "vesde", "vpsde", "gan", "ddgan", "consistency"}
    assert all(j.config is not None and "_gpu" not in j.config.name for j in jobs.values())
    # consistency *training*: a distillation config needs a teacher run and is passed over
    assert jobs["consistency"].config.name == "eight_gaussians_consistency_ct.yaml"


def test_few_step_methods_without_a_config_are_skipped_not_failed(tmp_path):
    suite = load_suite("smoke", domain_names(), ["molecules"])
    filter_variants(suite, ["ddgan"])
    plan = suite.domains["molecules"]
    assert plan.jobs["ddgan"].config is None
    records = Runner(suite, tmp_path, log=lambda m: None).run()
    assert [(r["variant"], r["status"]) for r in records] == [("ddgan", "skipped")]
    assert "no ddgan config" in records[0]["reason"]


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


def test_command_line_set_reaches_every_job_and_is_recorded():
    # `multigen benchmark cpu --domains molecules --set data.name=qm9`: the molecule cells on QM9
    suite = load_suite("cpu", domain_names(), ["molecules"])
    suite.override(["data.name=qm9"])
    assert suite.overrides == ["data.name=qm9"]
    jobs = [j for j in suite.domains["molecules"].jobs.values() if j.config is not None]
    assert all(j.load().data.name == "qm9" for j in jobs)

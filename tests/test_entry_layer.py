"""Each option is declared once: SampleConfig's fields are api.sample's options and the
CLI's sample flags; every CLI command maps onto a public api function."""

import pytest

from multigen import api
from multigen.cli import build_parser
from multigen.config import SampleConfig
from multigen.domain import DomainError


def test_every_sample_option_is_a_cli_flag():
    parser = build_parser()
    args = parser.parse_args(["sample", "RUN", "--batch-size", "8", "--eta", "0.5", "--compile"])
    assert args.batch_size == 8 and args.eta == 0.5 and args.compile is True
    unset = parser.parse_args(["sample", "RUN"])
    for name in SampleConfig.model_fields:
        assert getattr(unset, name) is None, name  # unset: the run's own value stays


def test_unknown_sample_option_names_the_allowed_ones(tmp_path):
    with pytest.raises(DomainError, match="unknown sample option.*'stepz'.*steps"):
        api.sample(tmp_path, stepz=3)


def test_data_list_and_prepare_are_api_functions():
    rows = api.list_datasets()
    toy = {r["name"]: r for r in rows if r["domain"] == "toy"}
    assert "eight_gaussians" in toy and toy["eight_gaussians"]["description"]
    assert any("default" in r["flags"] for r in rows)
    with pytest.raises(DomainError, match="no preparable dataset named 'nope'"):
        api.prepare_dataset("nope")
    with pytest.raises(DomainError, match="no preparable dataset"):
        api.prepare_dataset("images/folder")  # exists, but needs the user's files


def test_evaluate_command_and_api_share_one_assessment(tmp_path, capsys):
    # the data row: a dataset split scored as samples, by the CLI and by api.assess alike
    from multigen.cli import main

    res = api.assess("toy", "eight_gaussians:val", "eight_gaussians:test", n=300)
    assert res.scores["n_samples"] == 5000 and res.skipped == [] and res.notes == []
    out = tmp_path / "scores.json"
    argv = ["evaluate", "--domain", "toy", "--samples", "eight_gaussians:val"]
    assert main(argv + ["--reference", "eight_gaussians:test", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "energy_distance" in printed and out.is_file()
    with pytest.raises(DomainError, match="samples not found"):
        api.assess("toy", tmp_path / "missing.npy", "eight_gaussians:test")

"""Config validation: every mistake names the key, the file and what is allowed."""

import pytest

from multigen.config import ConfigError, load_config
from tests.train.helpers import tiny_config


def error_for(mutate, tmp_path=None) -> str:
    cfg = tiny_config()
    mutate(cfg)
    with pytest.raises(ConfigError) as info:
        load_config(cfg)
    return str(info.value)


def test_unknown_key_lists_allowed_keys():
    msg = error_for(lambda c: c["train"].update(stepz=3))
    assert "train.stepz" in msg and "steps" in msg and "warmup" in msg


def test_unknown_method_key_lists_method_keys():
    msg = error_for(lambda c: c["method"].update(name="ddpm", schedul="cosine"))
    assert "method.ddpm.schedul" in msg and "schedule" in msg and "parameterization" in msg


def test_bad_choice_names_allowed_values():
    msg = error_for(lambda c: c["method"].update(name="ddpm", schedule="cosin"))
    assert "method.ddpm.schedule" in msg and "'cosine'" in msg


def test_unknown_method_lists_methods():
    msg = error_for(lambda c: c["method"].update(name="diffusion"))
    assert "'ddpm'" in msg and "'gan'" in msg


def test_wrong_type_names_key():
    assert "train.lr" in error_for(lambda c: c["train"].update(lr="fast"))


def test_file_errors_name_the_file(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("domain: toy\ndata: [1, 2\n")
    with pytest.raises(ConfigError, match="bad.yaml"):
        load_config(bad)
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.yaml")
    typo = tmp_path / "typo.yaml"
    typo.write_text(
        "domain: toy\ndata: {name: eight_gaussians}\nmodel: {name: mlp}\n"
        "method: {name: flow}\ntrian: {steps: 3}\n"
    )
    with pytest.raises(ConfigError, match=r"typo.yaml: unknown key 'trian'"):
        load_config(typo)


def test_set_overrides_parse_yaml_values():
    cfg = load_config(
        tiny_config(), ["train.steps=7", "method.ot_pairing=true", "data.params.n=99"]
    )
    assert cfg.train.steps == 7 and cfg.method.ot_pairing is True and cfg.data.params["n"] == 99
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        load_config(tiny_config(), ["train.steps"])

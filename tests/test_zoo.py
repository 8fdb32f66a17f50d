"""The zoo machinery on a tiny toy entry built here: zoo:NAME wherever a run folder goes, hash
checks naming the file, unknown names listing the known, cards that do not describe their
config or weights refused, options a zoo model does not support named."""

import json
import shutil
import sys

import pytest
import yaml

from multigen import api
from multigen.cli import main
from multigen.domain import DomainError
from multigen.zoo import card as cards
from multigen.zoo import store
from multigen.zoo.build import add
from multigen.zoo.manifest import ZooError, write_manifest
from tests.train.helpers import tiny_config


@pytest.fixture(scope="module")
def zoo_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("zoo")
    cfg = tiny_config("flow", steps=20)
    run = api.train(cfg, out=root / "run")
    add(
        run,
        "tiny",
        root=root / "models",
        summary="A test entry.",
        n=64,
        check_n=32,
        blocks=2,
        log=lambda *_: None,
    )
    return root / "models"


@pytest.fixture
def zoo(zoo_root, monkeypatch):
    """The tiny entry as the shipped zoo."""
    monkeypatch.setattr(store, "ZOO_DIR", zoo_root)
    return zoo_root


@pytest.fixture
def copy(zoo_root, tmp_path, monkeypatch):
    """A private copy of the entry (tests that damage it), as the shipped zoo."""
    root = tmp_path / "models"
    shutil.copytree(zoo_root, root)
    monkeypatch.setattr(store, "ZOO_DIR", root)
    return root / "tiny"


def test_entry_layout_and_card(zoo):
    folder = zoo / "tiny"
    assert {p.name for p in folder.iterdir()} == {*store.FILES, "manifest.json"}
    card = json.loads((folder / "card.json").read_text())
    assert (folder / "card.md").read_text() == cards.render(card)
    assert card["weights"]["dtype"] in ("fp32", "bf16")
    assert set(card["weights"]["compared"]) == {"fp32", "bf16"}  # bf16 was measured
    assert card["training"]["steps"] == 20
    assert card["evaluation"]["floor"]["energy_distance"] >= 0
    assert card["retrain"] == "multigen train zoo:tiny --out runs/tiny"
    assert yaml.safe_load((folder / "config.yaml").read_text())["domain"] == "toy"


def test_sample_and_evaluate_a_zoo_model(zoo, tmp_path, capsys):
    res = api.sample("zoo:tiny", n=8, out=tmp_path / "s")
    assert len(res.batch) == 8 and res.files
    assert main(["sample", "zoo:tiny", "--n", "16", "--out", str(tmp_path / "c")]) == 0
    assert "16 samples" in capsys.readouterr().out
    scores = api.evaluate_run("zoo:tiny", n=32)
    assert scores["energy_distance"] >= 0
    assert (
        main(["evaluate", "--run", "zoo:tiny", "--n", "32", "--out", str(tmp_path / "m.json")]) == 0
    )
    assert json.loads((tmp_path / "m.json").read_text())["energy_distance"] == pytest.approx(
        scores["energy_distance"]
    )


def test_entry_folder_is_accepted_like_a_run(zoo):
    assert len(api.sample(str(zoo / "tiny"), n=4).batch) == 4


def test_list_and_show(zoo, capsys):
    assert main(["pretrained", "list"]) == 0
    out = capsys.readouterr().out
    assert "zoo:tiny" in out and "energy_distance" in out
    assert main(["pretrained", "show", "tiny"]) == 0
    assert "# tiny:" in capsys.readouterr().out
    assert api.pretrained_list()[0]["name"] == "tiny"


def test_card_numbers_match_the_weights(zoo):
    from multigen.zoo.scoring import check_card

    run = api.load_run("zoo:tiny")
    assert check_card(run, store.read_card(zoo / "tiny")) == []


def test_unknown_name_lists_the_known(zoo, capsys):
    with pytest.raises(ZooError, match=r"unknown zoo model 'nope'; known: tiny"):
        api.sample("zoo:nope", n=2)
    assert main(["sample", "zoo:nope", "--n", "2"]) == 2
    assert "known: tiny" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["model.safetensors", "config.yaml", "meta.json", "card.json"])
def test_corrupted_file_is_named(copy, name):
    path = copy / name
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ZooError, match=rf"{name}: corrupted or altered"):
        api.sample("zoo:tiny", n=2)


def test_missing_file_is_named(copy, capsys):
    (copy / "model.safetensors").unlink()
    assert main(["sample", "zoo:tiny", "--n", "2"]) == 2
    err = capsys.readouterr().err
    assert "model.safetensors: missing" in err and "Traceback" not in err
    (copy / "manifest.json").unlink()
    with pytest.raises(ZooError, match="manifest.json: missing"):
        api.pretrained_show("tiny")


def _rewrite(folder, name, change):
    """Edit one file and re-sign the manifest, as a careless rebuild would."""
    path = folder / name
    if name.endswith(".json"):
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))
    else:
        data = yaml.safe_load(path.read_text())
        change(data)
        path.write_text(yaml.safe_dump(data))
    write_manifest(folder, list(store.FILES))


def test_card_that_does_not_describe_the_config_is_refused(copy):
    _rewrite(copy, "card.json", lambda c: c["network"].update(parameters=12))
    with pytest.raises(ZooError, match=r"card.json does not describe .*parameters 12 vs"):
        api.load_run("zoo:tiny")


def test_config_that_does_not_match_the_weights_is_refused(copy):
    def wider(cfg):
        cfg["model"]["params"]["width"] = 48

    _rewrite(copy, "config.yaml", wider)
    card = json.loads((copy / "card.json").read_text())
    from multigen.config import load_config
    from multigen.methods import build_method
    from multigen.registry import get_domain

    cfg = load_config(copy / "config.yaml")
    info = json.loads((copy / "meta.json").read_text())["info"]
    method = build_method(cfg, get_domain("toy"), info)
    card["network"]["parameters"] = store.parameter_count({"model": method.models["model"]})
    _rewrite(copy, "card.json", lambda c: c["network"].update(card["network"]))
    with pytest.raises(ZooError, match="config.yaml and model.safetensors disagree"):
        api.load_run("zoo:tiny")


def test_unsupported_options_say_which(zoo):
    with pytest.raises(ZooError, match="EMA weights only; weights='raw'"):
        api.sample("zoo:tiny", n=2, weights="raw")
    with pytest.raises(ZooError, match="one checkpoint; checkpoint='step_3'"):
        api.sample("zoo:tiny", n=2, checkpoint="step_3")
    with pytest.raises(
        DomainError, match="sampler 'warp' does not apply to method 'flow'; choose one of"
    ):
        api.sample("zoo:tiny", n=2, sampler="warp")
    with pytest.raises(DomainError, match="guidance applies to conditional runs only"):
        api.sample("zoo:tiny", n=2, guidance=2.0)
    with pytest.raises(DomainError, match="unknown sample option"):
        api.sample("zoo:tiny", n=2, temperature=0.5)


def test_retrain_from_a_zoo_entry(zoo, tmp_path):
    run = api.train("zoo:tiny", out=tmp_path / "again", overrides=["train.steps=2"])
    assert (run / "metrics.json").is_file()


def test_hub_reference_is_checked_and_needs_huggingface_hub(zoo, monkeypatch):
    """hf:ORG/NAME goes through huggingface_hub (the hub extra); without it the error says so.
    The package is hidden here; downloads against a local server: tests/test_zoo_hub.py."""
    with pytest.raises(ZooError, match="expected hf:ORG/NAME"):
        api.sample("hf:../x", n=2)
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)  # import fails as if absent
    with pytest.raises(ZooError, match="needs the huggingface_hub package"):
        api.sample("hf:someone/tiny", n=2)


def test_demo_samples_the_zoo_and_trains_one_model(zoo, tmp_path, capsys):
    assert main(["demo", "--fast", "--out", str(tmp_path / "demo")]) == 0
    out = capsys.readouterr().out
    assert "zoo:tiny" in out and "report.html" in out
    report = (tmp_path / "demo" / "report.md").read_text()
    assert "## zoo:tiny" in report and "Trained here" in report
    assert "data:image/png;base64," in (tmp_path / "demo" / "report.html").read_text()
    scores = json.loads((tmp_path / "demo" / "report.json").read_text())
    assert {"zoo:tiny", "train:toy"} <= set(scores)


def test_one_pass_zoo_model_names_the_options_it_cannot_take(tmp_path, monkeypatch):
    run = api.train(tiny_config("gan", steps=4), out=tmp_path / "gan")
    add(run, "tiny-gan", root=tmp_path / "models", n=32, check_n=16, blocks=2, log=lambda *_: None)
    monkeypatch.setattr(store, "ZOO_DIR", tmp_path / "models")
    assert len(api.sample("zoo:tiny-gan", n=4).batch) == 4
    with pytest.raises(DomainError, match=r"steps, eta: not options of tiny-gan .*one generator"):
        api.sample("zoo:tiny-gan", n=4, steps=5, eta=0.5)
    assert len(api.sample(run, n=4, steps=5).batch) == 4  # a run folder still ignores them


def test_pretrained_add_from_the_command_line(zoo_root, tmp_path, capsys):
    run = zoo_root.parent / "run"
    assert main(["pretrained", "add", str(run)]) == 2
    assert "needs --name NAME" in capsys.readouterr().err
    argv = ["pretrained", "add", str(run), "--name", "cli", "--zoo-dir", str(tmp_path)]
    argv += ["--n", "32", "--check-n", "16", "--dtype", "fp32", "--anchor", "paper: 1.0"]
    assert main(argv) == 0
    card = json.loads((tmp_path / "cli" / "card.json").read_text())
    assert card["weights"]["dtype"] == "fp32" and card["anchor"] == {
        "label": "paper",
        "text": "1.0",
    }
    assert main(["pretrained", "show", str(tmp_path / "cli")]) == 0
    assert "Published anchor (paper): 1.0" in capsys.readouterr().out

"""Unpaired translation on images: the thin/bold digits and the two-folder route
(domains/images/unpaired.py), the unconditional PatchGAN, and CycleGAN end to end: train a
few steps (the shipped config with tiny networks) -> `multigen translate` A -> B and B -> A
through the CLI and the API; bad input refused in one line."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from domains.images import unpaired as U
from domains.images.domain import ImageDomain
from domains.images.networks.pix2pix import build_discriminator
from domains.images.translation import write_named
from multigen import api
from multigen.cli import main
from multigen.domain import DomainError

CONFIG = (
    Path(__file__).resolve().parents[3] / "configs" / "images" / "digits_thin_bold_cyclegan.yaml"
)


def _quick(root: Path, *extra: str) -> list[str]:
    opts = {"classifier_steps": 30, "kid_subsets": 5, "cache_dir": str(root / "cache")}
    return [
        "train.steps=3",
        "train.progress=false",
        "train.tensorboard=false",
        "data.batch_size=8",
        "model.params={channels: 4, dropout: 0.0}",
        "discriminator.params={channels: 4, conditional: false}",
        "method.pool_size=4",
        "sample.n=4",
        "eval.n_samples=8",
        f"eval.options={json.dumps(opts)}",
        *extra,
    ]


# ---- the data ------------------------------------------------------------------------------
def test_plus_morphology_by_hand():
    img = torch.zeros(1, 1, 5, 5, dtype=torch.uint8)
    img[..., 1:4, 1:4] = 100  # a 3x3 square
    thin = U.thin(img)[0, 0]
    assert thin.nonzero().tolist() == [[2, 2]]  # only the centre has all 4 neighbours inked
    assert int(thin[2, 2]) == 255  # stretched to full brightness
    bold = U.bold(img)[0, 0] // 255
    assert int(bold.sum()) == 9 + 4 * 3  # the square grows by one pixel on each side
    assert int(bold[0, 0]) == 0 and int(bold[0, 2]) == 1  # not into the corners (plus)
    assert int(U.bold(torch.zeros(1, 1, 4, 4, dtype=torch.uint8)).sum()) == 0  # blank stays


def test_thin_bold_digits_are_unpaired_and_styled():
    ds = ImageDomain().load_dataset("digits_thin_bold", split="train", size=16)
    a_idx, b_idx = U.halves(1438)
    assert len(set(a_idx) & set(b_idx)) == 0 and len(a_idx) + len(b_idx) == 1438
    assert ds.sources.shape == (719, 1, 16, 16) and ds.images.shape == (719, 1, 16, 16)
    ink_a = float((ds.sources >= 96).float().mean())
    ink_b = float((ds.images >= 96).float().mean())
    assert 0.15 < ink_a < 0.3 and 0.45 < ink_b < 0.6  # thin vs bold strokes
    b, a = ds[3]
    assert torch.equal(a, ds.sources[3].float() / 127.5 - 1)
    info = ImageDomain().describe(ds)
    assert info["source_shape"] == [1, 16, 16] and info["unpaired"]["dataset"] == "digits_thin_bold"
    again = ImageDomain().load_dataset("digits_thin_bold", split="train", size=16)
    assert torch.equal(again.images, ds.images)  # no randomness beyond the fixed seeds
    with pytest.raises(DomainError, match="unknown data.params key"):
        ImageDomain().load_dataset("digits_thin_bold", width=3)


def test_unpaired_folders_and_their_refusals(tmp_path, write_image):
    rng = np.random.default_rng(0)
    for i in range(3):
        write_image(tmp_path / "b" / f"{i}.png", rng.integers(0, 256, (20, 20)))
    for i in range(5):
        write_image(tmp_path / "a" / f"{i}.png", rng.integers(0, 256, (12, 12, 3)))
    (tmp_path / "empty").mkdir()
    dom = ImageDomain()
    ds = dom.load_dataset(
        "unpaired_folder", tmp_path / "b", source_path=str(tmp_path / "a"), size=8, channels=1
    )
    assert len(ds) == 5 and ds.images.shape == (3, 1, 8, 8) and ds.sources.shape == (5, 1, 8, 8)
    b, a = ds[4]  # B wraps round: item 4 holds B image 1 and A image 4
    assert torch.equal(b, ds.images[1].float() / 127.5 - 1)
    cases = [
        ("b", "empty", "A (data.params.source_path) folder"),
        ("empty", "a", "B (data.path) folder"),
        ("b", "missing", "A (data.params.source_path) folder not found"),
        ("missing", "a", "B (data.path) folder not found"),
    ]
    for b_dir, a_dir, message in cases:
        with pytest.raises(
            DomainError,
            match=r"unpaired_folder: " + message.replace("(", r"\(").replace(")", r"\)"),
        ) as err:
            dom.load_dataset("unpaired_folder", tmp_path / b_dir, source_path=str(tmp_path / a_dir))
        assert "\n" not in str(err.value) and str(
            tmp_path / a_dir if "A" in message else tmp_path / b_dir
        ) in str(err.value)
    with pytest.raises(DomainError, match="needs data.params.source_path"):
        dom.load_dataset("unpaired_folder", tmp_path / "b")


def test_unconditional_patch_discriminator():
    info = {"shape": [1, 16, 16], "source_shape": [3, 16, 16]}
    disc = build_discriminator(info, channels=4, conditional=False)
    x = torch.randn(2, 1, 16, 16)
    assert torch.equal(disc(x), disc(x, torch.randn(2, 3, 16, 16)))  # the source is ignored
    assert disc.net[0].in_channels == 1
    assert build_discriminator(info, channels=4).net[0].in_channels == 4  # pix2pix: 1 + 3


# ---- end to end ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cyclegan")
    return api.train(CONFIG, out=root / "run", overrides=_quick(root))


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """Four test thin digits (A) and four test bold digits (B) as PNG files."""
    root = tmp_path_factory.mktemp("unpaired")
    test = U.thin_bold_loader(None, "test", size=16)
    names = ["a0", "a1", "sub/a2", "sub/a3"]
    write_named(test.sources[:4], names, root / "A")
    write_named(test.images[:4], [n.replace("a", "b") for n in names], root / "B")
    return root, test


def test_train_then_translate_both_ways(run, folders, tmp_path, capsys):
    metrics = json.loads((run / "metrics.json").read_text())
    assert "fd_digitcnn" in metrics  # the final samples translate test thin digits
    root, test = folders
    out = tmp_path / "ab"
    assert main(["translate", str(run), "--input", str(root / "A"), "--out", str(out)]) == 0
    assert "4 translations" in capsys.readouterr().out
    assert sorted(str(p.relative_to(out).with_suffix("")) for p in out.rglob("*.png")) == [
        "a0",
        "a1",
        "sub/a2",
        "sub/a3",
    ]
    loaded = api.load_run(run)
    res = api.translate(loaded, root / "A", batch_size=3)
    with torch.no_grad():  # A -> B is G applied to the sources
        want = loaded.models["generator"](None, test.sources[:4].float() / 127.5 - 1)
    assert torch.equal(res.samples, ((want.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    back = api.translate(loaded, root / "B", direction="ba")
    with torch.no_grad():  # B -> A is F
        want = loaded.models["generator_ba"](None, test.images[:4].float() / 127.5 - 1)
    assert torch.equal(back.samples, ((want.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8))
    assert not torch.equal(back.samples, api.translate(loaded, root / "B").samples)
    out_ba = tmp_path / "ba"
    assert (
        main(["translate", str(run), str(root / "B"), "--out", str(out_ba), "--direction", "ba"])
        == 0
    )
    assert len(list(out_ba.rglob("*.png"))) == 4


def test_translate_bad_input_is_one_line(run, tmp_path, write_image, capsys):
    write_image(tmp_path / "big" / "x.png", np.zeros((32, 32)))
    write_image(tmp_path / "rgb" / "y.png", np.zeros((16, 16, 3)))
    (tmp_path / "empty").mkdir()
    cases = [
        ([str(tmp_path / "big")], "x.png: source images are 1 channel(s) of 32x32 pixels"),
        ([str(tmp_path / "rgb"), "--direction", "ba"], "3 channel(s) of 16x16 pixels"),
        ([str(tmp_path / "empty")], "no PNG/JPEG images found"),
    ]
    for extra, message in cases:
        assert main(["translate", str(run), *extra, "--out", str(tmp_path / "o")]) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and err.count("\n") == 0, err
    with pytest.raises(DomainError, match="direction must be ab or ba"):
        api.translate(run, tmp_path / "big", direction="sideways")


def test_two_folder_training_and_its_refusals(tmp_path, write_image, capsys):
    test = U.thin_bold_loader(None, "test", size=16)
    for i in range(6):
        write_image(tmp_path / "A" / f"{i}.png", test.sources[i, 0].numpy())
        write_image(tmp_path / "B" / str(i % 2) / f"{i}.png", test.images[i, 0].numpy())
    (tmp_path / "empty").mkdir()
    base = [  # B in two class folders, so it also serves as the labelled eval reference
        "data.name=unpaired_folder",
        f"data.path={tmp_path / 'B'}",
        f"eval.reference={tmp_path / 'B'}",
    ]
    params = "data.params={{size: 16, channels: 1, source_path: {}}}"
    for a_dir, message in [
        ("empty", "A (data.params.source_path) folder"),
        ("nowhere", "A (data.params.source_path) folder not found"),
    ]:
        args = ["train", str(CONFIG), "--out", str(tmp_path / "bad")]
        for o in _quick(tmp_path, *base, params.format(tmp_path / a_dir)):
            args += ["--set", o]
        assert main(args) == 2
        err = capsys.readouterr().err.strip()
        assert message in err and str(tmp_path / a_dir) in err and err.count("\n") == 0, err
    run = api.train(
        CONFIG,
        out=tmp_path / "run",
        overrides=_quick(tmp_path, *base, params.format(tmp_path / "A")),
    )
    res = api.translate(run, tmp_path / "A")
    assert res.samples.shape == (6, 1, 16, 16)


def test_resume_is_exact_with_the_history_pools(tmp_path):
    """The pools are buffers saved with the checkpoint: a run stopped at step 3 (pool of 4
    already full and swapping) and resumed equals an uninterrupted one (Trainer.fit only:
    the end-of-run evaluation is another test's business)."""
    from multigen.config import load_config
    from multigen.registry import get_domain
    from multigen.train import checkpoint as ckpt
    from multigen.train.trainer import Trainer

    sets = _quick(tmp_path, "train.checkpoint_every=3", "data.batch_size=3", "train.precision=fp32")

    def fit(out: Path, steps: int, resume: bool = False) -> Path:
        cfg = load_config(CONFIG, [*sets, f"train.steps={steps}"])
        Trainer(cfg, get_domain("images"), out, resume=resume).fit()
        return out

    full, half = fit(tmp_path / "full", 5), fit(tmp_path / "half", 3)
    fit(half, 5, resume=True)
    a = ckpt.load_weights(ckpt.latest_checkpoint(full))
    b = ckpt.load_weights(ckpt.latest_checkpoint(half))
    assert a.keys() == b.keys() and "model/pool_b.images" in a and "model/pool_a.count" in a
    assert int(a["model/pool_b.count"]) == 4
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_one_way_runs_refuse_direction_ba():
    from domains.images.domain import ImageDomain as Domain
    from multigen.config import load_config
    from multigen.methods import build_method

    cfg = load_config(CONFIG.parent / "digits_edges_pix2pix.yaml", ["model.params={channels: 4}"])
    info = {"shape": [1, 16, 16], "source_shape": [1, 16, 16], "num_classes": 0}
    method = build_method(cfg, Domain(), info)
    run = api.LoadedRun(
        cfg, Domain(), method, method.models, method.info, torch.device("cpu"), Path("x")
    )
    with pytest.raises(DomainError, match="translates one way only; cyclegan runs"):
        api.translate(run, "anywhere", direction="ba")


def test_styled_digit_references_are_the_digits_drawn_thin_or_bold():
    from domains.images.data import load_digits_dataset

    dom = ImageDomain()
    test = load_digits_dataset(None, "test", size=16)
    for name, style in (("digits_thin", U.thin), ("digits_bold", U.bold)):
        ref = dom.reference(f"{name}:test")
        assert torch.equal(ref.images, style(test.images)) and ref.name == f"{name}:test"
        assert ref.feature_name == "digitcnn" and len(ref.train_images) == 1438
    assert dom.reference("digits_bold:test@32").images.shape[-1] == 32
    assert torch.equal(dom.reference("digits:test").images, test.images)

"""How a run ends: EMA warm-up, the final checkpoint before the final evaluation, checks
before the first step, precision ``auto``, progress a user sees, non-finite losses, and
sampling options that do not fit the run."""

import json
import math

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from multigen import api
from multigen.cli import main
from multigen.config import load_config
from multigen.domain import DomainError
from multigen.precision import resolve_precision
from multigen.registry import get_domain
from multigen.train import checkpoint as ckpt
from multigen.train.ema import EMA, ema_decay
from multigen.train.trainer import Trainer, TrainingDiverged

from .helpers import tiny_config

# ---- EMA ----------------------------------------------------------------------------------


def test_ema_warmup_known_answer():
    assert ema_decay(0.999, 0) == pytest.approx(0.1)
    assert ema_decay(0.999, 90) == pytest.approx(0.91)
    assert ema_decay(0.999, 100_000) == 0.999  # β takes over
    assert ema_decay(0.999, 0, warmup=False) == 0.999
    # A weight that jumps from 0 to 1 and stays there: after K updates the EMA still holds
    # ∏_{j<K} (1+j)/(10+j) of the initial 0, i.e. 120/240240 for K = 5.
    net = torch.nn.Linear(1, 1, bias=False)
    torch.nn.init.zeros_(net.weight)
    ema = EMA(net, 0.999)
    torch.nn.init.ones_(net.weight)
    for k in range(5):
        ema.update(net, k)
    assert float(ema.module.weight) == pytest.approx(1 - 120 / 240240, abs=1e-7)
    plain = EMA(torch.nn.Linear(1, 1, bias=False).requires_grad_(False), 0.999, warmup=False)
    torch.nn.init.zeros_(plain.module.weight)
    for k in range(5):
        plain.update(net, k)
    assert float(plain.module.weight) == pytest.approx(1 - 0.999**5, abs=1e-7)


def _energy(run, weights):
    res = api.sample(run, n=512, steps=20, weights=weights)
    return api.evaluate("toy", res.samples, "eight_gaussians:test")["energy_distance"]


def test_short_run_ema_is_no_worse_than_raw_weights(tmp_path):
    """300 steps at decay 0.999: without warm-up the EMA is ~74 % initialisation."""
    cfg = tiny_config("flow", steps=300, ema_decay=0.999, checkpoint_every=1000, lr=3e-3)
    cfg["model"]["params"] = {"width": 64, "depth": 3}
    warm = api.train(cfg, out=tmp_path / "warm")
    cold = api.train({**cfg, "train": {**cfg["train"], "ema_warmup": False}}, out=tmp_path / "c")
    raw, ema = _energy(warm, "raw"), _energy(warm, "ema")
    assert ema <= 1.25 * raw + 0.002, (ema, raw)
    assert _energy(cold, "ema") > 1.5 * ema  # the defect the warm-up removes


# ---- the end of a run ---------------------------------------------------------------------


def test_final_checkpoint_is_written_before_the_final_evaluation(tmp_path, monkeypatch):
    dom = get_domain("toy")

    def broken(*args, **kwargs):
        raise RuntimeError("evaluation crashed")

    monkeypatch.setattr(type(dom), "evaluate", broken)
    with pytest.raises(RuntimeError, match="evaluation crashed"):
        api.train(tiny_config(steps=5, checkpoint_every=100), out=tmp_path / "r")
    last = ckpt.latest_checkpoint(tmp_path / "r")
    assert last is not None and ckpt.read_meta(last)["step"] == 5  # no training lost
    assert not ckpt.read_meta(last)["evaluated"]
    monkeypatch.undo()
    run = api.train(tiny_config(steps=5, checkpoint_every=100), out=tmp_path / "r", resume=True)
    metrics = json.loads((run / "metrics.json").read_text())
    meta = ckpt.read_meta(ckpt.latest_checkpoint(run))
    assert meta["evaluated"] and meta["metrics"] == metrics and meta["step"] == 5


def test_final_samples_are_exported_and_scored_from_one_draw(tmp_path, monkeypatch):
    """sample.n files and eval.n_samples scores come from one generate call."""
    calls = []
    original = Trainer.generate

    def counting(self, n, label=None):
        calls.append(n)
        return original(self, n, label)

    monkeypatch.setattr(Trainer, "generate", counting)
    run = api.train(tiny_config(steps=2), out=tmp_path / "r")
    assert calls == [64]  # max(sample.n = 32, eval.n_samples = 64)
    assert (run / "samples").is_dir() and (run / "metrics.json").is_file()


def _unlabelled_images(root, n=12):
    for split in ("train", "test"):
        (root / split).mkdir(parents=True)
        for i in range(n):
            pixels = np.random.default_rng(i).integers(0, 255, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(root / split / f"{i}.png")


def test_unscorable_reference_fails_before_the_first_step(tmp_path):
    _unlabelled_images(tmp_path / "imgs")
    cfg = yaml.safe_load(open("configs/images/demo_fast.yaml"))
    cfg["data"] = {"name": "folder", "path": str(tmp_path / "imgs"), "batch_size": 4,
                   "params": {"size": 8, "channels": 1}}  # fmt: skip
    cfg["eval"].pop("reference", None)
    with pytest.raises(DomainError, match="no class labels"):
        api.train(cfg, out=tmp_path / "run")
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_empty_test_split_fails_before_the_first_step(tmp_path, monkeypatch):
    dom = get_domain("toy")
    real = type(dom).load_dataset

    def no_test(self, name, path=None, split="train", **params):
        ds = real(self, name, path, split, **params)
        return torch.utils.data.Subset(ds, []) if split == "test" else ds

    monkeypatch.setattr(type(dom), "load_dataset", no_test)
    with pytest.raises(DomainError, match="empty test split"):
        api.train(tiny_config(steps=2), out=tmp_path / "r")
    assert ckpt.latest_checkpoint(tmp_path / "r") is None


# ---- precision ----------------------------------------------------------------------------


def test_precision_auto_follows_native_bf16(monkeypatch):
    import multigen.precision as P

    monkeypatch.setattr(P, "cpu_bf16_features", lambda: ())
    assert resolve_precision("auto", "cpu")[0] == "fp32"
    monkeypatch.setattr(P, "cpu_bf16_features", lambda: ("avx512_bf16",))
    precision, reason = resolve_precision("auto", "cpu")
    assert precision == "bf16" and "avx512_bf16" in reason
    assert resolve_precision("fp32", "cpu")[0] == "fp32"
    assert resolve_precision("bf16", "cpu")[0] == "bf16"


def test_trainer_records_the_resolved_precision(tmp_path, monkeypatch):
    import multigen.precision as P

    monkeypatch.setattr(P, "cpu_bf16_features", lambda: ())
    run = api.train(tiny_config(steps=2, precision="auto"), out=tmp_path / "r")
    assert ckpt.read_meta(ckpt.latest_checkpoint(run))["precision"] == "fp32"


# ---- progress -----------------------------------------------------------------------------


def test_progress_lines_without_a_terminal(tmp_path, capsys):
    cfg = tiny_config(steps=6, progress=True, log_every=2, checkpoint_every=3)
    api.train(cfg, out=tmp_path / "r")
    out = capsys.readouterr().out
    for step in (2, 4, 6):
        assert f"train {step}/6 steps" in out
    assert "in fp32" in out and "final samples 64/64" in out and "scored in" in out
    api.train({**cfg, "train": {**cfg["train"], "steps": 8}}, out=tmp_path / "r", resume=True)
    assert "resuming from step 6" in capsys.readouterr().out
    api.train({**cfg, "train": {**cfg["train"], "steps": 8}}, out=tmp_path / "r", resume=True)
    out = capsys.readouterr().out
    assert "already reached" in out and "the run is complete" in out
    with pytest.raises(DomainError, match="beyond train.steps=4"):
        api.train(cfg | {"train": {**cfg["train"], "steps": 4}}, out=tmp_path / "r", resume=True)


# ---- non-finite losses and weights --------------------------------------------------------


def test_divergence_stops_with_one_line_and_status_2(tmp_path, capsys):
    cfg = tmp_path / "c.yaml"
    cfg.write_text(yaml.safe_dump(tiny_config(steps=40, checkpoint_every=1, keep_last=50)))
    code = main(["train", str(cfg), "--out", str(tmp_path / "r"), "--set", "train.lr=1e30",
                 "--set", "train.grad_clip=null"])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1
    assert "training stopped" in err[0] or "not finite" in err[0], err
    for path in ckpt.list_checkpoints(tmp_path / "r"):
        assert not ckpt.nonfinite_tensors(ckpt.load_weights(path)), path


def test_nonfinite_weights_are_never_saved(tmp_path):
    trainer = Trainer(load_config(tiny_config(steps=2)), get_domain("toy"), tmp_path / "r")
    with torch.no_grad():
        next(trainer.models["model"].parameters()).fill_(math.nan)
    with pytest.raises(TrainingDiverged, match="not finite"):
        trainer.save()
    assert ckpt.latest_checkpoint(tmp_path / "r") is None


def test_sample_refuses_nonfinite_weights(tmp_path):
    run = api.train(tiny_config(steps=2), out=tmp_path / "r")
    path = ckpt.latest_checkpoint(run)
    weights = ckpt.load_weights(path)
    key = next(k for k in weights if k.startswith("ema/"))
    weights[key] = torch.full_like(weights[key], math.nan)
    ckpt.save_file(weights, str(path / "weights.safetensors"))
    with pytest.raises(ckpt.CheckpointError, match="non-finite"):
        api.sample(run, n=4)
    assert api.sample(run, n=4, weights="raw").batch.x.isfinite().all()


# ---- sampling options that do not fit the run ---------------------------------------------


@pytest.fixture(scope="module")
def plain_run(tmp_path_factory):
    return api.train(tiny_config("edm", steps=3), out=tmp_path_factory.mktemp("p") / "r")


def test_guidance_and_cond_on_unconditional_run_are_errors(plain_run):
    with pytest.raises(DomainError, match="without conditions"):
        api.sample(plain_run, n=4, guidance=2.0)
    with pytest.raises(DomainError, match="without conditions"):
        api.sample(plain_run, n=4, cond=3)
    api.sample(plain_run, n=4, guidance=1.0)  # 1 = off: fine anywhere


def test_guidance_needs_condition_dropout(tmp_path):
    cfg = tiny_config("edm", steps=2)
    cfg["data"]["conditional"] = True
    cfg["data"]["params"]["labels"] = True
    run = api.train(cfg, out=tmp_path / "r")
    with pytest.raises(DomainError, match="cond_drop"):
        api.sample(run, n=4, guidance=2.0)
    with pytest.raises(DomainError, match="class labels must be integers 0..7"):
        api.sample(run, n=4, cond=8)
    assert len(api.sample(run, n=4, cond=3).batch) == 4


def test_foreign_checkpoint_is_refused(plain_run, tmp_path):
    other = api.train(tiny_config("flow", steps=2), out=tmp_path / "other")
    foreign = ckpt.latest_checkpoint(other)
    with pytest.raises(ckpt.CheckpointError, match="not a checkpoint of"):
        api.sample(plain_run, n=4, checkpoint=str(foreign))
    own = ckpt.latest_checkpoint(plain_run)
    assert len(api.sample(plain_run, n=4, checkpoint=str(own)).batch) == 4


def test_raw_and_ema_weights_differ(plain_run):
    ema = api.load_run(plain_run).models["model"].state_dict()
    raw = api.load_run(plain_run, weights="raw").models["model"].state_dict()
    assert any(not torch.equal(ema[k], raw[k]) for k in ema)
    with pytest.raises(DomainError, match="weights must be one of ema, raw"):
        api.load_run(plain_run, weights="best")


def test_sampler_and_schedule_are_checked_before_the_first_step(tmp_path):
    with pytest.raises(DomainError, match="sample.schedule 'diffwave_fast' is not known here"):
        api.train(tiny_config(steps=2) | {"sample": {"schedule": "diffwave_fast"}}, tmp_path / "a")
    with pytest.raises(DomainError, match="sample.sampler 'plms' does not apply"):
        api.train(tiny_config(steps=2) | {"sample": {"sampler": "plms"}}, tmp_path / "b")
    assert not (tmp_path / "a" / "checkpoints").exists()


def test_auto_times_one_step_on_native_bf16_cpus_and_resume_keeps_the_choice(tmp_path, monkeypatch):
    import multigen.precision as P
    import multigen.train.trainer as T

    monkeypatch.setattr(P, "cpu_bf16_features", lambda: ("avx512_bf16",))
    cfg = tiny_config(steps=2, precision="auto", checkpoint_every=1)
    monkeypatch.setattr(T, "measure_speedup", lambda step: 1.05)  # not clearly faster
    run = api.train(cfg, out=tmp_path / "slow")
    assert ckpt.read_meta(ckpt.latest_checkpoint(run))["precision"] == "fp32"
    monkeypatch.setattr(T, "measure_speedup", lambda step: 3.0)
    run = api.train(cfg, out=tmp_path / "fast")
    assert ckpt.read_meta(ckpt.latest_checkpoint(run))["precision"] == "bf16"
    assert api.load_run(run).precision == "bf16"  # sampling follows training's choice
    monkeypatch.setattr(T, "measure_speedup", lambda step: 1.0)  # would now pick fp32
    more = {**cfg, "train": {**cfg["train"], "steps": 3}}
    api.train(more, out=tmp_path / "fast", resume=True)
    assert ckpt.read_meta(ckpt.latest_checkpoint(run))["precision"] == "bf16"


def test_step_timing_changes_no_state(tmp_path):
    trainer = Trainer(load_config(tiny_config("gan", steps=2)), get_domain("toy"), tmp_path / "r")
    before = {
        k: {n: t.clone() for n, t in m.state_dict().items()} for k, m in trainer.models.items()
    }
    rng = torch.get_rng_state()
    assert trainer._time_step("bf16") > 0 and trainer._time_step("fp32") > 0
    assert torch.equal(rng, torch.get_rng_state())
    for k, m in trainer.models.items():
        assert all(torch.equal(before[k][n], t) for n, t in m.state_dict().items())
        assert all(p.grad is None for p in m.parameters()) and m.training


def test_sampling_never_emulates_bf16(tmp_path, monkeypatch):
    """A run trained in bf16, sampled where bf16 would be emulated, samples in fp32."""
    import multigen.precision as P
    from multigen.api import _sampling_precision

    monkeypatch.setattr(P, "cpu_bf16_features", lambda: ("avx512_bf16",))
    run = api.load_run(api.train(tiny_config(steps=2, precision="bf16"), out=tmp_path / "r"))
    auto = api.load_run(tmp_path / "r")
    auto.config.train.precision = "auto"
    assert _sampling_precision(run) == "bf16" and _sampling_precision(auto) == "bf16"
    monkeypatch.setattr(P, "cpu_bf16_features", lambda: ())
    assert _sampling_precision(auto) == "fp32"  # auto on an AVX2-only CPU
    assert _sampling_precision(run) == "bf16"  # bf16 asked for explicitly

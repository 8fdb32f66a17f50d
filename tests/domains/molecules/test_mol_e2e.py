"""End to end through the engine: train a few steps on the embedded set, sample, export,
evaluate from files. Tiny networks; the numbers are not checked for quality, only that every
method runs through the shared engine and writes what it should."""

from __future__ import annotations

import json

import pytest

from multigen import api
from multigen.domain import DomainError

SMALL = [
    "train.steps=4",
    "train.log_every=2",
    "train.checkpoint_every=4",
    "train.tensorboard=false",
    "data.batch_size=8",
    "sample.n=6",
    "sample.batch_size=6",
    "sample.steps=4",
    "eval.n_samples=6",
    "eval.options={fcd: false, strain: false}",
]


def run(tmp_path, config, extra=()):
    out = api.train(
        f"configs/molecules/{config}", out=tmp_path / "run", overrides=SMALL + list(extra)
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert 0.0 <= metrics["atom_stability"] <= 1.0 and metrics["n_samples"] == 6
    assert (out / "samples" / "samples.sdf").exists()
    return out


def test_flow_with_ot_alignment_end_to_end(tmp_path):
    out = run(tmp_path, "embedded_flow.yaml", ["model.params={hidden: 16, layers: 2}"])
    res = api.sample(out, n=5, sampler="dpmpp_2m", steps=3, seed=1, out=tmp_path / "s")
    assert len(res.samples) == 5 and res.batch.x.shape[0] == 5
    again = api.sample(out, n=2, sampler="dpmpp_2m", steps=3, seed=1)
    assert [m.symbols for m in again.samples] == [m.symbols for m in res.samples[:2]]  # per-seed
    scores = api.evaluate(
        "molecules", tmp_path / "s" / "samples.sdf", "embedded:test", fcd=False, strain=False
    )
    assert scores["n_samples"] == 5 and "validity" in scores and "bond_length_w1" in scores
    # Atom-count conditioning: an integer condition fixes the size of every sample.
    sized = api.sample(out, n=3, steps=2, cond=7)
    assert [m.num_atoms for m in sized.samples] == [7, 7, 7]
    with pytest.raises(DomainError, match="atom count 500 is outside"):
        api.sample(out, n=1, steps=2, cond=500)


def test_edm_paper_style_ddpm_end_to_end(tmp_path):
    run(tmp_path, "embedded_edm.yaml", ["model.params={hidden: 16, layers: 2}"])


def test_gan_end_to_end(tmp_path):
    run(
        tmp_path,
        "embedded_gan.yaml",
        ["model.params={hidden: 16, layers: 2}", "discriminator.params={hidden: 16, layers: 2}"],
    )


@pytest.mark.slow
def test_e3nn_with_edm_method(tmp_path):
    run(
        tmp_path,
        "embedded_edm.yaml",
        [
            "model.name=e3nn",
            "model.params={scalars: 8, vectors: 4, layers: 2}",
            "method={name: edm}",
            "sample.sampler=heun",
        ],
    )


def test_property_conditioning_with_guidance(tmp_path):
    out = run(
        tmp_path,
        "embedded_flow.yaml",
        [
            "model.params={hidden: 16, layers: 2}",
            "data.params={properties: [qed, mw]}",
            "data.conditional=true",
            "method.cond_drop=0.2",
        ],
    )
    res = api.sample(out, n=4, steps=3, guidance=2.0, seed=0)
    assert all("target_mw" in m.props for m in res.samples)
    # A requested size gets property targets of training molecules of that size.
    sized = api.sample(out, n=2, steps=2, cond=[9, 12])
    assert [m.num_atoms for m in sized.samples] == [9, 12]
    assert all("target_qed" in m.props for m in sized.samples)


@pytest.mark.slow
def test_demo_fast_config(tmp_path):
    out = api.train("configs/molecules/demo_fast.yaml", out=tmp_path / "demo")
    assert (out / "samples" / "samples_grid.png").exists()


def test_qm9_gpu_config_builds_edm_sized_egnn_on_cpu():
    from multigen.config import load_config
    from multigen.methods import build_method
    from multigen_domains.molecules import get_domain

    cfg = load_config("configs/molecules/edm_qm9.yaml")
    info = {"shape": [29, 9], "atom_types": ["H", "C", "N", "O", "F"], "num_classes": 0}
    info |= {"cond_dim": 0, "sigma_data": 1.0, "n_nodes_hist": {"19": 1.0}}
    method = build_method(cfg, get_domain(), info)
    n_params = sum(p.numel() for p in method.models["model"].parameters())
    assert 5.2e6 < n_params < 5.6e6  # EDM's EGNN 9×256 has 5.3M
    assert cfg.method.schedule == "polynomial_2" and cfg.method.parameterization == "eps"

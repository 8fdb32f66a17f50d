"""Every configs/molecules/qm9_*.yaml loads, builds its method on CPU at the stated size, and
a CPU config trains, samples and scores end to end on a tiny qm9pack-format fixture."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from multigen.config import load_config
from multigen.methods import build_method
from multigen_domains.molecules import get_domain, qm9_pack
from tests.train.helpers import quick_overrides

from .test_mol_qm9pack import write_pack

CONFIGS = sorted(Path("configs/molecules").glob("qm9_*.yaml"))
INFO = {
    "shape": [29, 9],
    "atom_types": ["H", "C", "N", "O", "F"],
    "num_classes": 0,
    "cond_dim": 0,
    "sigma_data": 1.0,
    "n_nodes_hist": {"19": 1.0},
}
JOINT = {  # what data.params.graph adds (joint_flow's categorical parts)
    "shape": [29, 3],
    "charge_values": [-1, 0, 1],
    "bond_orders": [0, 1, 2, 3],
    "parts": {
        "types": {"prior": [0.5, 0.3, 0.1, 0.05, 0.05]},
        "charges": {"prior": [0.01, 0.98, 0.01]},
        "bonds": {"prior": [0.9, 0.07, 0.02, 0.01], "pairwise": True},
    },
}


def test_every_method_has_a_cpu_and_a_gpu_qm9_config():
    names = {p.stem for p in CONFIGS}
    methods = ("edm", "flow", "gan", "cond_edm", "joint")
    assert names == {f"qm9_{m}_{s}" for m in methods for s in ("cpu", "gpu")}


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_qm9_config_loads_and_builds(path):
    cfg = load_config(path)
    assert cfg.domain == "molecules" and cfg.data.name == "qm9" and cfg.data.path is None
    assert cfg.eval.reference.startswith("qm9:")
    info = INFO | {"cond_dim": len(cfg.data.params.get("properties", []))}
    if cfg.method.name == "joint_flow":
        info |= JOINT
    if cfg.data.conditional:  # EDM's conditional protocol: generator on half b
        assert cfg.data.params["half"] == "b" and cfg.eval.reference == "qm9:train_a"
    method = build_method(cfg, get_domain(), info)
    net = method.models["generator" if cfg.method.name == "gan" else "model"]
    n_params = sum(p.numel() for p in net.parameters())
    if cfg.method.name == "joint_flow":  # its own network: bond features on every pair
        assert cfg.data.params["graph"] is True
        assert n_params < (6e6 if path.stem.endswith("_gpu") else 5e5)
    elif path.stem.endswith("_gpu"):  # EDM's size: EGNN 9×256 (5.3M), batch 64
        assert cfg.model.params["hidden"] == 256 and cfg.model.params["layers"] == 9
        assert cfg.data.batch_size == 64 and cfg.train.device == "cuda"
        assert 5.0e6 < n_params < 5.6e6
    else:
        assert n_params < 3e5 and cfg.train.device == "auto"
    if "edm" in path.stem:
        assert cfg.method.schedule == "polynomial_2" and cfg.method.parameterization == "eps"
        assert cfg.method.timesteps == 1000


def train_on_small_pack(tmp_path, monkeypatch, config: str, steps: int, *extra: str) -> Path:
    """Train ``configs/molecules/<config>.yaml`` for ``steps`` on a 40-molecule qm9pack
    folder (as the installed wheel) with tiny draws; returns the run folder."""
    from multigen import api

    monkeypatch.setenv("MULTIGEN_CACHE", str(tmp_path / "cache"))
    folder = write_pack(tmp_path / "pack", n=40)
    monkeypatch.setattr(qm9_pack, "pack_dir", lambda: folder)
    overrides = quick_overrides(steps, 4, 4, 4, sample_steps=2)
    overrides += [f"train.checkpoint_every={steps}", "sample.batch_size=4", *extra]
    return api.train(f"configs/molecules/{config}.yaml", out=tmp_path / "run", overrides=overrides)


def test_qm9_cpu_config_end_to_end_on_a_small_pack(tmp_path, monkeypatch):
    out = train_on_small_pack(
        tmp_path,
        monkeypatch,
        "qm9_flow_cpu",
        3,
        "model.params={hidden: 16, layers: 2}",
        "train.log_every=1",
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_samples"] == 4 and "uniqueness_heavy" in metrics
    assert list((out / "checkpoints").glob("step_*/weights.safetensors"))


def test_qm9_joint_cpu_config_end_to_end_on_a_small_pack(tmp_path, monkeypatch):
    """qm9pack has no bonds: the joint model's data get RDKit's perception, said in notes."""
    out = train_on_small_pack(
        tmp_path,
        monkeypatch,
        "qm9_joint_cpu",
        2,
        "model.params={hidden: 16, edge_dim: 8, layers: 2}",
    )
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_samples"] == 4 and "mol_stability_bonds" in metrics
    notes = json.loads((out / "log.jsonl").read_text().splitlines()[0])["data/notes"]
    assert any("bond perception" in n for n in notes)

"""The joint-graph molecule model (issue 14): graph state round trip, the bond-aware
protocol's known answers, a tiny end-to-end run, and bad input named in one line."""

from __future__ import annotations

import json

import numpy as np
import pytest

from multigen import api
from multigen.domain import DomainError
from multigen.parts import PartsBatch
from multigen.registry import get_domain
from multigen.train.checkpoint import CheckpointError
from multigen_domains.molecules.io import read_sdf
from multigen_domains.molecules.metrics.bonded import bond_aware_metrics
from multigen_domains.molecules.mol import Molecule

SMALL = [
    "train.steps=4",
    "train.log_every=2",
    "train.checkpoint_every=4",
    "train.tensorboard=false",
    "data.batch_size=8",
    "model.params={hidden: 16, edge_dim: 8, layers: 2}",
    "sample.n=6",
    "sample.batch_size=6",
    "sample.steps=4",
    "eval.n_samples=6",
    "eval.options={fcd: false, strain: false}",
]


def test_bond_aware_stability_known_answers(methane):
    bonded = Molecule(methane.symbols, methane.positions, bonds=[[0, k, 1] for k in range(1, 5)])
    assert bond_aware_metrics([bonded])["mol_stability_bonds"] == 1.0
    short = Molecule(methane.symbols, methane.positions, bonds=[[0, k, 1] for k in range(1, 4)])
    got = bond_aware_metrics([short])
    assert got["mol_stability_bonds"] == 0.0 and got["atom_stability_bonds"] == pytest.approx(3 / 5)
    assert got["connected_bonds"] == 0.0  # the fifth atom is its own fragment
    # N+ with four bonds is stable only with its charge (charge-aware valences)
    nh4 = Molecule(["N", "H", "H", "H", "H"], methane.positions, [1, 0, 0, 0, 0], bonded.bonds)
    assert bond_aware_metrics([nh4])["mol_stability_bonds"] == 1.0
    assert bond_aware_metrics([methane]) == {}  # no bonds: no bond-aware keys


def test_graph_state_round_trip_scores_the_data_as_stable():
    """Encoding the embedded set as joint states and decoding them back gives its own
    molecules: the bond-aware protocol on the data itself is (nearly) perfect."""
    dom = get_domain("molecules")
    ds = dom.load_dataset("embedded", split="test", graph=True)
    info = dom.describe(ds)
    batch = dom.collate([ds[k] for k in range(len(ds))])
    assert isinstance(batch, PartsBatch) and batch.x.shape[-1] == 3
    assert (batch.parts["bonds"] == batch.parts["bonds"].transpose(1, 2)).all()
    mols = dom.decode(batch, info)
    assert [m.symbols for m in mols] == [m.symbols for m in ds.mols]
    scores = bond_aware_metrics(mols)
    assert scores["mol_stability_bonds"] > 0.97 and scores["validity_bonds"] > 0.97
    assert sum(info["parts"]["bonds"]["prior"]) == pytest.approx(1.0)


def test_joint_flow_end_to_end(tmp_path):
    out = api.train("configs/molecules/embedded_joint.yaml", out=tmp_path / "run", overrides=SMALL)
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("mol_stability", "validity", "mol_stability_bonds", "validity_bonds"):
        assert 0.0 <= metrics[key] <= 1.0, key  # both protocols, distinct keys
    res = api.sample(out, n=3, steps=3, seed=2, out=tmp_path / "s")
    written = read_sdf(tmp_path / "s" / "samples.sdf")
    for got, want in zip(written, res.samples):  # the SDF carries the generated bonds
        assert sorted(map(tuple, got.bonds.tolist())) == sorted(map(tuple, want.bonds.tolist()))
        assert np.array_equal(got.charges, want.charges)
    again = api.sample(out, n=1, steps=3, seed=2)
    assert again.samples[0].symbols == res.samples[0].symbols  # per-sample seeds
    sized = api.sample(out, n=2, steps=2, cond=5)
    assert [m.num_atoms for m in sized.samples] == [5, 5]
    scores = api.evaluate("molecules", tmp_path / "s", "embedded:test", fcd=False, strain=False)
    assert "mol_stability_bonds" in scores and "mol_stability" in scores

    # bad input, one clear line each
    with pytest.raises(DomainError, match="atom count 500 is outside"):
        api.sample(out, n=1, steps=2, cond=500)
    with pytest.raises(DomainError, match="trained without conditions"):
        api.sample(out, n=1, steps=2, cond=[0.5])
    with pytest.raises(DomainError, match="samples with 'euler' only|does not apply"):
        api.sample(out, n=1, steps=2, sampler="heun")
    meta_file = next((out / "checkpoints").glob("*/meta.json"))
    meta = json.loads(meta_file.read_text())
    meta["info"]["bond_orders"] = [0, 1, 2, 3, 4]  # a vocabulary with aromatic bonds
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="bond vocabulary .* does not match") as err:
        api.sample(out, n=1, steps=2)
    assert "\n" not in str(err.value)


def test_joint_flow_needs_the_graph_and_a_joint_network(tmp_path):
    with pytest.raises(DomainError, match=r"data.params.graph: true"):
        api.train(
            "configs/molecules/embedded_joint.yaml",
            out=tmp_path / "a",
            overrides=[*SMALL, "data.params={}"],
        )
    with pytest.raises(DomainError, match="unknown joint_denoiser network 'egnn'.*joint_egnn"):
        api.train(
            "configs/molecules/embedded_joint.yaml",
            out=tmp_path / "b",
            overrides=[*SMALL, "model.name=egnn", "model.params={hidden: 16, layers: 2}"],
        )
    with pytest.raises(DomainError, match="loss_weights: unknown part"):
        api.train(
            "configs/molecules/embedded_joint.yaml",
            out=tmp_path / "c",
            overrides=[*SMALL, "method.loss_weights={atoms: 1.0}"],
        )


def test_joint_flow_property_conditioning_and_guidance(tmp_path):
    out = api.train(
        "configs/molecules/embedded_joint.yaml",
        out=tmp_path / "run",
        overrides=[
            *SMALL,
            "data.params={graph: true, properties: [qed]}",
            "data.conditional=true",
            "method.cond_drop=0.2",
        ],
    )
    res = api.sample(out, n=2, steps=2, guidance=2.0, seed=0)
    assert len(res.samples) == 2 and all(m.bonds is not None for m in res.samples)
    assert "target_qed" in res.samples[0].props
    with pytest.raises(DomainError, match="conditioned on 1 properties"):
        api.sample(out, n=1, steps=2, cond=[0.5, 0.1, 0.2])


def test_bond_perception_agrees_with_written_bonds():
    """Files without bonds (XYZ, QM9 from qm9pack) get RDKit's perception: on embedded
    molecules with their bonds removed it gives the written connectivity and bond-order sum
    (a Kekulé structure may place a ring's double bonds the other way round)."""
    from multigen_domains.molecules.joint import kekule_bonds

    mols = get_domain("molecules").load_dataset("embedded", split="test").mols[:30]
    for m in mols:
        bare = Molecule(m.symbols, m.positions, m.charges, None, {}, m.name)
        got, want = kekule_bonds(bare), kekule_bonds(m)
        assert np.array_equal(got > 0, want > 0) and got.sum() == want.sum(), m.name

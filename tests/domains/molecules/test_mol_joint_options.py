"""The joint_flow method's options (issue 14): method.part_time (per-part noise level t**g),
method.ot_pairing (noise permuted and rotated onto each molecule) and method.self_condition:
what they do to the noised state, refusals in one line, and a tiny train -> sample run each."""

from __future__ import annotations

import pytest
import torch

from multigen import api
from multigen.config import load_config
from multigen.diffusion import discrete
from multigen.domain import DomainError
from multigen.methods import build_method
from multigen.randomness import step_generators
from multigen.registry import get_domain

from .test_mol_joint import SMALL

CONFIG = "configs/molecules/embedded_joint.yaml"


@pytest.fixture(scope="module")
def data():
    dom = get_domain("molecules")
    ds = dom.load_dataset("embedded", split="test", graph=True)
    return dom, dom.describe(ds), dom.collate([ds[k] for k in range(8)])


def method_with(data, *overrides):
    dom, info, _ = data
    return build_method(load_config(CONFIG, [*SMALL, *overrides]), dom, info)


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("method.part_time={atoms: 2.0}", r"part_time: unknown part\(s\) \['atoms'\]"),
        ("method.part_time={types: 0.0}", "part_time: exponents must be > 0"),
        ("method.part_time={bonds: -1.0}", "part_time: exponents must be > 0"),
    ],
)
def test_part_time_refusals_are_one_line(tmp_path, override, message):
    with pytest.raises(DomainError, match=message) as err:
        api.train(CONFIG, out=tmp_path / "run", overrides=[*SMALL, override])
    assert "\n" not in str(err.value)


def test_part_time_noises_each_part_at_t_to_the_g(data):
    """With part_time {types: 2}, a type variable is redrawn from the prior with probability
    t**2 (so it changes with probability t**2·(1 - π[x0])); bonds keep the plain t."""
    _, info, batch = data
    method = method_with(data, "method.part_time={types: 2.0}", "method.categorical_prior=marginal")
    t_val, draws = 0.6, 100
    changed = {"types": 0, "bonds": 0}
    real = {k: discrete.element_mask(method.parts[k], batch.mask) for k in changed}
    for d in range(draws):
        gens = step_generators(3, d, range(len(batch)))
        _, parts_t = method.noisy(batch, torch.full((len(batch),), t_val), gens)
        for k in changed:
            changed[k] += ((parts_t[k] != batch.parts[k]) & real[k]).sum().item()
    for k, g in (("types", 2.0), ("bonds", 1.0)):
        pi = method.parts[k].prior_tensor()
        expected = draws * (t_val**g * (1 - pi[batch.parts[k][real[k]]])).sum().item()
        assert abs(changed[k] - expected) < 4 * expected**0.5, (k, changed[k], expected)


def test_ot_pairing_permutes_and_rotates_the_noise_onto_the_molecule(data):
    """At t = 1 the noised coordinates are the noise itself: with ot_pairing they are the
    same noise, permuted and rotated (the norms of the atoms' positions are kept), and no
    farther from the molecule than the unpaired draw."""
    _, _, batch = data
    t = torch.ones(len(batch))
    gens = step_generators(5, 0, range(len(batch)))
    plain, _ = method_with(data).noisy(batch, t, gens)
    gens = step_generators(5, 0, range(len(batch)))
    paired, _ = method_with(data, "method.ot_pairing=true").noisy(batch, t, gens)
    mask = batch.mask.bool()
    for b in range(len(batch)):
        real = mask[b]
        a, p, x0 = plain[b][real], paired[b][real], batch.x[b][real]
        assert torch.allclose(a.norm(dim=-1).sort().values, p.norm(dim=-1).sort().values, atol=1e-5)
        assert ((p - x0) ** 2).sum() <= ((a - x0) ** 2).sum() + 1e-5
        assert not torch.allclose(a, p)  # it did move something
    assert (paired[~mask] == 0).all()


@pytest.mark.parametrize(
    "option",
    [
        "method.ot_pairing=true",
        "method.part_time={types: 2.0, charges: 0.5, bonds: 2.0}",
        "method.self_condition=true",
        "method.categorical_prior=masked",
        "method.eta=2.0",
        "method.x_weight=velocity",
    ],
)
def test_train_then_sample_with_each_option(tmp_path, option):
    out = api.train(CONFIG, out=tmp_path / "run", overrides=[*SMALL, option])
    res = api.sample(out, n=3, steps=4, seed=1)
    assert len(res.samples) == 3
    for mol in res.samples:
        assert mol.bonds is not None and mol.num_atoms > 0
        assert set(mol.charges.tolist()) <= {-1, 0, 1}
    again = api.sample(out, n=1, steps=4, seed=1)  # per-sample seeds
    assert again.samples[0].symbols == res.samples[0].symbols
    assert (again.samples[0].bonds == res.samples[0].bonds).all()


def test_masked_prior_noises_to_the_mask_state_only(data):
    """With categorical_prior masked, a variable is its data class or the mask state (index
    = its number of classes), masked with probability t; the network gets one more input
    state per part."""
    _, _, batch = data
    method = method_with(data, "method.categorical_prior=masked")
    assert all(p.masked for p in method.parts.values())
    net = method.models["model"]
    assert net.node_in["types"].num_embeddings == method.parts["types"].classes + 1
    assert net.edge_in["bonds"].num_embeddings == method.parts["bonds"].classes + 1
    t_val, draws, masked, total = 0.3, 50, 0, 0
    for d in range(draws):
        gens = step_generators(4, d, range(len(batch)))
        _, parts_t = method.noisy(batch, torch.full((len(batch),), t_val), gens)
        for k, p in method.parts.items():
            real = discrete.element_mask(p, batch.mask)
            got, x0 = parts_t[k][real], batch.parts[k][real]
            assert ((got == x0) | (got == p.classes)).all()
            if k == "types":
                masked += (got == p.classes).sum().item()
                total += got.numel()
    assert abs(masked / total - t_val) < 0.02


def test_velocity_weight_is_one_over_t_squared_capped(data):
    method = method_with(data, "method.x_weight=velocity", "method.x_weight_cap=50")
    w = method.x_weight(torch.tensor([1.0, 0.5, 0.2, 0.1, 0.01]))
    assert torch.allclose(w, torch.tensor([1.0, 4.0, 25.0, 50.0, 50.0]))
    assert torch.equal(method_with(data).x_weight(torch.tensor([0.3])), torch.ones(1))

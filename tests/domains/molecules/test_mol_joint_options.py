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
    method = method_with(data, "method.part_time={types: 2.0}")
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

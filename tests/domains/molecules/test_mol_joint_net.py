"""Symmetry tests of the joint atoms-and-bonds network (float64, perturbed random weights;
tolerance 1e-9 absolute, as test_mol_nets.py: round-off is ~1e-13, a broken symmetry is
order 1)."""

from __future__ import annotations

import pytest
import torch

from multigen.diffusion.discrete import symmetrize
from multigen_domains.molecules.networks.joint_egnn import JointEGNN, build_joint_egnn
from multigen_domains.molecules.state import remove_mean

TOL = 1e-9
INFO = {
    "shape": [10, 3],
    "atom_types": ["H", "C", "N", "O", "F"],
    "charge_values": [-1, 0, 1],
    "bond_orders": [0, 1, 2, 3],
    "num_classes": 0,
    "cond_dim": 0,
    "parts": {
        "types": {"prior": [0.5, 0.3, 0.1, 0.05, 0.05]},
        "charges": {"prior": [0.1, 0.8, 0.1]},
        "bonds": {"prior": [0.7, 0.2, 0.05, 0.05], "pairwise": True},
    },
}


def state(seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(10)[None] < torch.tensor([10, 6, 8])[:, None]
    x = remove_mean(torch.randn(3, 10, 3, generator=g, dtype=torch.float64), mask)
    parts = {
        "types": torch.randint(5, (3, 10), generator=g) * mask,
        "charges": torch.randint(3, (3, 10), generator=g) * mask,
        "bonds": symmetrize(torch.randint(4, (3, 10, 10), generator=g))
        * (mask[:, :, None] & mask[:, None, :]),
    }
    return x, parts, mask


def net(**options):
    torch.manual_seed(0)
    model = JointEGNN(INFO, hidden=16, edge_dim=8, layers=2, **options).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return model


def orthogonal(seed=1, reflect=False):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    if (torch.det(q) < 0) != reflect:
        q[:, 0] = -q[:, 0]
    return q


T = torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64)


OPTIONS = [{}, {"radial": True, "mask_token": True}]


@pytest.mark.parametrize("options", OPTIONS)
@pytest.mark.parametrize("reflect", [False, True])
def test_rotation_reflection_translation(reflect, options):
    model = net(**options)
    x, parts, mask = state()
    x0, logits = model(x, T, parts, None, mask)
    q = orthogonal(reflect=reflect)
    shift = torch.tensor([1.5, -2.0, 0.7], dtype=torch.float64)
    x0r, logits_r = model((x @ q.T + shift) * mask[..., None], T, parts, None, mask)
    assert (x0r - x0 @ q.T).abs().max() < TOL  # equivariant, translation removed
    for k in logits:
        assert (logits_r[k] - logits[k]).abs().max() < TOL, k  # invariant
    assert (x0 * mask[..., None]).sum(1).abs().max() < TOL  # zero centre of mass
    assert x0[~mask].abs().max() == 0  # padding stays zero
    assert x0.abs().mean() > 1e-3 and logits["bonds"].abs().mean() > 1e-3


@pytest.mark.parametrize("options", OPTIONS)
def test_permutation_and_bond_symmetry(options):
    model = net(**options)
    x, parts, mask = state()
    mask = torch.ones_like(mask)  # permute all ten atoms of full molecules
    x = remove_mean(x, mask)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    x0, logits = model(x, T, parts, None, mask)
    pparts = {k: v[:, perm][:, :, perm] if v.ndim == 3 else v[:, perm] for k, v in parts.items()}
    x0p, logits_p = model(x[:, perm], T, pparts, None, mask)
    assert (x0p - x0[:, perm]).abs().max() < TOL
    assert (logits_p["types"] - logits["types"][:, perm]).abs().max() < TOL
    assert (logits_p["charges"] - logits["charges"][:, perm]).abs().max() < TOL
    assert (logits_p["bonds"] - logits["bonds"][:, perm][:, :, perm]).abs().max() < TOL
    assert (logits["bonds"] - logits["bonds"].transpose(1, 2)).abs().max() < TOL  # i-j = j-i


@pytest.mark.parametrize("options", OPTIONS)
def test_padding_does_not_change_real_atoms(options):
    model = net(**options)
    x, parts, mask = state()
    x0, logits = model(x, T, parts, None, mask)
    x2 = x.clone()
    x2[~mask] = 7.0  # garbage in padding rows
    x0b, logits_b = model(x2, T, parts, None, mask)
    assert (x0b - x0).abs().max() < TOL
    assert (logits_b["types"] - logits["types"])[mask].abs().max() < TOL


def test_builder_refuses_mismatched_vocabularies():
    info = {**INFO, "bond_orders": [0, 1, 2, 3, 4]}
    with pytest.raises(ValueError, match="bond vocabulary .* does not match the bonds part"):
        build_joint_egnn(info)
    with pytest.raises(ValueError, match="parts"):
        build_joint_egnn({**INFO, "parts": {}})


def previous(x0, seed=4):
    """A previous prediction (x̂0 and class probabilities) for self-conditioning."""
    g = torch.Generator().manual_seed(seed)
    probs = {}
    for k, c in (("types", 5), ("charges", 3)):
        probs[k] = torch.softmax(torch.randn(3, 10, c, generator=g, dtype=torch.float64), -1)
    b = torch.randn(3, 10, 10, 4, generator=g, dtype=torch.float64)
    probs["bonds"] = torch.softmax(b + b.transpose(1, 2), -1)
    return x0, probs


@pytest.mark.parametrize("reflect", [False, True])
def test_self_conditioning_keeps_the_symmetries(reflect):
    torch.manual_seed(0)
    model = JointEGNN(INFO, hidden=16, edge_dim=8, layers=2, self_condition=True).double()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x, parts, mask = state()
    g = torch.Generator().manual_seed(5)
    prev = previous(remove_mean(torch.randn(3, 10, 3, generator=g, dtype=torch.float64), mask))
    x0, logits = model(x, T, parts, None, mask, prev=prev)
    q = orthogonal(reflect=reflect)
    shift = torch.tensor([1.5, -2.0, 0.7], dtype=torch.float64)
    moved = ((prev[0] @ q.T + shift) * mask[..., None], prev[1])
    x0r, logits_r = model((x @ q.T + shift) * mask[..., None], T, parts, None, mask, prev=moved)
    assert (x0r - x0 @ q.T).abs().max() < TOL
    for k in logits:
        assert (logits_r[k] - logits[k]).abs().max() < TOL, k
    # the previous prediction is read: a different one changes the output
    x0n, logits_n = model(x, T, parts, None, mask, prev=None)
    assert (logits_n["bonds"] - logits["bonds"]).abs().max() > 1e-4
    assert (x0n - x0).abs().max() > 1e-6
    # permutation: permuting atoms, parts and the previous prediction permutes the outputs
    full = torch.ones_like(mask)
    xf = remove_mean(x, full)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    pf = previous(remove_mean(prev[0], full))

    def permuted(v):
        return v[:, perm][:, :, perm] if v.ndim >= 3 and v.shape[2] == 10 else v[:, perm]

    a0, la = model(xf, T, parts, None, full, prev=pf)
    pp = (pf[0][:, perm], {k: permuted(v) for k, v in pf[1].items()})
    b0, lb = model(xf[:, perm], T, {k: permuted(v) for k, v in parts.items()}, None, full, prev=pp)
    assert (b0 - a0[:, perm]).abs().max() < TOL
    assert (lb["bonds"] - la["bonds"][:, perm][:, :, perm]).abs().max() < TOL
    assert (lb["types"] - la["types"][:, perm]).abs().max() < TOL

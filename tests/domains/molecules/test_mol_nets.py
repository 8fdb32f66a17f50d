"""Symmetry tests of the molecule networks.

Float64, random weights perturbed away from their near-identity initialisation. Tolerance:
1e-9 absolute (float64 round-off through a few layers is ~1e-13; a broken symmetry shows
up at order 1). Positions are the first 3 channels; the rest are invariant features.
"""

from __future__ import annotations

import pytest
import torch

from multigen_domains.molecules.align import align_batch, kabsch
from multigen_domains.molecules.networks.e3nn_net import E3NNDenoiser
from multigen_domains.molecules.networks.egnn import EGNNDenoiser, EGNNReadout
from multigen_domains.molecules.networks.gan import EGNNGenerator
from multigen_domains.molecules.state import project

TOL = 1e-9
INFO = {"shape": [10, 9], "atom_types": ["H", "C", "N", "O", "F"], "num_classes": 0, "cond_dim": 0}


def batch(seed=0):
    g = torch.Generator().manual_seed(seed)
    mask = torch.arange(10)[None] < torch.tensor([10, 6, 8])[:, None]
    x = project(torch.randn(3, 10, 9, generator=g, dtype=torch.float64), mask)
    return x, mask


def orthogonal(seed=1, reflect=False):
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(3, 3, generator=g, dtype=torch.float64))
    if (torch.det(q) < 0) != reflect:
        q[:, 0] = -q[:, 0]
    return q


def perturbed(net):
    torch.manual_seed(0)
    net = net.double()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    return net


DENOISERS = {
    "egnn_dense": lambda: EGNNDenoiser(INFO, hidden=16, layers=2, graph="dense"),
    "egnn_sparse": lambda: EGNNDenoiser(INFO, hidden=16, layers=2, graph="sparse"),
    "egnn_radius": lambda: EGNNDenoiser(INFO, hidden=16, layers=2, radius=2.5),
    "e3nn": lambda: E3NNDenoiser(INFO, scalars=8, vectors=4, layers=2),
}


@pytest.mark.parametrize("name", list(DENOISERS))
@pytest.mark.parametrize("reflect", [False, True])
def test_denoiser_e3_equivariance(name, reflect):
    net = perturbed(DENOISERS[name]())
    x, mask = batch()
    c = torch.tensor([10.0, 500.0, 990.0], dtype=torch.float64)
    y = net(x, c, None, mask)
    q = orthogonal(reflect=reflect)
    shift = torch.tensor([1.5, -2.0, 0.7], dtype=torch.float64)
    xt = x.clone()
    xt[..., :3] = (x[..., :3] @ q.T + shift) * mask[..., None]
    yt = net(xt, c, None, mask)
    assert (yt[..., :3] - y[..., :3] @ q.T).abs().max() < TOL  # equivariant positions
    assert (yt[..., 3:] - y[..., 3:]).abs().max() < TOL  # invariant features
    assert y[~mask].abs().max() == 0  # padding stays zero
    com = (y[..., :3] * mask[..., None]).sum(1)
    assert com.abs().max() < TOL  # output positions re-centred
    assert y.abs().mean() > 1e-3  # not trivially zero


@pytest.mark.parametrize("name", list(DENOISERS))
def test_denoiser_permutation_equivariance(name):
    net = perturbed(DENOISERS[name]())
    x, mask = batch()
    c = torch.tensor([10.0, 500.0, 990.0], dtype=torch.float64)
    perm = torch.randperm(10, generator=torch.Generator().manual_seed(3))
    y = net(x, c, None, mask)
    yp = net(x[:, perm], c, None, mask[:, perm])
    assert (yp - y[:, perm]).abs().max() < TOL


def test_dense_and_sparse_graphs_agree():
    dense = perturbed(EGNNDenoiser(INFO, hidden=16, layers=2, graph="dense"))
    sparse = EGNNDenoiser(INFO, hidden=16, layers=2, graph="sparse").double()
    sparse.load_state_dict(dense.state_dict())
    x, mask = batch()
    c = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float64)
    assert torch.allclose(dense(x, c, None, mask), sparse(x, c, None, mask), atol=1e-10)


def test_discriminator_is_invariant_and_generator_equivariant():
    disc = perturbed(EGNNReadout(INFO, hidden=16, layers=2))
    gen = perturbed(EGNNGenerator(INFO, hidden=16, layers=2))
    x, mask = batch()
    q = orthogonal(reflect=True)
    xt = x.clone()
    xt[..., :3] = x[..., :3] @ q.T
    assert (disc(x, None, mask) - disc(xt, None, mask)).abs().max() < TOL
    y, yt = gen(x, None, mask), gen(xt, None, mask)
    assert (yt[..., :3] - y[..., :3] @ q.T).abs().max() < TOL
    # Types are exact one-hot/4 and charges on the data's 1/10 grid (what real molecules
    # look like to the discriminator), yet gradients still reach the generator.
    types = y[..., 3:8][mask]
    assert set(types.unique().tolist()) <= {0.0, 0.25}
    assert torch.equal(types.sum(-1), torch.full((int(mask.sum()),), 0.25, dtype=torch.float64))
    charges = y[..., 8][mask] * 10
    assert torch.equal(charges, charges.round())
    y[..., 3:][mask].pow(2).sum().backward()
    assert gen.out[-1].weight.grad.abs().sum() > 0


def test_kabsch_and_hungarian_recover_a_known_pose():
    g = torch.Generator().manual_seed(0)
    mask = torch.ones(1, 7, dtype=torch.bool)
    x0 = project(torch.randn(1, 7, 9, generator=g, dtype=torch.float64), mask)
    q = orthogonal(seed=5)
    perm = torch.randperm(7, generator=g)
    noise = x0.clone()
    noise[..., :3] = noise[..., :3] @ q.T
    noise = noise[:, perm]
    r = kabsch(x0[0, :, :3].numpy(), (x0[0, :, :3] @ q.T).numpy())
    assert torch.allclose(torch.as_tensor(r), q.T, atol=1e-8)
    aligned = align_batch(x0, noise, mask)
    assert torch.allclose(aligned, x0, atol=1e-8)
    # Random noise: alignment never increases the transport cost.
    eps = project(torch.randn(1, 7, 9, generator=g, dtype=torch.float64), mask)
    before = ((eps - x0) ** 2).sum()
    after = ((align_batch(x0, eps, mask) - x0) ** 2).sum()
    assert after <= before + 1e-9

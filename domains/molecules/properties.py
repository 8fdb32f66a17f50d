"""A property predictor (EGNN, invariant readout) that scores conditional samples by MAE.

EDM's protocol for QM9: a network trained on the data predicts the property of each
generated molecule; the MAE to the requested value measures how well conditioning works.
For RDKit properties (QED, logP, MW) the evaluation computes them exactly instead.
Weights are cached as safetensors under ``$MULTIGEN_CACHE/molecules/predictors``.
"""

from __future__ import annotations

import hashlib
import json

import torch
from safetensors.torch import load_model, save_model

from multigen.fileio import atomic_save

from .conformers import cache_dir
from .data import MoleculeDataset
from .mol import Molecule
from .networks.egnn import EGNNReadout
from .state import encode, pad


def _key(ds: MoleculeDataset, steps: int, seed: int, params: dict) -> str:
    h = hashlib.sha256()
    for m in ds.mols:
        h.update(m.positions.round(4).tobytes())
        h.update(json.dumps([m.symbols, [m.props[p] for p in ds.properties]]).encode())
    h.update(json.dumps([ds.atom_types, list(ds.properties), steps, seed, params]).encode())
    return h.hexdigest()[:20]


def train_predictor(
    ds: MoleculeDataset,
    steps: int = 2000,
    batch_size: int = 64,
    lr: float = 1e-3,
    seed: int = 0,
    **params,
) -> EGNNReadout:
    """Fit (or reload) a predictor of the dataset's normalised properties."""
    if not ds.properties:
        raise ValueError("the dataset has no properties to predict (data.params.properties)")
    info = {"shape": [0, 3 + len(ds.atom_types) + 1]}
    params = {"hidden": 64, "layers": 4, **params}
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = EGNNReadout(info, out_dim=len(ds.properties), use_cond=False, **params)
    path = cache_dir() / "predictors" / f"{_key(ds, steps, seed, params)}.safetensors"
    if path.exists():
        load_model(model, str(path))
        return model.eval()
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        idx = torch.randint(len(ds), (batch_size,), generator=gen)
        xs, ys = zip(*(ds[int(i)] for i in idx))
        x, mask = pad(list(xs))
        pred = model(x, None, mask).reshape(len(xs), -1)
        loss = torch.nn.functional.l1_loss(pred, torch.stack(list(ys)))
        opt.zero_grad()
        loss.backward()
        opt.step()
    atomic_save(path, lambda tmp: save_model(model, tmp))
    return model.eval()


@torch.no_grad()
def predict(
    model: EGNNReadout, mols: list[Molecule], atom_types: list[str], stats: dict, names: list[str]
):
    """Raw-unit predictions ``[n, P]`` for molecules whose elements are all in ``atom_types``."""
    index = {s: k for k, s in enumerate(atom_types)}
    rows = [
        encode(m.positions, [index[s] for s in m.symbols], m.charges, len(atom_types)) for m in mols
    ]
    x, mask = pad(rows)
    out = model(x, None, mask).reshape(len(mols), -1)
    mean = torch.tensor([stats[p][0] for p in names])
    std = torch.tensor([stats[p][1] for p in names])
    return out * std + mean


def property_mae(model, samples: list[Molecule], atom_types, stats, names) -> dict[str, float]:
    """MAE between predicted and requested (``target_<name>``) properties of samples."""
    keep = [
        m
        for m in samples
        if all(f"target_{p}" in m.props for p in names) and set(m.symbols) <= set(atom_types)
    ]
    if not keep:
        return {}
    pred = predict(model, keep, atom_types, stats, names)
    target = torch.tensor([[m.props[f"target_{p}"] for p in names] for m in keep])
    err = (pred - target).abs().mean(0)
    return {f"predictor_mae_{p}": float(e) for p, e in zip(names, err)}

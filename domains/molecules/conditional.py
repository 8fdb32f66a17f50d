"""EDM's conditional QM9 protocol (Hoogeboom et al. 2022, §5.2, Table 3), on our split.

The QM9 training split is cut in two halves (``qm9:train_a``, ``qm9:train_b``). A property
predictor (an EGNN regressor, ``properties.train_predictor``) learns from half a; the
conditional generator trains on half b (``data.params.half: b``). Generated molecules are
scored by the predictor's MAE against the property values they were asked for. Three
reference rows bound the scale:

- "QM9 (lower bound)": the predictor on half b's real molecules against their true values
  (the predictor's own error);
- "#Atoms": a predictor that sees only the atom count (half a's mean value per count);
- "Naive (upper bound)": the predictor on half b's molecules against shuffled values.

Here one EGNN predicts all six properties jointly (EDM trains one per property); the
properties are in EDM's units (α Bohr³, Δε/HOMO/LUMO meV, μ D, Cv cal/(mol K)).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import torch

from .data import MoleculeDataset
from .mol import Molecule
from .properties import predict, train_predictor

EDM_PROPERTIES = ("alpha", "gap", "homo", "lumo", "mu", "cv")
# Published Table 3 rows (ANCHORS.md): MAE per property in the order of EDM_PROPERTIES.
EDM_TABLE3 = {
    "Naive (upper bound), EDM paper": (9.01, 1470, 645, 1457, 1.616, 6.857),
    "#Atoms, EDM paper": (3.86, 866, 426, 813, 1.053, 1.971),
    "EDM, EDM paper": (2.76, 655, 356, 584, 1.111, 1.101),
    "GeoLDM, GeoLDM paper": (2.37, 587, 340, 522, 1.108, 1.025),
}


def property_matrix(mols: list[Molecule], names: tuple[str, ...]) -> np.ndarray:
    return np.array([[m.props[p] for p in names] for m in mols], dtype=np.float64)


def count_baseline(train: list[Molecule], test: list[Molecule], names) -> np.ndarray:
    """Each test molecule's prediction = the train mean of molecules with its atom count
    (the nearest count present when its own is absent)."""
    by_count: dict[int, list[np.ndarray]] = defaultdict(list)
    for m in train:
        by_count[m.num_atoms].append(np.array([m.props[p] for p in names]))
    means = {c: np.mean(v, axis=0) for c, v in by_count.items()}
    counts = np.array(sorted(means))
    out = []
    for m in test:
        c = counts[np.abs(counts - m.num_atoms).argmin()]
        out.append(means[int(c)])
    return np.array(out)


def predict_batched(model, mols, atom_types, stats, names, batch: int = 512) -> np.ndarray:
    rows = []
    for i in range(0, len(mols), batch):
        rows.append(predict(model, mols[i : i + batch], atom_types, stats, list(names)))
    return torch.cat(rows).double().numpy()


def mae(pred: np.ndarray, target: np.ndarray, names) -> dict[str, float]:
    err = np.abs(pred - target).mean(axis=0)
    return {p: float(e) for p, e in zip(names, err)}


def reference_rows(
    half_a: list[Molecule],
    half_b: list[Molecule],
    names: tuple[str, ...] = EDM_PROPERTIES,
    steps: int = 2000,
    seed: int = 0,
    **predictor: int,
) -> tuple[dict[str, dict[str, float]], object, MoleculeDataset]:
    """The three reference rows (MAE per property) and the predictor (trained on half a)."""
    ds = MoleculeDataset(half_a, ["H", "C", "N", "O", "F"], names, source="qm9:train_a")
    model = train_predictor(ds, steps=steps, seed=seed, **predictor)
    truth = property_matrix(half_b, names)
    pred = predict_batched(model, half_b, ds.atom_types, ds.prop_stats, names)
    shuffled = truth[np.random.RandomState(seed).permutation(len(truth))]
    rows = {
        "QM9 (lower bound), ours": mae(pred, truth, names),
        "#Atoms, ours": mae(count_baseline(half_a, half_b, names), truth, names),
        "Naive (upper bound), ours": mae(pred, shuffled, names),
    }
    return rows, model, ds


def generated_mae(model, ds: MoleculeDataset, samples: list[Molecule], names) -> dict[str, float]:
    """MAE of the predictor on generated molecules against their requested values
    (``target_<name>`` in ``Molecule.props``, set by the decoder of conditional runs)."""
    keep = [
        m
        for m in samples
        if all(f"target_{p}" in m.props for p in names) and set(m.symbols) <= set(ds.atom_types)
    ]
    if not keep:
        return {}
    pred = predict_batched(model, keep, ds.atom_types, ds.prop_stats, names)
    target = np.array([[m.props[f"target_{p}"] for p in names] for m in keep])
    return mae(pred, target, names)

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

import time
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from multigen.bench.protocols import ProtocolResult
from multigen.domain import DomainError

from .conformers import cache_dir
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
    """The three reference rows (MAE per property, over ``half_b``) and the predictor (trained
    on half a)."""
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


def _scored(model, ds: MoleculeDataset, samples: list[Molecule], names):
    """Predictions, requested values and atom counts of the samples the predictor can read
    (all ``target_<name>`` present, elements in its vocabulary)."""
    keep = [
        m
        for m in samples
        if all(f"target_{p}" in m.props for p in names) and set(m.symbols) <= set(ds.atom_types)
    ]
    if not keep:
        return None
    pred = predict_batched(model, keep, ds.atom_types, ds.prop_stats, names)
    target = np.array([[m.props[f"target_{p}"] for p in names] for m in keep])
    return pred, target, np.array([m.num_atoms for m in keep])


def generated_mae(model, ds: MoleculeDataset, samples: list[Molecule], names) -> dict[str, float]:
    """MAE of the predictor on generated molecules against their requested values
    (``target_<name>`` in ``Molecule.props``, set by the decoder of conditional runs)."""
    got = _scored(model, ds, samples, names)
    return {} if got is None else mae(got[0], got[1], names)


def shuffled_mae(
    model, ds: MoleculeDataset, samples: list[Molecule], names, seed: int = 0
) -> dict[str, dict[str, float]]:
    """The same samples scored against requested values shuffled among them: across all
    samples (no conditioning at all: about the "Naive" row) and only among samples with the
    same atom count (the count is kept, the property beyond it is not: about the "#Atoms"
    row). A model that uses its condition scores better on its own targets than on both."""
    got = _scored(model, ds, samples, names)
    if got is None:
        return {}
    pred, target, counts = got
    rng = np.random.RandomState(seed)
    within = np.arange(len(counts))
    for c in np.unique(counts):
        idx = np.flatnonzero(counts == c)
        within[idx] = idx[rng.permutation(len(idx))]
    return {
        "targets shuffled within atom count": mae(pred, target[within], names),
        "targets shuffled": mae(pred, target[rng.permutation(len(target))], names),
    }


def _checkpoints(run_dir: str, steps: Sequence[int]) -> list[tuple[str, int]]:
    """(checkpoint, training step) of a run to score: its latest, or the ones at ``steps``."""
    from multigen.train import checkpoint as ckpt

    found = {ckpt.read_meta(p)["step"]: str(p) for p in ckpt.list_checkpoints(Path(run_dir))}
    if not found:
        raise DomainError(f"{run_dir}: no checkpoint; train the run first")
    if not steps:
        last = max(found)
        return [(found[last], last)]
    missing = [s for s in steps if s not in found]
    if missing:
        raise DomainError(
            f"{run_dir}: no checkpoint at step(s) {missing}; it has {sorted(found)} "
            "(train.keep_last keeps only the last few)"
        )
    return [(found[s], s) for s in steps]


def train_seconds(run_dir: str | Path, step: int) -> float | None:
    """Wall-clock training time of a run up to ``step``, from its ``log.jsonl`` (the logged
    interval, scaled to the whole ``step`` steps); None without a log."""
    import json

    path = Path(run_dir) / "log.jsonl"
    if not path.is_file():
        return None
    logged = []
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        if "samples_per_s" in rec and rec.get("step", step + 1) <= step:
            logged.append((rec["step"], rec["time"]))
    if len(logged) < 2 or logged[-1][0] == logged[0][0]:
        return None
    (s0, t0), (s1, t1) = logged[0], logged[-1]
    return (t1 - t0) * step / (s1 - s0)


def benchmark(
    out: Path,
    steps: int = 1000,
    hidden: int = 64,
    layers: int = 4,
    n_reference: int = 5000,
    runs: Sequence[str] = (),
    n: int = 256,
    seed: int = 0,
    checkpoints: Sequence[int] = (),
    label: str = "",
    sanity: bool = False,
) -> ProtocolResult:
    """``multigen benchmark qm9_conditional``: the reference rows on our split, any conditional
    runs given (``--option runs=[RUN, ...]``, e.g. trained with qm9_cond_edm_cpu.yaml, which
    trains on half b) scored by the predictor, and EDM's published rows beside them.

    The defaults are CPU-sized (predictor EGNN 4x64, 1,000 steps of 64; the reference rows on
    a seeded subset of ``n_reference`` molecules of half b; 0 = all 50,000). EDM-sized: EGNN
    7x128 trained far longer, ``n_reference=0``.

    Each run is scored at its latest checkpoint, or at each training step in
    ``checkpoints`` (e.g. ``[2000, 6000]``; keep them with ``train.keep_last``). Rows are named
    ``label`` (default: the run folder) with the step; runs that share a label and step (one
    generator per property, as EDM trains them) fill one row. ``sanity=true`` adds, per row,
    the same samples scored against requested values shuffled within atom count and across
    all samples (see :func:`shuffled_mae`)."""
    from multigen import api

    from .qm9 import qm9_molecules

    half_a = qm9_molecules(None, "train_a")
    half_b = qm9_molecules(None, "train_b")
    if 0 < n_reference < len(half_b):
        keep = np.sort(np.random.RandomState(seed).choice(len(half_b), n_reference, replace=False))
        half_b = [half_b[i] for i in keep]
    cached = cache_dir() / "predictors"
    before = set(cached.glob("*.safetensors")) if cached.is_dir() else set()
    start = time.perf_counter()
    rows, model, ds = reference_rows(
        half_a, half_b, steps=steps, seed=seed, hidden=hidden, layers=layers
    )
    seconds = time.perf_counter() - start
    trained_now = bool(set(cached.glob("*.safetensors")) - before)
    table = [{"row": k, **v} for k, v in rows.items()]
    merged: dict[str, dict[str, float]] = {}
    trained: list[dict] = []
    for run_dir in runs:
        for path, step in _checkpoints(run_dir, checkpoints):
            res = api.sample(run_dir, checkpoint=path, n=n, seed=seed)
            asked = sorted({k[7:] for m in res.samples for k in m.props if k.startswith("target_")})
            names = tuple(p for p in EDM_PROPERTIES if p in asked)
            row = f"{label or run_dir}, {step:,} steps ({n} samples, {res.nfe} NFE), ours"
            merged.setdefault(row, {}).update(generated_mae(model, ds, res.samples, names))
            secs = train_seconds(run_dir, step)
            trained.append({"run": str(run_dir), "properties": list(names), "step": step,
                            "train_seconds": secs})  # fmt: skip
            if sanity:
                for kind, got in shuffled_mae(model, ds, res.samples, names, seed).items():
                    merged.setdefault(f"{row[: -len(', ours')]}, {kind}, ours", {}).update(got)
    table += [{"row": k, **v} for k, v in merged.items()]
    for name, values in EDM_TABLE3.items():
        table.append({"row": name, **dict(zip(EDM_PROPERTIES, values))})
    table = [{"row": r["row"], **{p: r.get(p, "-") for p in EDM_PROPERTIES}} for r in table]
    notes = (
        f"Predictor: EGNN {layers}x{hidden}, {steps} steps (batch 64) on half a "
        f"({len(half_a)} molecules), all six properties jointly ({seconds:.0f} s "
        f"{'training it' if trained_now else 'loading it from the cache'} and scoring "
        f"{len(half_b)} molecules of half b). EDM trains one predictor per property "
        "for far longer, so its lower-bound row is far below ours: compare each conditional "
        "row with the reference rows of the same table. Halves: qm9:train_a / qm9:train_b "
        "(RandomState(1) permutation of EDM's training split). Rows marked 'paper' are "
        "published, on EDM's halves. Units: alpha Bohr^3, gap/HOMO/LUMO meV, mu D, "
        "Cv cal/(mol K)."
    )
    for step in sorted({t["step"] for t in trained}):
        secs = [t["train_seconds"] for t in trained if t["step"] == step]
        if all(x is not None for x in secs):
            notes += (
                f" Generators at {step:,} steps: {len(secs)} runs, "
                f"{min(secs) / 60:.0f}-{max(secs) / 60:.0f} min of training each (wall clock, "
                "from their log.jsonl)."
            )
    return ProtocolResult(
        "QM9 conditional generation: property MAE (EDM protocol)",
        table,
        notes,
        {
            "predictor_seconds": seconds,
            "predictor_trained": trained_now,
            "n_reference": len(half_b),
            "runs": list(runs),
            "generators": trained,
        },
    )

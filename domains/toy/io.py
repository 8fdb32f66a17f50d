"""Reading and writing 2-D point sets: ``.npy`` / ``.csv`` files of shape [N, 2]."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from multigen.domain import DomainError
from multigen.fileio import load_numpy, read_text

SUFFIXES = (".npy", ".csv")


def _read_csv(path: Path) -> np.ndarray:
    lines = [ln for ln in read_text(path).splitlines() if ln.strip()]
    if not lines:
        raise DomainError(f"{path}: empty CSV file; expected rows 'x,y'")
    first = lines[0].split(",")
    try:
        [float(v) for v in first]
        start = 0
    except ValueError:
        start = 1  # a header row such as "x,y"
    rows = []
    for i, ln in enumerate(lines[start:], start=start + 1):
        try:
            rows.append([float(v) for v in ln.split(",")])
        except ValueError:
            raise DomainError(f"{path}: line {i} is not numeric: {ln[:60]!r}") from None
    if not rows:
        raise DomainError(f"{path}: no data rows after the header; expected rows 'x,y'")
    widths = {len(r) for r in rows}
    if len(widths) > 1:
        raise DomainError(f"{path}: rows have different numbers of columns {sorted(widths)}")
    return np.asarray(rows, dtype=np.float64).reshape(len(rows), -1)


def read_points(path: str | Path, allow_nonfinite: bool = False) -> np.ndarray:
    """Load an [N, 2] float64 array from ``.npy`` or ``.csv``; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise DomainError(f"points file not found: {path} (expected .npy or .csv of shape [N, 2])")
    suffix = path.suffix.lower()
    if suffix == ".npy":
        arr = load_numpy(path)  # never unpickled; declared sizes checked
    elif suffix == ".csv":
        arr = _read_csv(path)
    else:
        raise DomainError(f"{path}: unsupported file type {suffix!r}; use .npy or .csv")
    if not np.issubdtype(arr.dtype, np.number):
        raise DomainError(f"{path}: expected numbers, got dtype {arr.dtype}")
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise DomainError(f"{path}: expected shape [N, 2], got {list(arr.shape)}")
    if arr.shape[0] == 0:
        raise DomainError(f"{path}: contains no points")
    arr = arr.astype(np.float64)
    if not allow_nonfinite and not np.isfinite(arr).all():
        bad = int((~np.isfinite(arr)).any(axis=1).sum())
        raise DomainError(f"{path}: {bad} row(s) contain NaN or inf; remove them first")
    return arr


def find_points_file(folder: Path, stem: str) -> Path | None:
    """``folder/<stem>.npy`` or ``folder/<stem>.csv``, whichever exists first."""
    for suffix in SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    return None


def write_points(points: np.ndarray, out_dir: Path, stem: str) -> list[Path]:
    """Write ``<stem>.npy`` and ``<stem>.csv`` (header ``x,y``)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    npy, csv = out_dir / f"{stem}.npy", out_dir / f"{stem}.csv"
    np.save(npy, np.asarray(points, dtype=np.float32))
    np.savetxt(csv, points, delimiter=",", header="x,y", comments="", fmt="%.6g")
    return [npy, csv]


def scatter_png(
    points: np.ndarray, path: Path, reference: np.ndarray | None = None, title: str = ""
) -> Path:
    """Scatter of the samples, beside the reference set when one is given (same axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [("samples", points)] + ([("reference", reference)] if reference is not None else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    finite = [p[np.isfinite(p).all(axis=1)] for _, p in panels]
    both = np.concatenate([f for f in finite if len(f)] or [np.zeros((1, 2))])
    lo, hi = np.percentile(both, [0.5, 99.5], axis=0)
    pad = 0.1 * (hi - lo).max() + 1e-6
    for ax, (name, _), pts in zip(axes[0], panels, finite):
        ax.scatter(pts[:, 0], pts[:, 1], s=2, alpha=0.5, linewidths=0)
        ax.set_title(f"{name} ({len(pts)})")
        ax.set_xlim(lo[0] - pad, hi[0] + pad)
        ax.set_ylim(lo[1] - pad, hi[1] + pad)
        ax.set_aspect("equal")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path

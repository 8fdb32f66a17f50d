"""Input conversion shared by the metric modules (torch or numpy in, float64 out)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch


def to_numpy(x: Any, name: str = "x", ndim: int | None = None) -> np.ndarray:
    """Return ``x`` as a float64 numpy array, checking rank and finiteness."""
    if isinstance(x, torch.Tensor):
        x = x.detach().to("cpu", torch.float64).numpy()
    arr = np.asarray(x, dtype=np.float64)
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {tuple(arr.shape)}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return arr


def to_torch(x: Any, name: str = "x", ndim: int | None = None) -> torch.Tensor:
    """Return ``x`` as a float64 torch tensor on its own device (numpy goes to CPU)."""
    t = x.detach() if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    t = t.to(torch.float64)
    if ndim is not None and t.ndim != ndim:
        raise ValueError(f"{name}: expected a {ndim}-D array, got shape {tuple(t.shape)}")
    if not bool(torch.isfinite(t).all()):
        raise ValueError(f"{name}: contains NaN or infinite values")
    return t


def features_2d(x: Any, name: str) -> np.ndarray:
    """[N, D] float64 features; a 1-D input is read as N scalar features."""
    arr = to_numpy(x, name)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected [N, D] features, got shape {tuple(arr.shape)}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name}: empty feature set")
    return arr

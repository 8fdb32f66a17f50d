"""Minibatch optimal-transport pairing of data and noise for flow matching."""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor


def ot_pair(x0: Tensor, noise: Tensor) -> Tensor:
    """Minibatch OT (Tong et al. 2023; Pooladian et al. 2023): reorder the noise so the total
    squared distance to the data is minimal (exact assignment, scipy)."""
    cost = torch.cdist(x0.flatten(1).double().cpu(), noise.flatten(1).double().cpu()) ** 2
    _, cols = linear_sum_assignment(cost.numpy())
    return noise[torch.as_tensor(cols, device=noise.device)]

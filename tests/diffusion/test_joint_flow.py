"""joint_flow's coordinate sampler: with the exact x̂0 of Gaussian data, the ODE and the
reverse SDE (x_churn > 0) both end at the data distribution."""

import pytest
import torch

from multigen.joint import coordinate_step

S2 = 2.25  # data variance (σ = 1.5, about a small molecule's spread in Å)


def exact_x0(x: torch.Tensor, t: float) -> torch.Tensor:
    """E[x0 | x_t] for x0 ~ N(0, S2) on x_t = (1 - t)·x0 + t·ε."""
    return (1 - t) * S2 * x / ((1 - t) ** 2 * S2 + t**2)


@pytest.mark.parametrize("churn", [0.0, 1.0, 3.0])
def test_sampler_with_exact_denoiser_reaches_the_data_variance(churn):
    g = torch.Generator().manual_seed(0)
    n, steps = 40000, 200
    ts = torch.linspace(0.9999, 0, steps + 1, dtype=torch.float64).tolist()
    x = ts[0] * torch.randn(n, generator=g, dtype=torch.float64)
    for t, t_next in zip(ts[:-1], ts[1:]):
        z = torch.randn(n, generator=g, dtype=torch.float64)
        x = coordinate_step(x, exact_x0(x, t), t, t_next, churn, z)
    assert abs(x.mean().item()) < 0.03
    assert abs(x.var().item() / S2 - 1) < 0.04, x.var().item()


def test_zero_churn_step_is_the_euler_step_and_the_last_step_lands_on_x0():
    x, x0 = torch.tensor([1.0, -2.0]), torch.tensor([0.5, 0.5])
    got = coordinate_step(x, x0, 0.5, 0.4, 0.0, torch.ones(2))
    assert torch.allclose(got, x + (0.4 - 0.5) * (x - x0) / 0.5)
    assert torch.allclose(coordinate_step(x, x0, 0.3, 0.0, 2.0, None), x0)

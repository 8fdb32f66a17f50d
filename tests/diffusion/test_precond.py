"""Every parameterisation is one denoiser: a network that outputs its training target
exactly must denoise perfectly, and the loss must be the method's textbook loss."""

import pytest
import torch
from torch import nn

from multigen.diffusion import schedules
from multigen.diffusion.precond import Denoiser, EDMPrecond, FlowPrecond, VPPrecond, masked_mean

TABLE = schedules.vp_sigmas("linear", 1000)
PARAMS = {
    "eps": VPPrecond("eps", TABLE),
    "v": VPPrecond("v", TABLE),
    "x0": VPPrecond("x0", TABLE),
    "edm": EDMPrecond(0.5),
    "flow": FlowPrecond(),
}


class Oracle(nn.Module):
    """Returns a fixed output whatever the input (set per test)."""

    def __init__(self):
        super().__init__()
        self.out = None

    def forward(self, x, c_noise, cond=None, mask=None):
        return self.out


@pytest.mark.parametrize("name", list(PARAMS))
def test_perfect_network_recovers_x0(name):
    torch.manual_seed(0)
    x0, n = torch.randn(6, 3), torch.randn(6, 3)
    sigma = torch.tensor([0.01, 0.1, 0.5, 1.0, 5.0, 40.0])
    net = Oracle()
    den = Denoiser(net, PARAMS[name])
    c = den.coefficients(sigma, 2)
    net.out = ((1 - c.c_skip) * x0 - c.c_skip * sigma[:, None] * n) / c.c_out
    assert den.loss(x0, n, sigma).abs().max() < 1e-10
    x = x0 + sigma[:, None] * n
    assert torch.allclose(den(x, sigma), x0, atol=1e-4, rtol=1e-4)


def test_eps_target_is_noise_and_v_target_is_velocity():
    x0, n = torch.randn(4, 2), torch.randn(4, 2)
    sigma = torch.tensor([0.2, 0.7, 1.5, 3.0])
    s = sigma[:, None]
    for name, expected in [
        ("eps", n),
        # v = α ε - σ_vp x0 with α = 1/sqrt(1+σ²), σ_vp = σ/sqrt(1+σ²)
        ("v", (n - s * x0) / (1 + s**2).sqrt()),
        ("flow", n - x0),
    ]:
        c = Denoiser(Oracle(), PARAMS[name]).coefficients(sigma, 2)
        target = ((1 - c.c_skip) * x0 - c.c_skip * s * n) / c.c_out
        assert torch.allclose(target, expected, atol=1e-5), name


def test_masked_mean_ignores_padding():
    err = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[1, 1, 0]])
    assert masked_mean(err, mask).item() == 2.0

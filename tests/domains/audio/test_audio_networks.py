import math

import pytest
import torch
from torch.nn import functional as F

from multigen_domains.audio import get_domain
from multigen_domains.audio.networks.diffwave import DiffWave
from multigen_domains.audio.networks.hifigan import HiFiGANDiscriminator
from multigen_domains.audio.networks.unet1d import UNet1D
from multigen_domains.audio.networks.wavegan import (
    WaveGANDiscriminator,
    WaveGANGenerator,
    phase_shuffle,
)


def naive_diffwave(m: DiffWave, x, c_noise, cond=None):
    """The same network written as DiffWave's code does it: [B, C, T] Conv1d per layer."""
    b = x.shape[0]
    emb = F.silu(m.noise_embed(c_noise) + m.cond_embed(cond, b, x.device))
    h = F.relu(F.conv1d(x, m.input_proj.weight[:, :, None], m.input_proj.bias))
    st = m.stack
    steps = st.step_proj(emb).view(b, st.layers, st.channels)
    skip = 0
    for i, d in enumerate(st.dilations):
        y = h + steps[:, i, :, None]
        # [2C, 3C] matrix -> conv kernel [2C, C, 3] (taps t-d, t, t+d)
        w = st.w_dil[i].view(2 * st.channels, 3, st.channels).permute(0, 2, 1)
        z = F.conv1d(y, w, st.b_dil[i], padding=d, dilation=d)
        gate, filt = z.chunk(2, dim=1)
        o = F.conv1d(torch.sigmoid(gate) * torch.tanh(filt), st.w_out[i][:, :, None], st.b_out[i])
        res, sk = o.chunk(2, dim=1)
        h = (h + res) / math.sqrt(2)
        skip = skip + sk
    skip = skip / math.sqrt(st.layers)
    out = F.conv1d(F.relu(F.conv1d(skip, m.skip_proj.weight[:, :, None], m.skip_proj.bias)),
                   m.output_proj.weight[:, :, None], m.output_proj.bias)  # fmt: skip
    return out


def test_diffwave_matches_conv_formulation_and_bf16_close():
    torch.manual_seed(0)
    m = DiffWave(residual_layers=6, residual_channels=8, dilation_cycle=3, num_classes=3)
    torch.nn.init.normal_(m.output_proj.weight)  # non-zero output so the check means something
    x, c = torch.randn(2, 1, 300), torch.tensor([3.0, 500.0])
    cond = torch.tensor([1, -1])
    out = m(x, c, cond)
    assert out.shape == x.shape
    torch.testing.assert_close(out, naive_diffwave(m, x, c, cond), atol=1e-5, rtol=1e-4)
    m.bf16 = True
    out_bf16 = m(x, c, cond)
    assert out_bf16.dtype == torch.float32
    rel = (out_bf16 - out).norm() / out.norm()
    assert rel < 0.05
    # the class changes the output; the null class (-1) equals cond=None
    torch.testing.assert_close(m(x, c, torch.tensor([-1, -1])), m(x, c, None))
    assert not torch.allclose(m(x, c, torch.tensor([0, 0])), m(x, c, torch.tensor([2, 2])))


def test_diffwave_trains_and_starts_at_zero():
    torch.manual_seed(0)
    m = DiffWave(4, 8, 2)
    x = torch.randn(3, 1, 64)
    assert m(x, torch.ones(3)).abs().max() == 0  # zero-initialised output, as DiffWave
    loss = (m(x, torch.ones(3)) - x).pow(2).mean()
    loss.backward()
    assert m.output_proj.weight.grad.abs().sum() > 0


def test_diffwave_receptive_field_is_causal_free_and_local():
    torch.manual_seed(0)
    m = DiffWave(3, 4, 3)  # dilations 1, 2, 4: receptive field ±7 samples
    torch.nn.init.normal_(m.output_proj.weight)
    x = torch.randn(1, 1, 64, requires_grad=True)
    m(x, torch.ones(1))[0, 0, 32].backward()
    nz = x.grad[0, 0].abs().nonzero().squeeze(1)
    assert nz.min() == 32 - 7 and nz.max() == 32 + 7


def test_phase_shuffle_shifts_with_reflection():
    x = torch.arange(8.0).view(1, 1, 8).repeat(64, 1, 1)
    g = torch.Generator().manual_seed(0)
    y = phase_shuffle(x, 2, g)
    seen = set()
    for row in y[:, 0]:
        k = int(row[4] - 4) * -1  # output[t] = input[t - k]
        seen.add(k)
        ref = torch.nn.functional.pad(torch.arange(8.0).view(1, 1, 8), (2, 2), mode="reflect")
        assert torch.equal(row, ref[0, 0, 2 - k : 2 - k + 8])
    assert seen == {-2, -1, 0, 1, 2}
    assert torch.equal(phase_shuffle(x, 0), x)


@pytest.mark.parametrize("length", [4096, 3000])
def test_wavegan_shapes_and_conditioning(length):
    g = WaveGANGenerator(length, latent_dim=16, width=4, num_classes=3)
    d = WaveGANDiscriminator(length, width=4, num_classes=3)
    z = torch.randn(2, 16)
    y = g(z, torch.tensor([0, 2]))
    assert y.shape == (2, 1, length) and y.abs().max() <= 1
    assert d(y, torch.tensor([0, 2])).shape == (2,)
    d.eval()  # no phase shuffle: deterministic
    assert torch.equal(d(y, None), d(y, torch.tensor([-1, -1])))


def test_hifigan_and_unet_shapes():
    x = torch.randn(2, 1, 1000)
    h = HiFiGANDiscriminator(periods=(2, 3), scales=2, width=1 / 16, num_classes=2)
    assert h(x, torch.tensor([0, 1])).shape == (2,)
    u = UNet1D(channels=8, mults=(1, 2), blocks=1, num_classes=2)
    out = u(x, torch.rand(2), torch.tensor([1, -1]))
    assert out.shape == x.shape and out.abs().max() == 0  # zero-initialised head


def test_builders_read_info():
    dom = get_domain()
    info = {"shape": [1, 512], "num_classes": 4, "cond_dim": 0, "sigma_data": 0.3,
            "sample_rate": 8000}  # fmt: skip
    m = dom.networks["diffwave"].builder(info, residual_layers=2, residual_channels=4)
    assert m.cond_embed.num_classes == 4
    g = dom.networks["wavegan"].builder(info, width=2, latent_dim=8)
    assert g(torch.randn(1, 8), torch.tensor([1])).shape == (1, 1, 512)
    assert dom.networks["wavegan_disc"].role == "discriminator"
    assert dom.networks["hifigan_disc"].builder(info, width=1 / 32)(
        torch.randn(1, 1, 512)
    ).shape == (1,)
    assert dom.networks["unet1d"].builder(info, channels=8, mults=[1, 2]).levels == 2


def test_phase_shuffle_under_bf16_autocast():
    import torch

    from multigen_domains.audio.networks.wavegan import phase_shuffle

    x = torch.randn(4, 8, 64, dtype=torch.bfloat16)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = phase_shuffle(x, 2, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and torch.isfinite(y).all()

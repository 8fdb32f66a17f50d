import torch

from multigen.diffusion.guidance import guided


def fake_denoiser(x, sigma, cond, mask):
    # conditional output = cond value, unconditional (-1) output = 10
    c = cond.float().clamp(min=0) + (cond < 0).float() * 10
    return x * 0 + c[:, None]


def test_cfg_formula_and_single_batch():
    calls = []

    def counting(x, s, c, m):
        calls.append(x.shape[0])
        return fake_denoiser(x, s, c, m)

    x = torch.zeros(3, 2)
    cond = torch.tensor([1, 2, 3])
    out = guided(counting, 3.0)(x, torch.ones(3), cond, None)
    # D_w = D(∅) + w (D(c) - D(∅)) = 10 + 3 (c - 10)
    assert torch.allclose(out[:, 0], 10 + 3 * (cond.float() - 10))
    assert calls == [6]  # conditional and unconditional halves in one network call


def test_weight_one_is_plain_conditional():
    d = guided(fake_denoiser, 1.0)
    assert d is fake_denoiser

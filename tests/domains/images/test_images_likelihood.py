"""Bits per dimension of 8-bit images under a (tiny, barely trained) diffusion run."""

import math

import pytest

from multigen import api
from multigen.domain import DomainError
from tests.train.helpers import CONFIGS as BASE
from tests.train.helpers import TINY_UNET, quick_overrides

CONFIGS = BASE / "images"


def test_likelihood_bits_per_dim_on_digits(tmp_path):
    run = api.train(
        CONFIGS / "digits_edm.yaml",
        out=tmp_path / "run",
        overrides=[
            *quick_overrides(steps=3, batch=16, samples=8, eval_samples=12, sample_steps=3),
            "eval.options={classifier_steps: 100, kid_subsets: 5}",
            f"model.params={TINY_UNET}",
        ],
    )
    own = api.likelihood(run, n=4, steps=2)
    other = api.likelihood(run, data="digits:test", n=4, steps=2)
    for res in (own, other):
        assert res["dim"] == 256 and res["dequantized"] == 1 and res["conditional"] == 1
        # bits/dim of the 8-bit levels = state nats/dim / ln 2 + log2(127.5)
        per_dim = res["nll_state"] / 256 / math.log(2) + math.log2(127.5)
        assert res["bits_per_dim"] == pytest.approx(per_dim)
        assert math.isfinite(res["bits_per_dim"]) and res["bits_per_dim"] > 0
    # images of another size than the run's are refused in one line
    with pytest.raises(DomainError, match="do not match the run's"):
        api.likelihood(run, data="digits:test@8", n=2, steps=1)

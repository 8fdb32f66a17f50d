"""The domain contract, checked for every registered domain (entry points), so a new domain
gets these checks for free: describe, collate, noise (batch-invariant), template, generate
with untrained networks, decode, export, read back, evaluate, condition/evaluation checks.

Each domain is driven by its own ``configs/<domain>/demo_fast.yaml`` (small networks), with
a few samples and two sampler steps: this checks the plumbing, not quality."""

from __future__ import annotations

import math

import pytest
import torch

from multigen.api import demo_config
from multigen.config import load_config
from multigen.domain import Batch, Domain, DomainError
from multigen.generate import generate
from multigen.methods import build_method
from multigen.randomness import sample_generators
from multigen.registry import domain_names, get_domain
from multigen.train.reference import reference_samples

DOMAINS = [d for d in domain_names() if d != "audio_speech"]


@pytest.fixture(scope="module", params=DOMAINS)
def setup(request):
    name = request.param
    cfg = load_config(demo_config(name, fast=True), ["sample.steps=2", "sample.guidance=1.0"])
    dom = get_domain(name)
    ds = dom.load_dataset(cfg.data.name, cfg.data.path, "train", **cfg.data.params)
    return name, cfg, dom, ds, dom.describe(ds)


def test_domain_is_a_domain(setup):
    name, _, dom, _, _ = setup
    assert isinstance(dom, Domain) and dom.name == name
    assert dom.default_dataset in dom.datasets
    roles = {spec.role for spec in dom.networks.values()}
    assert {"denoiser", "generator", "discriminator"} <= roles
    for schedule in dom.schedules.values():
        sig = schedule()
        assert sig[-1] == 0 and bool((sig[:-1] > sig[1:]).all())


def test_describe_has_what_the_engine_reads(setup):
    *_, info = setup
    assert len(info["shape"]) >= 1 and all(int(s) > 0 for s in info["shape"])
    assert int(info["num_classes"]) >= 0 and int(info["cond_dim"]) >= 0
    assert float(info["sigma_data"]) > 0
    import json

    json.dumps(info)  # stored in every checkpoint's meta.json


def test_collate_and_noise_are_batch_invariant(setup):
    _, _, dom, ds, info = setup
    batch = dom.collate([ds[i] for i in range(3)])
    assert isinstance(batch, Batch) and len(batch) == 3
    assert tuple(batch.x.shape[1:])[: len(info["shape"])] == tuple(batch.x.shape[1:])
    assert bool(torch.isfinite(batch.x).all())
    if batch.mask is not None:
        assert batch.mask.shape == batch.x.shape[: batch.mask.ndim]
    noise = dom.noise(batch, sample_generators([5, 6, 7]))
    assert noise.shape == batch.x.shape
    alone = dom.noise(batch.select(slice(1, 2)), sample_generators([6]))
    torch.testing.assert_close(noise[1:2], alone)  # a sample's noise depends on its seed only
    if batch.mask is not None:  # set-valued data: no noise on padding
        pad = batch.mask.reshape(batch.mask.shape + (1,) * (noise.ndim - batch.mask.ndim)) == 0
        assert float(noise.masked_select(pad.expand_as(noise)).abs().sum()) == 0


def test_template_generate_export_read_back_evaluate(setup, tmp_path):
    _, cfg, dom, _, info = setup
    tpl = dom.template(info, 2, torch.Generator().manual_seed(0))
    assert len(tpl) == 2 and tuple(tpl.x.shape[1:]) == tuple(info["shape"])
    method = build_method(cfg, dom, info)
    models = {k: m.eval() for k, m in method.models.items()}
    batch = generate(method, models, dom, info, 4, cfg.sample, torch.device("cpu"), "fp32")
    assert len(batch) == 4
    samples = dom.decode(batch, info)
    files = dom.export(samples, tmp_path)
    assert files and all(f.exists() for f in files)
    loaded = dom.load_samples(tmp_path)
    reference = reference_samples(dom, cfg, info, 8)
    dom.check_evaluation(reference, **cfg.eval.options)
    scores = dom.evaluate(loaded, reference, **cfg.eval.options)
    assert scores and all(isinstance(v, float) for v in scores.values())
    assert any(math.isfinite(v) for v in scores.values())
    # issue 20, finding 3: a misspelt option is refused, never run as the default silently
    with pytest.raises(DomainError, match=r"unknown.*option.*'no_such_option'"):
        dom.evaluate(loaded, reference, **cfg.eval.options, no_such_option=1)


def test_condition_check_refuses_meaningless_conditions(setup):
    _, _, dom, _, info = setup
    plain = {**info, "num_classes": 0, "cond_dim": 0}
    with pytest.raises(DomainError):
        dom.check_condition(torch.tensor([0.5]), plain)  # a float on an unconditional run


def test_data_info_is_typed_and_reads_like_its_json():
    from multigen.domain import DataInfo

    raw = {"shape": [29, 9], "num_classes": 3, "sigma_data": 0.7, "n_nodes_hist": {"5": 1.0}}
    info = DataInfo.of(raw)
    assert info.shape == (29, 9) and info.num_classes == 3 and info.cond_dim == 0
    assert info.sigma_data == 0.7 and info.x0_clip is None and info.conditional
    assert info["shape"] == [29, 9] and info.get("n_nodes_hist") == {"5": 1.0}
    assert DataInfo.of(info.to_dict()) == info and dict(info) == info.to_dict()
    plain = info.without_conditions()
    assert not plain.conditional and plain["data_num_classes"] == 3
    for bad in ([1, 2], {"num_classes": 2}, {"shape": ["x"]}):
        with pytest.raises(DomainError, match="data description"):
            DataInfo.of(bad)

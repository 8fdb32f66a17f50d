import math

import numpy as np
import pytest
import torch
from torch import nn

from multigen.metrics.classifier import (
    accuracy,
    am_score,
    data_fingerprint,
    fit_classifier,
    inception_score,
    modified_inception_score,
    ndb,
    predict_proba,
)


@pytest.fixture(autouse=True)
def one_thread():
    # Tiny MLPs: intra-op threads only add spin-wait overhead, badly so on a busy machine.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def uniform_one_hot(c=10, per_class=20):
    return np.eye(c)[np.repeat(np.arange(c), per_class)]


def test_inception_score_known_answers():
    assert inception_score(uniform_one_hot(10)) == pytest.approx(10.0)
    # Each contiguous half holds 5 classes uniformly -> 5 per split.
    assert inception_score(uniform_one_hot(10), splits=2) == pytest.approx(5.0)
    assert inception_score(np.tile([0.2, 0.3, 0.5], (7, 1))) == pytest.approx(1.0)
    # [[1, 0], [.5, .5]]: p(y) = (.75, .25); KLs log(4/3) and .5 log(2/3) + .5 log 2.
    kl = (math.log(4 / 3) + 0.5 * math.log(2 / 3) + 0.5 * math.log(2)) / 2
    assert inception_score(torch.tensor([[1.0, 0.0], [0.5, 0.5]])) == pytest.approx(math.exp(kl))


def test_modified_inception_score_known_answers():
    assert modified_inception_score(np.tile([0.2, 0.3, 0.5], (5, 1))) == pytest.approx(1.0)
    p, q = (0.5, 0.5), (0.9, 0.1)

    def kl(a, b):
        return sum(x * math.log(x / y) for x, y in zip(a, b))

    expected = math.exp((kl(p, q) + kl(q, p)) / 2)
    assert modified_inception_score(np.array([p, q])) == pytest.approx(expected)
    # Chunking does not change the result.
    probs = np.random.default_rng(0).dirichlet(np.ones(4), size=30)
    assert modified_inception_score(probs, chunk=7) == pytest.approx(
        modified_inception_score(probs)
    )


def test_am_score_known_answers():
    probs = uniform_one_hot(4)
    assert am_score(probs, probs) == pytest.approx(0.0, abs=1e-12)
    # Generated all (.5, .5), reference all class 0: KL = log 2, mean entropy = log 2.
    gen = np.full((6, 2), 0.5)
    assert am_score(gen, np.array([1.0, 0.0])) == pytest.approx(2 * math.log(2))
    assert am_score(gen, np.array([[1.0, 0.0]] * 3)) == pytest.approx(2 * math.log(2))
    with pytest.raises(ValueError, match="class counts"):
        am_score(gen, np.array([1.0, 0.0, 0.0]))


def test_probability_rows_validated():
    with pytest.raises(ValueError, match="probability"):
        inception_score(np.array([[0.5, 0.7]]))


def test_ndb_identical_and_mode_dropping():
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((5, 2)) * 10
    labels = rng.integers(0, 5, size=1000)
    train = centres[labels] + rng.standard_normal((1000, 2))
    same = ndb(train, train.copy(), k=10)
    assert same == {"ndb": 0.0, "ndb_k": 0.0}
    dropped = train[labels < 2]  # only 2 of the 5 modes
    res = ndb(train, dropped, k=10)
    assert res["ndb"] >= 5 and res["ndb_k"] == res["ndb"] / 10


def separable_data(n=400, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 2, generator=g) * 0.5 + (y[:, None] * 2.0 - 1.0) * 2.0
    return x, y


def build():
    return nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))


def test_fit_classifier_learns_caches_and_reloads(tmp_path):
    x, y = separable_data()
    key = f"toy-mlp-{data_fingerprint(x, y)}"
    rng_before = torch.get_rng_state()
    model = fit_classifier(build, x, y, key=key, steps=150, lr=1e-2, cache_dir=tmp_path)
    assert torch.equal(torch.get_rng_state(), rng_before)  # caller's RNG untouched
    assert accuracy(model(x), y) > 0.97
    path = tmp_path / "classifiers" / f"{key}.safetensors"
    assert path.is_file()
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temp files left

    # Same key and settings: weights come from the cache, not from these (bogus) labels.
    bogus = torch.zeros_like(y)
    again = fit_classifier(build, x, bogus, key=key, steps=150, lr=1e-2, cache_dir=tmp_path)
    for a, b in zip(model.state_dict().values(), again.state_dict().values()):
        assert torch.equal(a, b)

    # Different training settings under the same key: retrained, cache overwritten.
    other = fit_classifier(build, x, bogus, key=key, steps=20, lr=1e-2, cache_dir=tmp_path)
    assert accuracy(other(x), y) < 0.9

    probs = predict_proba(model, x, batch_size=64)
    assert probs.shape == (len(x), 2) and np.allclose(probs.sum(1), 1.0)


def test_fit_classifier_reproducible_and_env_cache(tmp_path, monkeypatch):
    x, y = separable_data(seed=1)
    a = fit_classifier(build, x, y, key="k", steps=30, batch_size=64, cache_dir=tmp_path / "a")
    monkeypatch.setenv("MULTIGEN_CACHE", str(tmp_path / "env"))
    b = fit_classifier(build, x, y, key="k", steps=30, batch_size=64)
    assert (tmp_path / "env" / "classifiers" / "k.safetensors").is_file()
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(p, q)
    with pytest.raises(ValueError, match="key"):
        fit_classifier(build, x, y, key="../evil", steps=1, cache_dir=tmp_path)


def test_fit_classifier_uses_shipped_weights_as_they_are(tmp_path):
    x, y = separable_data(seed=2)
    shipped = tmp_path / "shipped"
    a = fit_classifier(build, x, y, key="k", steps=30, cache_dir=shipped.parent / "s")
    shipped.mkdir()
    (tmp_path / "s" / "classifiers" / "k.safetensors").rename(shipped / "k.safetensors")
    # bogus labels: the shipped weights are used, not retrained, and nothing is cached
    b = fit_classifier(
        build, x, torch.zeros_like(y), key="k", steps=30, cache_dir=tmp_path / "c", shipped=shipped
    )
    for p, q in zip(a.state_dict().values(), b.state_dict().values()):
        assert torch.equal(p, q)
    assert not (tmp_path / "c" / "classifiers" / "k.safetensors").exists()
    # other training settings under the same key: trained and cached, the shipped file kept
    c = fit_classifier(build, x, y, key="k", steps=31, cache_dir=tmp_path / "c", shipped=shipped)
    assert (tmp_path / "c" / "classifiers" / "k.safetensors").is_file()
    assert not torch.equal(c[0].weight, a[0].weight)


def test_data_fingerprint_and_accuracy():
    x = torch.arange(6.0)
    fp = data_fingerprint(x)
    assert len(fp) == 16 and fp == data_fingerprint(x.clone())
    assert fp != data_fingerprint(x + 1e-3)
    assert fp != data_fingerprint(x.double())
    assert fp != data_fingerprint(x.reshape(2, 3))
    assert data_fingerprint(np.arange(3), x) != data_fingerprint(x, np.arange(3))
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)

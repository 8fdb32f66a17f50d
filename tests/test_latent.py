"""Latent runs (multigen/latent.py): a domain seen through a codec trains on standardised
latents and decodes its samples back to data before export and scoring."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest
import torch

from multigen.config import load_config
from multigen.domain import Batch, DatasetSpec, Domain, DomainError, NetworkSpec
from multigen.latent import CodecSpec, EncodedDataset, LatentDomain, domain_for


class Halve:
    """A codec with a known answer: z = 2x + 1 on the first half of the features."""

    def __init__(self, info, offset: float = 1.0):
        self.settings = {"offset": offset}
        self.offset = offset

    def encode(self, x):
        return 2 * x[:, :2] + self.offset

    def decode(self, z):
        half = (z - self.offset) / 2
        return torch.cat([half, torch.zeros_like(half)], dim=1)


class Pairs(torch.utils.data.Dataset):
    def __init__(self, masked: bool = False):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(10, 4, generator=g) * 3 + 5
        self.masked = masked

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], i % 2


@dataclass
class Plain(Domain):
    name: str = "plain"
    datasets: dict = field(
        default_factory=lambda: {"pairs": DatasetSpec("pairs", "", lambda p, s: Pairs())}
    )
    codecs: dict = field(
        default_factory=lambda: {
            "halve": CodecSpec("halve", "", Halve, {"mlp": NetworkSpec("mlp", "denoiser", None)})
        }
    )

    def describe(self, dataset):
        return {"shape": [4], "num_classes": 2, "cond_dim": 0, "sigma_data": 3.0, "unit": "m"}

    def decode(self, batch, info):
        return ("decoded", batch.x, info["shape"])


def test_training_set_is_encoded_standardised_and_described():
    view = LatentDomain(base=Plain(), codec_name="halve")
    ds = view.load_dataset("pairs")
    assert isinstance(ds, EncodedDataset) and len(ds) == 10
    expected = 2 * Pairs().x[:, :2] + 1
    assert ds.mean == pytest.approx(float(expected.mean()), rel=1e-6)
    assert torch.allclose(ds.z * ds.std + ds.mean, expected, atol=1e-5)
    assert float(ds.z.mean()) == pytest.approx(0.0, abs=1e-6)
    info = view.describe(ds)
    assert info["shape"] == [2] and info["num_classes"] == 2 and info["unit"] == "m"
    assert info["sigma_data"] == pytest.approx(1.0, rel=1e-5)
    lo, hi = info["x0_clip"]
    assert lo < float(ds.z.min()) and hi > float(ds.z.max())
    assert info["latent"]["data_info"]["shape"] == [4]
    assert info["latent"]["settings"] == {"offset": 1.0}
    batch = view.collate([ds[i] for i in range(3)])
    assert batch.x.shape == (3, 2) and batch.cond.tolist() == [0, 1, 0]
    assert view.networks.keys() == {"mlp"}


def test_samples_are_decoded_to_data_states_with_the_data_description():
    view = LatentDomain(base=Plain(), codec_name="halve")
    info = view.describe(view.load_dataset("pairs"))
    x = torch.tensor([[1.0, -2.0, 7.0, 7.0]])
    z = (view.codec(view.data_info(info)).encode(x) - info["latent"]["mean"]) / info["latent"][
        "std"
    ]
    tag, decoded, shape = view.decode(Batch(z), info)
    assert tag == "decoded" and shape == [4]
    assert torch.allclose(decoded, torch.tensor([[1.0, -2.0, 0.0, 0.0]]), atol=1e-5)


def test_settings_that_differ_from_training_are_refused():
    info = LatentDomain(base=Plain(), codec_name="halve").describe(
        LatentDomain(base=Plain(), codec_name="halve").load_dataset("pairs")
    )
    other = LatentDomain(base=Plain(), codec_name="halve", params={"offset": 3.0})
    with pytest.raises(DomainError, match="trained with"):
        other.decode(Batch(torch.zeros(1, 2)), info)


def test_unknown_codec_names_the_domain_codecs():
    with pytest.raises(DomainError, match="choose one of: halve"):
        LatentDomain(base=Plain(), codec_name="vae")


def test_masked_data_are_refused():
    @dataclass
    class Masked(Plain):
        def collate(self, items):
            x = torch.stack([it[0] for it in items])
            return Batch(x, torch.ones(len(x), 4))

    with pytest.raises(DomainError, match="fixed-shape"):
        LatentDomain(base=Masked(), codec_name="halve").load_dataset("pairs")


def test_a_run_without_latent_section_keeps_its_domain():
    base = Plain()
    assert domain_for(base, None) is base


def test_latent_section_is_validated():
    cfg = {
        "domain": "audio",
        "data": {"name": "embedded"},
        "model": {"name": "unet1d"},
        "method": {"name": "edm"},
        "latent": {"codec": "mel", "parms": {}},
    }
    with pytest.raises(ValueError, match="unknown key 'latent.parms'.*codec, params"):
        load_config(cfg)

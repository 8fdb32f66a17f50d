"""Latent diffusion (Rombach et al. 2022) for any domain: train and sample in a codec's space.

A domain declares codecs (``Domain.codecs``): an encoder/decoder pair between its states and
a compact latent — a log-mel spectrogram and a vocoder for audio, an autoencoder for images.
A run with a ``latent:`` section sees the domain through :class:`LatentDomain`: the training
set is encoded once, standardised with the training latents' mean and std, and every method
and sampler runs on those latents as on any fixed-shape state; samples are decoded back to
the domain's states before the domain exports and scores them, so files, metrics and the
reference are exactly those of a run in data space. The engine knows no codec by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import Tensor

from multigen.datainfo import DataInfo
from multigen.domain import Batch, Domain, DomainError, NetworkSpec
from multigen.options import keyword_names, refuse_unknown

ENCODE_BATCH = 256  # items encoded at once (bounds the memory of a large training set)


class Codec(Protocol):
    """What a codec's builder returns. ``settings`` (JSON) is recorded in the run's info, so
    a later load can tell whether the codec it rebuilt is the one the run was trained with."""

    settings: Mapping[str, Any]

    def encode(self, x: Tensor) -> Tensor:
        """Domain states ``[B, *data_shape]`` (network scale) -> latents ``[B, *latent_shape]``."""
        ...

    def decode(self, z: Tensor) -> Tensor:
        """Latents -> domain states."""
        ...


@dataclass
class CodecSpec:
    """A named codec: ``build(data_info, **params) -> Codec``; ``networks`` are the denoisers
    and generators that work on its latents (the domain's own networks see data states)."""

    name: str
    description: str
    build: Callable[..., Codec]
    networks: dict[str, NetworkSpec] = field(default_factory=dict)


@dataclass
class EncodedDataset(torch.utils.data.Dataset):
    """A domain dataset's items encoded and standardised (``z = (codec(x) - mean) / std``):
    items are ``(z, cond)``; ``data_info`` describes the data the codec saw."""

    base: torch.utils.data.Dataset
    z: Tensor
    cond: Tensor | None
    mean: float
    std: float
    data_info: DataInfo
    settings: dict[str, Any]

    def __len__(self) -> int:
        return len(self.z)

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor | None]:
        return self.z[i], None if self.cond is None else self.cond[i]


@dataclass
class LatentDomain(Domain):
    """``base`` seen through one of its codecs: states are standardised latents."""

    base: Domain = field(default_factory=Domain)
    codec_name: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    _built: dict[str, Codec] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        spec = self.base.codecs.get(self.codec_name)
        if spec is None:
            have = ", ".join(sorted(self.base.codecs)) or "none"
            raise DomainError(
                f"latent.codec {self.codec_name!r} is not a codec of domain {self.base.name!r}; "
                f"choose one of: {have}"
            )
        # the builder's first parameter is the data description; the rest are latent.params
        takes = keyword_names(spec.build)
        refuse_unknown(
            f"latent.params key(s) for codec {self.codec_name!r}",
            self.params,
            None if takes is None else takes[1:],
        )
        self.spec = spec
        self.name = self.base.name
        self.default_dataset = self.base.default_dataset
        self.datasets = self.base.datasets
        self.networks = spec.networks

    # ---- the codec ----------------------------------------------------------------------
    def codec(self, data_info: Mapping[str, Any]) -> Codec:
        """The codec for data described by ``data_info`` (built once per description)."""
        key = repr(sorted(DataInfo.of(data_info).to_dict().items()))
        if key not in self._built:
            self._built[key] = self.spec.build(DataInfo.of(data_info), **self.params)
        return self._built[key]

    @staticmethod
    def data_info(info: Mapping[str, Any]) -> DataInfo:
        latent = info.get("latent")
        if not isinstance(latent, Mapping) or "data_info" not in latent:
            raise DomainError("this run's info has no latent section; it was not a latent run")
        return DataInfo.of(latent["data_info"])

    def data_view(self, info: Mapping[str, Any]) -> tuple[Domain, DataInfo]:
        return self.base, self.data_info(info)

    # ---- data -------------------------------------------------------------------------
    def load_dataset(
        self, name: str, path: str | Path | None = None, split: str = "train", **params: Any
    ) -> EncodedDataset:
        ds = self.base.load_dataset(name, path, split, **params)
        data_info = DataInfo.of(self.base.describe(ds))
        codec = self.codec(data_info)
        zs, conds = [], []
        with torch.no_grad():
            for start in range(0, len(ds), ENCODE_BATCH):
                items = [ds[i] for i in range(start, min(start + ENCODE_BATCH, len(ds)))]
                batch = self.base.collate(items)
                if batch.mask is not None:
                    raise DomainError(
                        f"latent.codec {self.codec_name!r}: domain {self.base.name!r} gave "
                        "variable-size (masked) states; codecs need fixed-shape data"
                    )
                zs.append(codec.encode(batch.x).float())
                conds.append(batch.cond)
        z = torch.cat(zs)
        cond = None if any(c is None for c in conds) else torch.cat(conds)
        mean, std = float(z.mean()), float(z.std())
        if not std > 0:
            raise DomainError(f"latent.codec {self.codec_name!r}: the encoded data are constant")
        return EncodedDataset(ds, (z - mean) / std, cond, mean, std, data_info,
                              dict(codec.settings))  # fmt: skip

    def collate(self, items: Any) -> Batch:
        z = torch.stack([it[0] for it in items])
        if items[0][1] is None:
            return Batch(z)
        return Batch(z, None, torch.stack([it[1] for it in items]))

    def describe(self, dataset: torch.utils.data.Dataset) -> dict[str, Any]:
        if not isinstance(dataset, EncodedDataset):
            raise DomainError("a latent run describes the dataset its load_dataset encoded")
        z = dataset.z
        lo, hi = float(z.min()), float(z.max())
        margin = 0.1 * (hi - lo)  # samplers clip x̂0 to the training latents' range, widened
        typed = ("shape", "sigma_data", "x0_clip")
        return {
            **{k: v for k, v in dataset.data_info.to_dict().items() if k not in typed},
            "shape": list(z.shape[1:]),
            "sigma_data": float(z.std()),
            "x0_clip": [lo - margin, hi + margin],
            "latent": {
                "codec": self.codec_name,
                "settings": dataset.settings,
                "mean": dataset.mean,
                "std": dataset.std,
                "data_info": dataset.data_info.to_dict(),
            },
        }

    # ---- outputs ------------------------------------------------------------------------
    def decode(self, batch: Batch, info: Mapping[str, Any]) -> Any:
        latent = info["latent"]
        data_info = self.data_info(info)
        codec = self.codec(data_info)
        if dict(codec.settings) != dict(latent["settings"]):
            raise DomainError(
                f"latent.codec {self.codec_name!r} now has settings {dict(codec.settings)}, "
                f"but the run was trained with {dict(latent['settings'])}; use the latent "
                "params the run was trained with"
            )
        z = batch.x.float() * float(latent["std"]) + float(latent["mean"])
        with torch.no_grad():
            x = codec.decode(z)
        return self.base.decode(Batch(x, None, batch.cond), data_info)

    def export(self, samples: Any, out_dir: Path) -> list[Path]:
        return self.base.export(samples, out_dir)

    def load_samples(self, path: Path, strict: bool = False) -> Any:
        return self.base.load_samples(path, strict)

    def reference(self, spec: str, n: int | None = None, strict: bool = False, **opts: Any) -> Any:
        return self.base.reference(spec, n, strict, **opts)

    def evaluate(self, samples: Any, reference: Any, **options: Any) -> dict[str, float]:
        return self.base.evaluate(samples, reference, **options)

    def check_options(self, options: Mapping[str, Any]) -> None:
        self.base.check_options(options)

    def check_evaluation(self, reference: Any, **options: Any) -> None:
        self.base.check_evaluation(reference, **options)

    def reading(self, options: Mapping[str, Any]) -> dict[str, Any]:
        return self.base.reading(options)

    def sample_size_notes(self, scores: Mapping[str, float]) -> list[str]:
        return self.base.sample_size_notes(scores)

    def skipped_files(self, obj: Any) -> list[tuple[str, str]]:
        return self.base.skipped_files(obj)


def domain_for(domain: Domain, latent: Any | None) -> Domain:
    """The domain a run trains in: ``domain`` itself, or its view through ``latent``'s codec
    (a config's ``latent`` section: ``codec`` and ``params``)."""
    if latent is None:
        return domain
    return LatentDomain(base=domain, codec_name=latent.codec, params=dict(latent.params))

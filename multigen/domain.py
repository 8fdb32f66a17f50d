"""The domain-adapter contract: the only way the engine talks to a modality.

A domain is a small object that knows how its data becomes a continuous tensor state
(`Batch`), how noise is drawn in that space, which networks exist for it, how generated
states become files, and how samples are scored. The engine never imports a domain by
name; domains are found through the ``multigen.domains`` entry-point group.

Conventions every domain follows (see DESIGN.md §2-3):
- ``Batch.x`` is the state in network scale (the domain's normaliser already applied).
- ``Batch.mask`` (optional) marks real elements of set-valued data (points, atoms):
  shape ``x.shape[:mask.ndim]``, 1 = real, 0 = padding. The engine broadcasts it over
  the trailing feature dims of ``x`` with :func:`expand_mask`.
- ``Batch.cond`` (optional) is either class labels ``[B]`` (long, ``-1`` = unconditional)
  or property vectors ``[B, P]`` (float, a row of NaN = unconditional). Networks embed it
  with :class:`multigen.nn.ConditionEmbedding`, which understands both "null" forms, so
  classifier-free guidance works the same for every domain.
- Denoiser networks: ``forward(x, c_noise, cond=None, mask=None) -> Tensor`` shaped like x.
- GAN generators subclass :class:`multigen.nn.Generator`; discriminators return ``[B]`` logits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import Tensor

from multigen.datainfo import DataInfo as DataInfo
from multigen.diffusion.ot import ot_pair
from multigen.errors import DomainError as DomainError
from multigen.errors import option_hint as option_hint
from multigen.errors import options_spelled as options_spelled
from multigen.options import keyword_names, refuse_unknown
from multigen.randomness import randn
from multigen.text import check_tokens


@dataclass
class Batch:
    """A batch of continuous states plus the mask and condition that travel with it."""

    x: Tensor
    mask: Tensor | None = None
    cond: Tensor | None = None

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str, non_blocking: bool = False) -> Batch:
        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device, non_blocking=non_blocking)

        return Batch(move(self.x), move(self.mask), move(self.cond))

    def pin_memory(self) -> Batch:
        def pin(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.pin_memory()

        return Batch(pin(self.x), pin(self.mask), pin(self.cond))

    def select(self, index: Tensor | slice) -> Batch:
        def pick(t: Tensor | None) -> Tensor | None:
            return None if t is None else t[index]

        return Batch(pick(self.x), pick(self.mask), pick(self.cond))

    def with_x(self, x: Tensor) -> Batch:
        return replace(self, x=x)


def expand_mask(mask: Tensor | None, x: Tensor) -> Tensor | None:
    """Broadcast a ``[B, N]``-style mask over the trailing dims of ``x``."""
    if mask is None:
        return None
    return mask.reshape(mask.shape + (1,) * (x.ndim - mask.ndim)).to(x.dtype)


def unwrap_dataset(dataset: Any, cls: type, domain: str) -> Any:
    """The domain's own dataset under torch wrappers (Subset, …), for ``describe``."""
    while not isinstance(dataset, cls) and hasattr(dataset, "dataset"):
        dataset = dataset.dataset
    if not isinstance(dataset, cls):
        raise DomainError(f"domain {domain!r} cannot describe a {type(dataset).__name__}")
    return dataset


@dataclass(frozen=True)
class DensityUnits:
    """How a density over the network-scale state becomes one over the data a user knows
    (``multigen likelihood``): per dimension, state = data·exp(log_scale) + offset, so
    log p_data = log p_state + dim·log_scale. ``bin_width``: the data are quantised levels
    (8-bit pixels) one bin wide in state units; they are dequantised by U(-½, ½)·bin_width
    and log p_data is then the (lower bound of the) log-probability of the levels."""

    log_scale: float
    bin_width: float | None = None
    unit: str = "data unit"


@dataclass
class DatasetSpec:
    """A named dataset a domain can build.

    ``factory(path, split, **params)`` returns a ``torch.utils.data.Dataset`` whose items the
    domain's :meth:`Domain.collate` turns into a :class:`Batch`. ``path`` is None for
    embedded/built-in data. ``prepare(out_dir, **params)`` (optional) materialises the
    dataset on disk (``multigen data prepare NAME``) and returns the folder it wrote.
    """

    name: str
    description: str
    factory: Callable[..., torch.utils.data.Dataset]
    needs_path: bool = False
    prepare: Callable[..., Path] | None = None


@dataclass
class NetworkSpec:
    """A named network builder: ``builder(info, **params) -> nn.Module``.

    ``role`` is one of ``denoiser``, ``generator``, ``discriminator``, ``autoencoder``.
    """

    name: str
    role: str
    builder: Callable[..., torch.nn.Module]
    description: str = ""


@dataclass
class Domain:
    """Base class for a domain adapter. Subclasses fill the registries and override hooks.

    ``info`` (a JSON-serialisable dict returned by :meth:`describe`) carries everything
    learned from the training data that sampling needs later: state shape, number of
    classes, condition dimension, normalisation statistics, σ_data, atom-count histograms.
    It is stored in every checkpoint's ``meta.json``.
    """

    name: str = "base"
    default_dataset: str = ""
    datasets: dict[str, DatasetSpec] = field(default_factory=dict)
    networks: dict[str, NetworkSpec] = field(default_factory=dict)
    # named σ lists (``sample.schedule: NAME``): descending VE σ ending in 0, e.g. DiffWave's
    # 6-step fast schedule for audio; the engine adds its own "default" and "karras"
    schedules: dict[str, Callable[[], Tensor]] = field(default_factory=dict)
    # encoder/decoder pairs for latent runs (``latent.codec: NAME``; multigen/latent.py)
    codecs: dict[str, Any] = field(default_factory=dict)
    # The evaluation options (``evaluate --option K=V``, ``eval.options``) this domain
    # understands, name -> meaning, declared once: :meth:`check_options` refuses any other.
    # None: not declared here (the domain's evaluate checks its options itself).
    eval_options: ClassVar[Mapping[str, str] | None] = None
    # Those of them that change how sample/reference files are read: callers pass them to
    # load_samples and reference as well (see reading()).
    read_options: ClassVar[tuple[str, ...]] = ()
    # The minimum meaningful number of samples (and reference items) of each metric, as glob
    # patterns -> N; metrics not named need multigen.metrics.checks.MIN_SAMPLES (100).
    min_samples: ClassVar[Mapping[str, int]] = {}
    # States are NCHW images, so the GAN method may augment what its discriminator sees
    # (ADA, multigen/adversarial/augment.py); a domain opts in by setting it.
    image_augment: ClassVar[bool] = False

    # ---- data -------------------------------------------------------------------------
    def load_dataset(
        self, name: str, path: str | Path | None = None, split: str = "train", **params: Any
    ) -> torch.utils.data.Dataset:
        """Build a dataset by name (``self.datasets``); errors name the allowed values."""
        if name not in self.datasets:
            raise DomainError(
                f"unknown dataset {name!r} for domain {self.name!r}; "
                f"choose one of: {', '.join(sorted(self.datasets))}"
            )
        spec = self.datasets[name]
        if spec.needs_path and path is None:
            raise DomainError(f"dataset {name!r} needs a path (data.path in the config)")
        what = f"data.params key(s) for dataset {name!r}"
        refuse_unknown(what, params, keyword_names(spec.factory, skip=("path", "split")))
        try:
            return spec.factory(None if path is None else Path(path), split, **params)
        except TypeError as exc:  # a factory taking **params refused one further down
            key = re.search(r"unexpected keyword argument '([^']+)'", str(exc))
            if key is None or key.group(1) not in params:
                raise
            raise DomainError(f"unknown {what}: {key.group(1)!r}") from None

    def collate(self, items: Sequence[Any]) -> Batch:
        """Default: items are tensors ``x`` or ``(x, cond)`` pairs of fixed shape."""
        if isinstance(items[0], tuple | list):
            xs, conds = zip(*items, strict=True)
            return Batch(torch.stack(list(xs)), None, torch.as_tensor(conds))
        return Batch(torch.stack(list(items)))

    def describe(self, dataset: torch.utils.data.Dataset) -> dict[str, Any]:
        """Statistics of the training data that sampling needs (JSON-serialisable).

        Must contain at least ``shape`` (per-sample state shape, for padded domains the
        maximum), ``num_classes`` (0 = none), ``cond_dim`` (0 = none) and ``sigma_data``.
        Optional: ``x0_clip: [lo, hi]`` makes samplers clip x̂0 (images only, by convention).
        """
        raise NotImplementedError

    # ---- state space --------------------------------------------------------------------
    def noise(self, batch: Batch, generators: Sequence[torch.Generator]) -> Tensor:
        """Standard noise in the state space, one generator per sample (batch-size invariant).

        Set-valued domains zero the padding; molecules project onto the zero-CoM subspace.
        """
        return randn(generators, batch.x.shape[1:]).to(batch.x.device, batch.x.dtype)

    def template(
        self,
        info: dict[str, Any],
        n: int,
        generator: torch.Generator,
        cond: Tensor | None = None,
        device: torch.device | str = "cpu",
    ) -> Batch:
        """A batch of ``n`` empty states (zeros) with mask/cond to be filled by sampling.

        Fixed-shape domains return zeros of ``info['shape']``; set-valued domains draw the
        element count from the data histogram with ``generator``. ``cond`` may be given
        (class labels / properties); otherwise conditional domains leave it None.
        """
        x = torch.zeros((n, *info["shape"]), device=device)
        return Batch(x, None, None if cond is None else cond.to(device))

    # ---- outputs ------------------------------------------------------------------------
    def decode(self, batch: Batch, info: dict[str, Any]) -> Any:
        """Generated states (network scale) -> the domain's sample objects."""
        raise NotImplementedError

    def encode(self, samples: Any, info: dict[str, Any]) -> Batch:
        """The inverse of :meth:`decode`: sample objects (a reference, files read back) ->
        states in the network scale of the run described by ``info`` (``likelihood --data``)."""
        raise DomainError(f"domain {self.name!r} cannot turn samples back into states")

    def data_view(self, info: Mapping[str, Any]) -> tuple[Domain, Mapping[str, Any]]:
        """The domain and data description that real data (a reference) are read with: this
        domain itself; a latent run's view answers its data domain (multigen/latent.py)."""
        return self, info

    def density_units(self, info: dict[str, Any]) -> DensityUnits | None:
        """How a state's density maps to the data's (see :class:`DensityUnits`); None: the
        domain does not say, so no likelihood is reported for it."""
        return None

    def export(self, samples: Any, out_dir: Path) -> list[Path]:
        """Write samples in the field's file formats; returns the files written."""
        raise NotImplementedError

    def load_samples(self, path: Path, strict: bool = False) -> Any:
        """Read sample files (any model's) back into the domain's sample objects."""
        raise NotImplementedError

    def reference(self, spec: str, n: int | None = None, strict: bool = False) -> Any:
        """A reference set for evaluation: a dataset name (``NAME`` or ``NAME:split``) or a path."""
        raise NotImplementedError

    def evaluate(self, samples: Any, reference: Any, **options: Any) -> dict[str, float]:
        """Score samples against a reference with the field's metrics (flat dict)."""
        raise NotImplementedError

    def align(self, batch: Batch, noise: Tensor) -> Tensor:
        """Pair each sample with noise for flow matching's ``method.ot_pairing``. Default:
        minibatch OT over whole states (fixed-shape data); set-valued domains override it
        (molecules permute and rotate each molecule's noise)."""
        if batch.mask is not None:
            raise DomainError(
                f"flow.ot_pairing needs domain {self.name!r} to override align() for masked "
                "(variable-size) data"
            )
        return ot_pair(batch.x, noise)

    def skipped_files(self, obj: Any) -> list[tuple[str, str]]:
        """``(file, reason)`` for every input a reader skipped (samples, references)."""
        out = []
        for entry in getattr(obj, "skipped", None) or []:
            if isinstance(entry, str):  # "file: reason"
                file, _, reason = entry.partition(": ")
                out.append((file, reason))
            else:
                file, reason = entry
                out.append((str(file), str(reason)))
        return out

    def check_condition(self, cond: Tensor, info: dict[str, Any]) -> None:
        """Raise :class:`DomainError` if ``cond`` (from ``sample --cond``) means nothing to a
        run described by ``info``. Default: class labels ``0..num_classes-1`` for
        class-conditional runs, property vectors for property-conditioned ones."""
        if info.get("text"):  # captions: token ids of the run's tokenizer
            return check_tokens(cond, info)
        classes = int(info.get("num_classes") or 0)
        dim = int(info.get("cond_dim") or 0)
        if not classes and not dim:
            raise DomainError(
                "cond: this run was trained without conditions (data.conditional: false or "
                "data without labels), so a condition would be ignored; sample without it"
            )
        if classes:
            labels = cond.reshape(-1)
            if labels.is_floating_point() or labels.min() < 0 or labels.max() >= classes:
                raise DomainError(
                    f"cond: class labels must be integers 0..{classes - 1}, got "
                    f"{labels.tolist()[:5]}"
                )
        elif not cond.is_floating_point() or cond.shape[-1:] != (dim,) and cond.numel() != dim:
            raise DomainError(f"cond: this run is conditioned on {dim} properties (floats)")

    def load_sources(self, path: Path, info: dict[str, Any]) -> tuple[Tensor, list[str]]:
        """Paired (image-to-image) runs: the source files under ``path`` as conditions in
        network scale, with a name per item (``multigen translate``). Default: refused."""
        raise DomainError(f"domain {self.name!r} has no paired translation runs to translate with")

    def paired_features(self, x: Tensor, info: Mapping[str, Any]) -> Tensor:
        """Where a paired run's output is compared with its target (the GAN's ``l1_weight``
        term): network-scale states ``x`` -> features, differentiable. Default: the states
        themselves (pix2pix); an audio vocoder compares log-mels (HiFi-GAN)."""
        return x

    def score_pairs(self, samples: Any, names: list[str], targets: Path) -> dict[str, float]:
        """Score translations against their paired targets (files named like the sources)."""
        raise DomainError(f"domain {self.name!r} has no paired metrics")

    def export_named(self, samples: Any, names: list[str], out_dir: Path) -> list[Path]:
        """Write translated samples, one file per source, named after it."""
        raise DomainError(f"domain {self.name!r} cannot write translations")

    def reading(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The evaluation options that also apply while reading files."""
        return {k: v for k, v in options.items() if k in self.read_options}

    def sample_size_notes(self, scores: Mapping[str, float]) -> list[str]:
        """Warnings for metrics computed from fewer items than their stated minimum."""
        from multigen.metrics.checks import minimum_notes

        return minimum_notes(scores, self.min_samples)

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Refuse evaluation options this domain does not declare (``eval_options``), so a
        typo never runs the default silently; the message lists the valid ones."""
        refuse_unknown(f"{self.name} evaluation option(s)", options, self.eval_options)

    def check_evaluation(self, reference: Any, **options: Any) -> None:
        """Raise :class:`DomainError` if :meth:`evaluate` could never score samples against
        ``reference`` with ``options`` (the trainer asks before its first step). The default
        checks the option names only; override for requirements that need no samples
        (labels, …)."""
        self.check_options(options)

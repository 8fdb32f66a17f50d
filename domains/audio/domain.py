"""The audio domain adapter: mono waveforms ``[1, T]`` in [-1, 1] as the diffusion state."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from multigen.domain import Batch, DatasetSpec, Domain, DomainError, unwrap_dataset

from . import data as D
from . import samples as S
from . import vocoder as V
from .mel_codec import codec_specs
from .metrics.classifier import classifier_scores, train_classifier
from .metrics.mel import fd_mel
from .metrics.spectral import MIN_SPECTRAL_LENGTH, lsd, mr_stft
from .networks import network_specs
from .notes import prepare as prepare_notes
from .scaling import ScaledWaves
from .schedules import diffwave_fast_sigmas
from .spoken_digits import prepare as prepare_spoken_digits


def dataset_specs() -> dict[str, DatasetSpec]:
    specs = [
        DatasetSpec("embedded", "procedural instrument-like clips, 8 classes (8 kHz, 0.5 s)",
                    D.embedded),
        DatasetSpec("folder", "a folder of WAV/FLAC/OGG/Opus files; sub-folders = classes",
                    D.folder, needs_path=True),
        DatasetSpec("sc09", "SC09 / Speech Commands digits (16 kHz, 1 s)", D.sc09, needs_path=True),
        DatasetSpec("spoken-digits", "SC09-like digits spoken by espeak-ng voices (16 kHz, 1 s)",
                    D.spoken_digits, prepare=prepare_spoken_digits),
        DatasetSpec("notes", "NSynth-like notes rendered by fluidsynth + a GM soundfont "
                    "(16 kHz, 4 s, 10 instrument families)", D.notes, prepare=prepare_notes),
    ]  # fmt: skip
    return {s.name: s for s in specs}


def _as_samples(obj: Any, what: str) -> S.AudioSamples:
    if isinstance(obj, S.AudioSamples):
        return obj
    if isinstance(obj, D.WaveDataset):
        return S.AudioSamples(obj.waves, obj.sample_rate, obj.labels, obj.names,
                              obj.class_names, obj.skipped, from_files=True)  # fmt: skip
    raise DomainError(f"audio {what}: expected AudioSamples or a path, got {type(obj).__name__}")


def _remap_labels(gen: S.AudioSamples, ref: S.AudioSamples) -> torch.Tensor | None:
    """Generated labels in the reference's class numbering (matched by class name)."""
    if gen.labels is None:
        return None
    if gen.class_names and ref.class_names and gen.class_names != ref.class_names:
        lookup = {n.lower(): i for i, n in enumerate(ref.class_names)}
        mapped = [lookup.get(gen.class_names[y].lower(), -1) if y >= 0 else -1
                  for y in gen.labels.tolist()]  # fmt: skip
        return torch.tensor(mapped)
    return gen.labels


@dataclass
class AudioDomain(Domain):
    name: str = "audio"
    default_dataset: str = "embedded"
    datasets: dict[str, DatasetSpec] = field(default_factory=dataset_specs)
    networks: dict[str, Any] = field(default_factory=network_specs)
    schedules: dict[str, Any] = field(
        default_factory=lambda: {"diffwave_fast": diffwave_fast_sigmas}
    )
    codecs: dict[str, Any] = field(default_factory=codec_specs)

    # ---- data -------------------------------------------------------------------------
    def load_dataset(
        self, name: str, path: str | Path | None = None, split: str = "train", **params: Any
    ) -> torch.utils.data.Dataset:
        """The named set with items in network scale (see :mod:`.scaling`): divided by the
        set's std, or by ``params["scale"]`` when given (1.0: as read)."""
        scale = params.pop("scale", None)
        if scale is not None and not (isinstance(scale, int | float) and scale > 0):
            raise DomainError(f"data.params.scale must be a positive number, got {scale!r}")
        whiten = params.pop("whiten", False)
        if not isinstance(whiten, bool):
            raise DomainError(f"data.params.whiten must be true or false, got {whiten!r}")
        mel = params.pop("mel", None)
        # vocoder pairs cut into pieces of N frames; training split only: the held-out clips
        # (what is vocoded, scored and used as the reference) stay whole
        segment = params.pop("segment", None)
        envelope = params.pop("envelope", False)  # vocoder states divided by the mel's envelope
        for key, value in (("segment", segment), ("envelope", envelope)):
            if value not in (None, False) and mel is None:
                raise DomainError(f"data.params.{key} is for mel pairs: it needs data.params.mel")
        if D.canonical_split(split) != "train":
            segment = None
        ds = super().load_dataset(name, path, split, **params)
        if mel is not None:  # (wave, log-mel) pairs for a vocoder run (vocoder.py)
            # the recipe (default_mels: whole test clips to vocode) leaves the segment out
            recipe = {"dataset": name, "path": None if path is None else str(path),
                      "params": params, "mel": mel}  # fmt: skip
            return V.mel_pairs(ds, mel, scale, whiten, recipe, segment, envelope)
        return ScaledWaves(ds, scale, whiten) if type(ds) is D.WaveDataset else ds

    def describe(self, dataset: torch.utils.data.Dataset) -> dict[str, Any]:
        ds = unwrap_dataset(dataset, D.WaveDataset, "audio")
        labelled = ds.labels is not None and bool((ds.labels >= 0).any())
        scale = ds.scale if isinstance(ds, ScaledWaves) else 1.0
        gains = ds.gains if isinstance(ds, ScaledWaves) else None
        white = ds.white if isinstance(ds, ScaledWaves) else ds.waves
        info = {
            "shape": [1, int(ds.waves.shape[1])],
            "num_classes": len(ds.class_names) if labelled else 0,
            "cond_dim": 0,
            "sigma_data": float(white.double().std()) / scale,
            "scale": scale,
            "sample_rate": ds.sample_rate,
            "class_names": list(ds.class_names) if labelled else [],
            "skipped_files": len(ds.skipped),
        }
        if gains:
            info["whiten"] = list(gains)
        return info | V.describe_pairs(ds)

    def collate(self, items: Any) -> Batch:
        x = torch.stack([it[0] for it in items])
        if isinstance(items[0][1], torch.Tensor):  # mel pairs: the log-mel is the condition
            return Batch(x, None, torch.stack([it[1] for it in items]))
        labels = torch.tensor([int(it[1]) for it in items])
        return Batch(x, None, labels if bool((labels >= 0).any()) else None)

    def template(self, info, n, generator, cond=None, device="cpu") -> Batch:
        """Vocoder runs sampled without mels vocode test-split mels (vocoder.default_mels);
        their states are as long as the mels given make them (frames x hop samples)."""
        if not V.is_vocoder(info):
            return super().template(info, n, generator, cond, device)
        if cond is None:
            cond = V.default_mels(info, generator, n)
        length = int(cond.shape[-1]) * int(info["mel"]["hop"])
        return Batch(torch.zeros((n, 1, length), device=device), None, cond.to(device))

    def paired_features(self, x: torch.Tensor, info: Any) -> torch.Tensor:
        """Vocoder runs: the log-mel of the waveform (HiFi-GAN's L1 mel loss)."""
        return V.paired_features(x, info)

    def check_condition(self, cond: torch.Tensor, info: dict[str, Any]) -> None:
        if V.is_vocoder(info):
            raise DomainError("a vocoder run takes mels, not --cond: use `multigen vocode`")
        super().check_condition(cond, info)

    def load_sources(self, path: Path, info: dict[str, Any]) -> tuple[torch.Tensor, list[str]]:
        """Vocoder runs (``multigen vocode``): ``.npy`` log-mels, or audio files made into
        log-mels with the run's mel settings."""
        mels, names, _ = V.read_inputs(Path(path), V.run_settings(info))
        return mels, names

    def score_pairs(self, samples: Any, names: list[str], targets: Path) -> dict[str, float]:
        """mr_stft / lsd of vocoded clips against the audio files they were made from."""
        gen = _as_samples(samples, "samples")
        return V.score_files(gen.waves, names, Path(targets), gen.sample_rate)

    def export_named(self, samples: Any, names: list[str], out_dir: Path) -> list[Path]:
        from .io import write_wav

        gen = _as_samples(samples, "samples")
        return [write_wav(Path(out_dir) / f"{n}.wav", w, gen.sample_rate)
                for n, w in zip(names, gen.waves)]  # fmt: skip

    # ---- outputs ------------------------------------------------------------------------
    def decode(self, batch: Batch, info: dict[str, Any]) -> S.AudioSamples:
        cond = batch.cond
        x = batch.x.detach().float().cpu().reshape(len(batch), -1)
        waves = V.states_to_waves(x, None if cond is None else cond.detach().cpu(), info)
        waves = waves.clamp(-1, 1)
        labels = None
        if cond is not None and not cond.dtype.is_floating_point:
            labels = cond.detach().cpu().long().reshape(-1)
        return S.AudioSamples(waves, int(info["sample_rate"]), labels,
                              class_names=list(info.get("class_names", [])))  # fmt: skip

    def export(self, samples: S.AudioSamples, out_dir: Path) -> list[Path]:
        return S.export(_as_samples(samples, "samples"), Path(out_dir))

    def load_samples(self, path: Path, strict: bool = False) -> S.AudioSamples:
        return S.load_samples(Path(path), strict=strict)

    def reference(self, spec: str, n: int | None = None, strict: bool = False) -> S.AudioSamples:
        """A path to audio files, or ``NAME[:split]`` of a data set that needs no path
        (``embedded``, ``spoken-digits``); default split: test."""
        if Path(spec).exists():
            return self.load_samples(Path(spec), strict).head(n)
        name, _, split = spec.partition(":")
        if name not in self.datasets:
            raise DomainError(
                f"reference {spec!r} is neither an existing path nor a dataset "
                f"({', '.join(sorted(self.datasets))})"
            )
        if self.datasets[name].needs_path:
            raise DomainError(
                f"reference dataset {name!r} needs files: pass its folder as --reference"
            )
        ds = self.load_dataset(name, None, split or "test")
        return _as_samples(ds, "reference").head(n)

    # ---- metrics ------------------------------------------------------------------------
    def evaluate(self, samples: Any, reference: Any, **options: Any) -> dict[str, float]:
        """fd_mel always; mr_stft/lsd for paired sets (files with the same names, or
        ``pairing: index``) of clips longer than 1024 samples;
        classifier metrics when the reference has ≥ 2 classes (``classifier: false`` skips).

        Options: pairing (name|index|none), classifier (bool), classifier_steps (400),
        ndb_k (50), n_mels (64), seed (0), fit_length (crop/pad samples to the reference).
        """
        known = {
            "pairing",
            "classifier",
            "classifier_steps",
            "ndb_k",
            "n_mels",
            "seed",
            "fit_length",
        }
        unknown = set(options) - known
        if unknown:
            raise DomainError(
                f"unknown audio eval option(s) {sorted(unknown)}; allowed: {sorted(known)}"
            )
        gen, ref = _as_samples(samples, "samples"), _as_samples(reference, "reference")
        if gen.sample_rate != ref.sample_rate:
            raise DomainError(
                f"sample rates differ: samples {gen.sample_rate} Hz vs reference "
                f"{ref.sample_rate} Hz; resample one set to the other's rate"
            )
        t_gen, t_ref = gen.waves.shape[1], ref.waves.shape[1]
        if t_gen != t_ref:
            if not options.get("fit_length", False):
                raise DomainError(
                    f"clip lengths differ: samples {t_gen} vs reference {t_ref} samples; "
                    "set eval option fit_length: true to crop/zero-pad the samples"
                )
            from .io import fit_length

            gen = replace(gen, waves=fit_length(gen.waves, t_ref))
        if len(gen) < 2 or len(ref) < 2:
            raise DomainError(
                f"need at least 2 samples and 2 reference clips (got {len(gen)}, {len(ref)})"
            )
        out: dict[str, float] = {"n_samples": float(len(gen)), "n_reference": float(len(ref))}
        out["fd_mel"] = fd_mel(gen.waves, ref.waves, gen.sample_rate, options.get("n_mels", 64))
        pair = self._paired(gen, ref, options.get("pairing", "name"))
        if pair is not None and t_ref > MIN_SPECTRAL_LENGTH:
            out["mr_stft"] = mr_stft(*pair)
            out["lsd"] = lsd(*pair)
        classes = 0 if ref.labels is None else len(ref.labels[ref.labels >= 0].unique())
        if options.get("classifier", True) and classes >= 2:
            mask = ref.labels >= 0
            num_classes = max(len(ref.class_names), int(ref.labels.max()) + 1)
            model = train_classifier(
                ref.waves[mask], ref.labels[mask], ref.sample_rate, num_classes,
                steps=int(options.get("classifier_steps", 400)), seed=int(options.get("seed", 0)),
            )  # fmt: skip
            out.update(
                classifier_scores(
                    model,
                    gen.waves,
                    ref.waves[mask],
                    ref.labels[mask],
                    _remap_labels(gen, ref),
                    int(options.get("ndb_k", 50)),
                    int(options.get("seed", 0)),
                )  # fmt: skip
            )
        return out

    @staticmethod
    def _paired(gen: S.AudioSamples, ref: S.AudioSamples, pairing: str):
        if pairing == "none":
            return None
        if pairing == "index":
            if len(gen) != len(ref):
                raise DomainError(f"pairing by index needs equal counts ({len(gen)} vs {len(ref)})")
            return gen.waves, ref.waves
        if pairing != "name":
            raise DomainError(f"unknown pairing {pairing!r}; choose name, index or none")
        if not (gen.from_files and ref.from_files) or sorted(gen.names) != sorted(ref.names):
            return None  # unpaired sets (usual for generation): spectral distances undefined
        order = {n: i for i, n in enumerate(ref.names)}
        idx = torch.tensor([order[n] for n in gen.names])
        return gen.waves, ref.waves[idx]

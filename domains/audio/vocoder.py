"""Mel vocoder runs: log-mel -> waveform, trained by the engine's GAN or diffusion methods as
paired translation.

Data: any audio set with ``data.params.mel`` (a dict of :class:`~.melspec.MelSettings` fields
but the sample rate, which is the set's) yields ``(wave [1, T], log-mel [n_mels, T // hop])``
pairs; with ``data.conditional: true`` the log-mel travels as the condition (``Batch.cond``),
exactly as pix2pix's source image does. The run's ``info`` records the mel settings
(``info["mel"]``) and how to rebuild its test pairs (``info["mel_pairs"]``).

Training (configs/audio/embedded_vocoder.yaml): the ``hifigan_vocoder`` generator against
``hifigan_disc``, least-squares GAN loss, feature matching (``method.fm_weight``) and an L1
loss between log-mels (``method.l1_weight`` through :func:`paired_features`) — HiFi-GAN's
recipe, with nothing about mels in the engine. Or (configs/audio/embedded_diffwave_vocoder.yaml)
the ``diffwave_vocoder`` denoiser trained by a diffusion method (EDM), the mel again the
condition: DiffWave's vocoder, sampled in a few steps.

Use: :func:`load_vocoder` for code (the mel codec decodes with it); ``multigen vocode RUN
MEL_OR_WAV_FOLDER --out OUT`` (``multigen.api.vocode``) is the engine's translate with the
audio domain's hooks here (:func:`read_inputs`, :func:`score_files`); :func:`griffin_lim` is the
untrained baseline the benchmark compares against (benchmarks/audio_vocoder.py).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor
from torch.nn import functional as F

from multigen.domain import DomainError

from .data import WaveDataset
from .melspec import MelSettings, check_logmel
from .scaling import ScaledWaves, from_network, scale_of

MEL_KEYS = ("n_fft", "hop", "n_mels", "fmin", "fmax", "log_floor")


# ---- paired data -----------------------------------------------------------------------
def settings_for(params: Any, sample_rate: int) -> MelSettings:
    """``data.params.mel`` (a dict, or true for the defaults: ~32 ms window, hop 1/4 of it,
    64 mels) at the data set's sample rate."""
    if params is True:
        n_fft = 1 << int(round(np.log2(sample_rate * 0.032)))
        params = {"n_fft": n_fft, "hop": n_fft // 4, "n_mels": 64}
    if not isinstance(params, Mapping):
        raise DomainError(
            f"data.params.mel must be true or a dict of {', '.join(MEL_KEYS)}, got {params!r}"
        )
    unknown = sorted(set(params) - set(MEL_KEYS))
    if unknown:
        raise DomainError(f"data.params.mel: unknown key(s) {unknown}; allowed: {list(MEL_KEYS)}")
    return MelSettings(sample_rate=int(sample_rate), **dict(params))


ENVELOPE_FLOOR = 1e-6  # keeps the division finite where the pseudo-inverse magnitude is 0


def mel_envelope(mel: Tensor, settings: MelSettings) -> Tensor:
    """``[B, n_mels, frames] -> [B, frames * hop]``: each frame's loudness read from the
    log-mel (the RMS over frequency of its least-squares linear magnitude, proportional to
    the frame's RMS amplitude: 0.10-0.12 x it on the embedded set's loud frames), linearly
    interpolated between frame centres. PriorGrad's (Lee et al. 2022) data-dependent scale."""
    e = settings.magnitude_from_logmel(mel).square().mean(1).sqrt().clamp_min(ENVELOPE_FLOOR)
    up = F.interpolate(
        e.unsqueeze(1), scale_factor=settings.hop, mode="linear", align_corners=False
    )
    return up.squeeze(1)


class MelPairs(ScaledWaves):
    """Clips as read (scale 1: the generator's tanh already bounds [-1, 1]) with their
    log-mels, computed once; items are ``(wave [1, T], log-mel [n_mels, T // hop])``.

    ``segment`` (frames): cut every clip into consecutive pieces of that many frames (the
    log-mel of the whole clip cut at the same frames, the wave at ``frames * hop`` samples),
    the rest dropped: DiffWave's vocoder trains on short crops, the mel carrying what a
    piece needs; shorter items make each step cheaper.

    ``envelope``: the state is the clip divided by :func:`mel_envelope` of its log-mel (as
    PriorGrad divides by a mel-derived scale): every frame, loud or nearly silent, at about
    one scale, so a diffusion vocoder's leftover noise is multiplied back down where the mel
    says the clip is quiet (``AudioDomain.decode`` multiplies by the envelope of the
    condition). Exactly invertible (a pointwise division)."""

    def __init__(
        self,
        base: WaveDataset,
        settings: MelSettings,
        recipe: dict[str, Any],
        segment: int | None = None,
        envelope: bool = False,
    ):
        if base.sample_rate != settings.sample_rate:
            raise DomainError(
                f"mel settings are for {settings.sample_rate} Hz but the clips are "
                f"{base.sample_rate} Hz"
            )
        with torch.no_grad():  # chunks bound the STFT's memory on big sets
            mels = torch.cat([settings.logmel(w) for w in base.waves.split(256)])
        if segment is not None:
            base, mels = _segments(base, mels, settings.hop, segment)
        super().__init__(base, scale=1.0)
        self.settings = settings
        self.recipe = recipe
        self.mels = mels
        self.envelope = mel_envelope(mels, settings) if envelope else None

    @property
    def white(self) -> Tensor:
        """The states before scaling: the clips, divided by their envelopes when used."""
        return self.waves if self.envelope is None else self.waves / self.envelope

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor]:
        return self.white[i].unsqueeze(0), self.mels[i]


def _segments(
    base: WaveDataset, mels: Tensor, hop: int, segment: int
) -> tuple[WaveDataset, Tensor]:
    """Clips and their log-mels cut into pieces of ``segment`` frames (see MelPairs)."""
    frames = mels.shape[-1]
    if not (isinstance(segment, int) and not isinstance(segment, bool) and segment >= 1):
        raise DomainError(f"data.params.segment must be a whole number of mel frames >= 1, "
                          f"got {segment!r}")  # fmt: skip
    if segment > frames:
        raise DomainError(
            f"data.params.segment: {segment} frames is longer than the clips ({frames} frames "
            f"of hop {hop}); use at most {frames}, or remove it"
        )
    k = frames // segment
    n, length = len(base), segment * hop
    waves = base.waves[:, : k * length].reshape(n * k, length)
    mels = mels[..., : k * segment].reshape(n, mels.shape[1], k, segment)
    mels = mels.permute(0, 2, 1, 3).reshape(n * k, mels.shape[1], segment)
    labels = None if base.labels is None else base.labels.repeat_interleave(k)
    names = [f"{name}_{j}" for name in base.names for j in range(k)]
    cut = WaveDataset(waves, labels, base.sample_rate, base.class_names, names, base.skipped)
    return cut, mels.contiguous()


def mel_pairs(
    base: Any,
    mel: Any,
    scale: Any,
    whiten: bool,
    recipe: dict[str, Any],
    segment: int | None = None,
    envelope: Any = False,
) -> MelPairs:
    """The domain's ``load_dataset`` with ``data.params.mel`` set."""
    if not isinstance(base, WaveDataset):
        raise DomainError(f"data.params.mel: cannot pair a {type(base).__name__} with mels")
    if whiten or scale not in (None, 1, 1.0):
        raise DomainError(
            "data.params.mel: vocoder pairs keep the clips as read (a tanh output in [-1, 1]); "
            "remove data.params.scale / whiten"
        )
    if not isinstance(envelope, bool):
        raise DomainError(f"data.params.envelope must be true or false, got {envelope!r}")
    return MelPairs(base, settings_for(mel, base.sample_rate), recipe, segment, envelope)


def describe_pairs(ds: Any) -> dict[str, Any]:
    """What a vocoder run's info adds: its mel settings and the recipe of its pairs; the
    class labels are not its condition, so it has none."""
    if not isinstance(ds, MelPairs):
        return {}
    return {
        "mel": ds.settings.to_dict(),
        "mel_pairs": ds.recipe,
        "cond_shape": [ds.settings.n_mels, ds.settings.frames(ds.waves.shape[1])],
        "num_classes": 0,
        "class_names": [],
        "envelope": ds.envelope is not None,
    }


def is_vocoder(info: Mapping[str, Any]) -> bool:
    return isinstance(info.get("mel"), Mapping)


def run_settings(info: Mapping[str, Any]) -> MelSettings:
    if not is_vocoder(info):
        raise DomainError(
            "this run was not trained on mel pairs (no mel settings in its info), so it is not a "
            "vocoder; train one with data.params.mel (configs/audio/embedded_vocoder.yaml)"
        )
    return MelSettings.from_dict(dict(info["mel"]))


@functools.lru_cache(maxsize=4)
def _split_mels(recipe_json: str, split: str) -> Tensor:
    from .domain import AudioDomain

    recipe = json.loads(recipe_json)
    ds = AudioDomain().load_dataset(
        recipe["dataset"], recipe.get("path"), split, mel=recipe["mel"], **recipe["params"]
    )
    return ds.mels


def default_mels(info: Mapping[str, Any], generator: torch.Generator, n: int) -> Tensor:
    """Conditions for samples drawn without any (the trainer's final samples): test-split
    log-mels of the run's data set picked by the sample's generator (the training clips
    when the set has no test split)."""
    key = json.dumps(dict(info["mel_pairs"]), sort_keys=True)
    try:
        mels = _split_mels(key, "test")
    except DomainError:  # e.g. a folder without a test/ split
        mels = _split_mels(key, "train")
    idx = torch.randint(len(mels), (n,), generator=generator)
    return mels[idx]


def states_to_waves(x: Tensor, cond: Tensor | None, info: Mapping[str, Any]) -> Tensor:
    """Network-scale states ``[B, T]`` -> clips: the run's scale, and for a vocoder trained
    with ``envelope`` the envelope of its condition (the log-mel) multiplied back."""
    waves = from_network(x, info)
    if is_vocoder(info) and info.get("envelope"):
        if cond is None or not cond.dtype.is_floating_point:
            raise DomainError("a vocoder run with envelope decodes states given their log-mels")
        settings = MelSettings.from_dict(dict(info["mel"]))
        waves = waves * mel_envelope(cond.float().to(waves.device), settings)[..., : x.shape[-1]]
    return waves


def paired_features(x: Tensor, info: Mapping[str, Any]) -> Tensor:
    """Vocoder runs compare outputs and targets as log-mels (HiFi-GAN's reconstruction
    loss); any other audio run compares waveforms."""
    if not is_vocoder(info):
        return x
    settings = MelSettings.from_dict(dict(info["mel"]))
    return settings.logmel(x.reshape(x.shape[0], -1) * scale_of(info))


# ---- using a trained vocoder -----------------------------------------------------------
@dataclass
class Vocoder:
    """A trained vocoder: ``vocoder(mel [B, n_mels, frames]) -> waves [B, frames * hop]``
    (float32, on the mel's device; a ``[n_mels, frames]`` mel gives ``[1, T]``).

    A GAN run (``hifigan_vocoder``) maps the mel in one pass of its EMA ``generator``; a
    diffusion run (``diffwave_vocoder``) samples the waveform given the mel with its method's
    sampler and ``options`` (the run's ``sample`` section with any overrides; sample ``i`` of a
    call uses seed ``options.seed + i``, so a mel's waveform does not depend on the batching)."""

    settings: MelSettings
    generator: torch.nn.Module | None
    device: torch.device
    run: Any = field(repr=False, default=None)
    batch_size: int = 64
    options: Any = field(repr=False, default=None)  # SampleConfig of a diffusion vocoder

    @property
    def sample_rate(self) -> int:
        return self.settings.sample_rate

    @torch.no_grad()
    def __call__(self, mel: Tensor) -> Tensor:
        mel = check_logmel(torch.as_tensor(mel), self.settings, "vocoder input")
        out = []
        for start in range(0, len(mel), self.batch_size):
            chunk = mel[start : start + self.batch_size]
            wave = self._synthesise(chunk.to(self.device), start)
            out.append(wave.float().reshape(len(chunk), -1).to(mel.device))
        return torch.cat(out).clamp(-1, 1)

    def _synthesise(self, mel: Tensor, first: int) -> Tensor:
        if self.options is None:
            return self.generator(None, mel)
        from multigen.generate import generate
        from multigen.precision import resolve_precision

        run = self.run
        native = resolve_precision(run.config.train.precision, run.device)[0] == "bf16"
        options = self.options.model_copy(update={"seed": self.options.seed + first})
        batch = generate(run.method, run.models, run.domain, run.info, len(mel), options,
                         run.device, run.precision if native else "fp32", cond=mel)  # fmt: skip
        return states_to_waves(batch.x.float().reshape(len(mel), -1), mel, run.info)

    def check_settings(self, settings: MelSettings, who: str = "the latent run") -> None:
        """Refuse to decode mels made with other settings than this vocoder was trained on."""
        self.settings.check_same(settings, f"the vocoder ({self.run.checkpoint})", who)


def load_vocoder(
    run_dir: Any, device: str = "auto", checkpoint: str = "latest", **sample: Any
) -> Vocoder:
    """A trained vocoder run (a folder, ``zoo:NAME``, or an already loaded run): its EMA
    generator (GAN runs) or denoiser and sampler (diffusion runs) and its mel settings.
    ``sample``: overrides of a diffusion vocoder's ``sample`` section (sampler, steps,
    schedule, seed, batch_size…)."""
    from multigen import api

    run = (
        run_dir if isinstance(run_dir, api.LoadedRun) else api.load_run(run_dir, checkpoint, device)
    )
    settings = run_settings(run.info)
    if "generator" in run.models:
        if sample:
            raise DomainError(
                f"{run.checkpoint}: a GAN vocoder maps a mel in one pass; it takes no sampling "
                f"options ({', '.join(sorted(sample))})"
            )
        return Vocoder(settings, run.models["generator"].eval(), run.device, run)
    if run.method.sampler(run.method.default_sampler) is None:
        raise DomainError(
            f"{run.checkpoint}: method {run.config.method.name!r} makes no vocoder; train one with "
            "configs/audio/embedded_vocoder.yaml (gan) or embedded_diffwave_vocoder.yaml (edm)"
        )
    options = api.sample_options(run, {k: v for k, v in sample.items() if v is not None}, "vocode")
    return Vocoder(settings, None, run.device, run, options.batch_size, options)


def griffin_lim(mel: Tensor, settings: MelSettings, n_iter: int = 32) -> Tensor:
    """The untrained baseline: the least-squares linear magnitude of the log-mel
    (pseudo-inverse of the filterbank), phase by Griffin-Lim (torchaudio), on the same
    framing as :mod:`.melspec` -> ``[B, frames * hop]``."""
    import torchaudio

    mel = check_logmel(mel, settings, "griffin_lim input")
    mag = settings.magnitude_from_logmel(mel)
    frames = mel.shape[-1]
    gl = torchaudio.transforms.GriffinLim(
        n_fft=settings.n_fft, n_iter=n_iter, hop_length=settings.hop, power=1.0,
        length=None, rand_init=False,
    )  # fmt: skip
    # torchaudio's ISTFT is centred: its frame k is centred on output sample k*hop, melspec's
    # frame k on clip sample k*hop + hop/2, so clip sample t is output sample t - hop/2:
    # delay the output by half a hop (a 64-sample burst's energy centroid then lands within
    # a few samples of the clip's; cut the other way it sat a whole hop early)
    wave = gl(mag)
    total = frames * settings.hop
    wave = torch.nn.functional.pad(wave, (settings.hop // 2, max(0, total - wave.shape[-1])))
    return wave[..., :total].clamp(-1, 1)


# ---- multigen vocode (the domain's translate hooks for vocoder runs) ---------------------
def read_inputs(path: Path, settings: MelSettings) -> tuple[Tensor, list[str], Tensor | None]:
    """``(mels [N, n_mels, F], names, source waves or None)`` from a folder (or one file) of
    WAV/FLAC/OGG files — turned into log-mels, kept for scoring — or of ``.npy`` log-mels.
    A folder mixing both, clips at another sample rate, or mels of the wrong shape are
    refused with what to do."""
    from .io import list_audio_files, read_audio

    path = Path(path)
    if not path.exists():
        raise DomainError(f"vocode: {path} does not exist")
    files = [path] if path.is_file() else sorted(path.iterdir())
    npys = [f for f in files if f.suffix.lower() == ".npy"]
    audio = (
        [path] if path.is_file() and not npys else (list_audio_files(path) if path.is_dir() else [])
    )
    if npys and audio:
        raise DomainError(f"vocode: {path} holds both .npy mels and audio files; give one kind")
    if npys:
        mels = []
        for f in npys:
            try:
                m = torch.from_numpy(np.load(f, allow_pickle=False)).float()
            except (ValueError, OSError) as exc:
                raise DomainError(f"vocode: cannot read {f}: {exc}") from None
            m = check_logmel(m, settings, str(f))
            mels.append(m)
        frames = {m.shape[-1] for m in mels}
        if len(frames) > 1:
            raise DomainError(f"vocode: the .npy mels have different frame counts {sorted(frames)}")
        return torch.cat(mels), [f.stem for f in npys], None
    if not audio:
        raise DomainError(f"vocode: no .wav/.flac/.ogg or .npy files in {path}")
    waves, names = [], []
    for f in audio:
        try:
            wave, rate = read_audio(f)
        except Exception as exc:  # soundfile raises its own types for broken files
            raise DomainError(f"vocode: cannot read {f}: {exc}") from None
        wave = wave.mean(0)  # mono, as the vocoder was trained
        if rate != settings.sample_rate:
            raise DomainError(
                f"vocode: {f} is {rate} Hz but the vocoder was trained at "
                f"{settings.sample_rate} Hz; resample the file (e.g. sox IN -r "
                f"{settings.sample_rate} OUT) or use a vocoder trained at {rate} Hz"
            )
        waves.append(wave)
        names.append(f.stem)
    lengths = {w.shape[-1] for w in waves}
    if len(lengths) > 1:
        raise DomainError(
            f"vocode: clips have different lengths {sorted(lengths)[:5]}; vocode them one at a "
            "time or cut them to one length"
        )
    waves_t = torch.stack([torch.as_tensor(w).float() for w in waves])
    if waves_t.shape[-1] < settings.hop:
        raise DomainError(f"vocode: clips are shorter than one mel hop ({settings.hop} samples)")
    waves_t = waves_t[:, : settings.frames(waves_t.shape[-1]) * settings.hop]
    return settings.logmel(waves_t), names, waves_t


def score_files(waves: Tensor, names: list[str], targets: Path, sample_rate: int) -> dict:
    """``mr_stft`` / ``lsd`` of vocoded clips against ``targets/<name>.<audio ext>`` (the
    round trip of ``multigen vocode`` on WAVs); empty when ``targets`` holds no such files
    (the inputs were .npy mels: nothing to compare with)."""
    from .io import AUDIO_EXTENSIONS, read_audio
    from .metrics.spectral import MIN_SPECTRAL_LENGTH, lsd, mr_stft

    found = {}
    for f in sorted(Path(targets).iterdir()):
        if f.suffix.lower() in AUDIO_EXTENSIONS and f.stem in names:
            found[f.stem] = f
    if not found:
        return {}
    missing = [n for n in names if n not in found]
    if missing:
        raise DomainError(f"no target audio file for {missing[:5]} in {targets}")
    refs = []
    for n in names:
        wave, rate = read_audio(found[n])
        if rate != sample_rate:
            raise DomainError(f"{found[n]} is {rate} Hz, the vocoded clips {sample_rate} Hz")
        refs.append(torch.as_tensor(wave).float().mean(0)[: waves.shape[-1]])
    ref = torch.stack(refs)
    if ref.shape[-1] != waves.shape[-1] or ref.shape[-1] <= MIN_SPECTRAL_LENGTH:
        return {}  # targets shorter than the output, or too short for the spectral metrics
    return {"mr_stft": mr_stft(waves, ref), "lsd": lsd(waves, ref)}

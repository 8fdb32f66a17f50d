"""Run configuration: YAML validated with pydantic.

Every section forbids unknown keys, so a typo fails loudly with the key, the file and the
allowed values. ``--set a.b=c`` overrides are applied to the raw YAML before validation.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, Field, ValidationError

from multigen.method_config import METHOD_SECTIONS, MethodConfig
from multigen.section import Section


class ConfigError(ValueError):
    """A config that cannot be used; the message names the key and what is allowed."""


# The shipped configs are package data (multigen/configs/, read through importlib.resources), so
# they are found the same way from a checkout, an editable install and an installed wheel. pip
# never installs a package zipped, so the resource folder is a real directory.
CONFIG_DIR = Path(str(resources.files("multigen") / "configs"))


def config_path(source: str | Path) -> Path:
    """A user's config path as given; failing that, ``configs/<domain>/<name>.yaml`` names the
    shipped copy, so the README's commands also work outside the repository."""
    path = Path(source)
    if path.is_file() or path.is_absolute():
        return path
    parts = path.parts[1:] if path.parts[:1] == ("configs",) else path.parts
    shipped = CONFIG_DIR.joinpath(*parts) if parts else CONFIG_DIR
    return shipped if shipped.is_file() else path


class DataConfig(Section):
    name: str = Field(description="dataset name registered by the domain")
    path: str | None = None
    params: dict[str, Any] = Field(default_factory=dict)
    batch_size: int = Field(64, ge=1)
    num_workers: int = Field(0, ge=0)
    conditional: bool = Field(False, description="feed class labels/properties to the network")


class NetworkConfig(Section):
    name: str
    params: dict[str, Any] = Field(default_factory=dict)


class TrainConfig(Section):
    steps: int = Field(1000, ge=0)
    lr: float = Field(2e-4, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    warmup: int = Field(0, ge=0, description="linear learning-rate warm-up steps")
    grad_clip: float | None = Field(1.0, gt=0)
    ema_decay: float = Field(0.999, ge=0.0, lt=1.0)
    ema_warmup: bool = Field(
        True, description="EMA decay min(ema_decay, (1+k)/(10+k)) at step k (False: constant)"
    )
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto",
        description="auto = bf16 where the GPU or CPU computes it natively "
        "(AVX-512 BF16/AMX), fp32 elsewhere",
    )
    compile: bool = False
    device: Literal["auto", "cpu", "cuda"] = "auto"
    seed: int = 0
    log_every: int = Field(50, ge=1)
    sample_every: int = Field(0, ge=0, description="0 = only at the end")
    eval_every: int = Field(0, ge=0, description="0 = only at the end")
    checkpoint_every: int = Field(500, ge=1)
    keep_last: int = Field(2, ge=1)
    best_metric: str | None = Field(None, description="metric that picks the 'best' checkpoint")
    best_mode: Literal["min", "max"] = "min"
    tensorboard: bool = True
    progress: bool = True


class SampleConfig(Section):
    sampler: str | None = Field(None, description="sampler name; None = the method's default")
    steps: int = Field(50, ge=1, description="σ intervals (Heun: 2·steps-1 network calls)")
    schedule: str = Field(
        "default",
        description="σ levels: 'default' (the method's own), 'karras' (ρ=7 over the method's "
        "σ range) or a schedule the domain names (audio: 'diffwave_fast', DiffWave's 6 steps)",
    )
    n: int = Field(64, ge=1, description="number of samples")
    batch_size: int = Field(256, ge=1, description="samples drawn per network batch")
    guidance: float = Field(1.0, description="classifier-free guidance weight (1 = off)")
    eta: float | None = Field(
        None,
        ge=0.0,
        description="noise of ddim (0 deterministic, 1 ancestral, >1 lower temperature) and "
        "dpmpp_2m_sde; None = the sampler's own default (ddim 0, dpmpp_2m_sde 1)",
    )
    churn: float | None = Field(None, ge=0.0, description="EDM Heun S_churn (None = 0)")
    snr: float | None = Field(
        None,
        gt=0.0,
        description="signal-to-noise ratio of the pc samplers' Langevin corrector; None = the "
        "paper's 0.16 (VE-type: vesde, edm, flow) or 0.01 (VP-type: vpsde, ddpm)",
    )
    corrector_steps: int | None = Field(
        None, ge=0, description="Langevin corrector steps per σ of the pc samplers (None = 1)"
    )
    truncation: float | None = Field(
        None,
        description="GANs with a mapping network: truncation ψ, styles w_avg + ψ·(w - w_avg) "
        "(None or 1 = off, 0 = the average)",
    )
    style_mixing: int | None = Field(
        None,
        ge=1,
        description="GANs with a mapping network: style layers from this index on come from a "
        "second latent drawn from the sample's own seed (None = off)",
    )
    seed: int = Field(0, description="sample i uses seed + i, whatever the batch size")
    compile: bool = Field(
        False,
        description="torch.compile the networks before sampling: the first call compiles "
        "(tens of seconds), later calls run fused kernels (pays off for long sampling)",
    )


class EvalConfig(Section):
    n_samples: int = Field(256, ge=1)
    reference: str | None = Field(None, description="dataset (NAME or NAME:split) or path")
    options: dict[str, Any] = Field(default_factory=dict)


class LatentConfig(Section):
    codec: str = Field(description="an encoder/decoder pair the domain declares (Domain.codecs)")
    params: dict[str, Any] = Field(default_factory=dict)


class RunConfig(Section):
    domain: str
    data: DataConfig
    latent: LatentConfig | None = Field(
        None, description="train and sample in a codec's latent space (latent diffusion)"
    )
    model: NetworkConfig = Field(description="denoiser, or the generator for GANs")
    discriminator: NetworkConfig | None = None
    method: MethodConfig
    train: TrainConfig = Field(default_factory=TrainConfig)
    sample: SampleConfig = Field(default_factory=SampleConfig)
    eval: EvalConfig = Field(default_factory=EvalConfig)


def _describe_error(err: dict[str, Any], source: str) -> str:
    key = ".".join(str(p) for p in err["loc"])
    kind = err["type"]
    if kind == "extra_forbidden":
        parent = _section_for(err["loc"][:-1])
        allowed = ", ".join(sorted(parent.model_fields)) if parent else "?"
        return f"{source}: unknown key {key!r}; allowed keys here: {allowed}"
    if kind == "missing":
        return f"{source}: missing required key {key!r}"
    return f"{source}: {key}: {err['msg']} (got {err.get('input')!r})"


def _section_for(loc: tuple[Any, ...]) -> type[BaseModel] | None:
    """The section a validation error location points into (for listing allowed keys)."""
    if loc[:1] == ("method",):
        return METHOD_SECTIONS.get(loc[1]) if len(loc) == 2 else None
    model: type[BaseModel] = RunConfig
    for part in loc:
        field = model.model_fields.get(part)
        if field is None:
            return None
        candidates = [field.annotation, *getattr(field.annotation, "__args__", ())]
        sections = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if not sections:
            return None
        model = sections[0]
    return model


def set_override(raw: dict[str, Any], assignment: str) -> None:
    """Apply ``a.b.c=value`` (value parsed as YAML) to a raw config dict in place."""
    if "=" not in assignment:
        raise ConfigError(f"--set expects KEY=VALUE, got {assignment!r}")
    key, value = assignment.split("=", 1)
    parts = key.strip().split(".")
    if not all(parts):
        raise ConfigError(f"--set {assignment!r}: the key has an empty part; expected a.b.c=VALUE")
    if not key.isprintable():  # a control character would break the one-line message
        raise ConfigError(f"--set {key!r}: the key has unprintable characters")
    node = raw
    for part in parts[:-1]:
        nxt = node.get(part)
        if nxt is None:
            nxt = node[part] = {}
        if not isinstance(nxt, dict):
            raise ConfigError(f"--set {key}: {part!r} is not a section")
        node = nxt
    try:
        node[parts[-1]] = yaml.safe_load(value)
    except yaml.YAMLError as exc:
        detail = " ".join(str(exc).split())
        raise ConfigError(f"--set {key}: {value!r} is not valid YAML ({detail})") from None


def load_config(
    source: str | Path | dict[str, Any], overrides: list[str] | tuple[str, ...] = ()
) -> RunConfig:
    """Read, override and validate a run config; raise :class:`ConfigError` with one clear line
    per problem."""
    if isinstance(source, dict):
        raw, name = dict(source), "<config>"
    else:
        path = config_path(source)
        if not path.is_file():
            raise ConfigError(
                f"config file not found: {path} (shipped configs live in {CONFIG_DIR})"
            )
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8 text (offset {exc.start})") from None
        name = str(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{name}: the top level must be a mapping of sections")
    raw = _deep_copy(raw)
    before = _deep_copy(raw.get("data"))
    for assignment in overrides:
        set_override(raw, assignment)
    _reference_follows_data(raw, before, overrides)
    try:
        cfg = RunConfig.model_validate(raw)
    except ValidationError as exc:
        lines = [_describe_error(e, name) for e in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
    bad = _nonfinite_keys(cfg.model_dump())
    if bad:  # a NaN/inf learning rate or size is never what was meant
        raise ConfigError(f"{name}: {bad[0]} is not a finite number")
    return cfg


def _reference_follows_data(raw: dict[str, Any], before: Any, overrides) -> None:
    """A config's ``eval.reference`` that names its own data set (``NAME[:split]``, or a
    path under ``data.path``) was chosen for that data: when ``--set`` changes
    ``data.name``/``data.path`` and leaves ``eval.reference`` alone, the reference follows the
    new data (None: its test split) instead of scoring against the old set."""
    keys = {a.split("=", 1)[0].strip() for a in overrides}
    if keys & {"eval", "eval.reference"} or not keys & {"data", "data.name", "data.path"}:
        return
    data, ev = raw.get("data"), raw.get("eval")
    if not (isinstance(data, dict) and isinstance(ev, dict) and isinstance(before, dict)):
        return
    ref = ev.get("reference")
    same = (data.get("name"), data.get("path")) == (before.get("name"), before.get("path"))
    if not isinstance(ref, str) or same:
        return
    old_path = str(before.get("path") or "")
    if ref.split("@")[0].split(":")[0] == before.get("name") or (
        old_path and ref.startswith(old_path)
    ):
        ev["reference"] = None


def _nonfinite_keys(raw: Any, prefix: str = "") -> list[str]:
    if isinstance(raw, dict):
        return [k for key, v in raw.items() for k in _nonfinite_keys(v, f"{prefix}{key}.")]
    if isinstance(raw, list):
        return [k for i, v in enumerate(raw) for k in _nonfinite_keys(v, f"{prefix}{i}.")]
    if isinstance(raw, float) and not math.isfinite(raw):
        return [f"{prefix.rstrip('.')} = {raw}"]
    return []


def _deep_copy(raw: Any) -> Any:
    if isinstance(raw, dict):
        return {k: _deep_copy(v) for k, v in raw.items()}
    if isinstance(raw, list):
        return [_deep_copy(v) for v in raw]
    return raw


def dump_config(config: RunConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)

"""Run configuration: YAML validated with pydantic.

Every section forbids unknown keys, so a typo fails loudly with the key, the file and the
allowed values. ``--set a.b=c`` overrides are applied to the raw YAML before validation.
"""

from __future__ import annotations

import math
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


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


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", protected_namespaces=())


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


class DiffusionMethod(Section):
    """DDPM-family training (discrete-time VP schedule), ε/v/x0 prediction."""

    name: Literal["ddpm"] = "ddpm"
    parameterization: Literal["eps", "v", "x0"] = "eps"
    schedule: Literal["linear", "cosine", "polynomial_2"] = "linear"
    timesteps: int = Field(1000, ge=2)
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)


class EDMMethod(Section):
    """Karras et al. (2022) preconditioning, log-normal σ and σ_data weighting."""

    name: Literal["edm"] = "edm"
    sigma_data: float | None = Field(None, gt=0, description="None = take it from the data")
    p_mean: float = -1.2
    p_std: float = 1.2
    sigma_min: float = Field(0.002, gt=0)
    sigma_max: float = Field(80.0, gt=0)
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)


class FlowMethod(Section):
    """Rectified flow / conditional flow matching: x_t = (1-t)·x0 + t·ε, target ε - x0."""

    name: Literal["flow"] = "flow"
    ot_pairing: bool = Field(False, description="minibatch optimal-transport noise pairing")
    t_sampling: Literal["uniform", "logit_normal"] = "uniform"
    t_max: float = Field(0.9999, gt=0, lt=1)
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)


class VESDEMethod(Section):
    """Score SDE, variance exploding (Song et al. 2021): σ(t) = σ_min (σ_max/σ_min)^t,
    t ~ U(eps, 1), ε-prediction = the paper's λ(σ) = σ² weighted score matching."""

    name: Literal["vesde"] = "vesde"
    sigma_min: float = Field(0.01, gt=0)
    sigma_max: float = Field(50.0, gt=0)
    sigma_data: float | None = Field(
        None, gt=0, description="input scaling 1/sqrt(σ_data²+σ²); None = from the data"
    )
    eps: float = Field(1e-5, gt=0, lt=1, description="smallest training t")
    sampling_eps: float = Field(1e-5, gt=0, lt=1, description="last t before the final x̂0")
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _range(self) -> VESDEMethod:
        if not self.sigma_max > self.sigma_min:
            raise ValueError(f"sigma_max ({self.sigma_max}) must exceed sigma_min")
        return self


class VPSDEMethod(Section):
    """Score SDE, variance preserving (Song et al. 2021): β(t) = β_min + t(β_max - β_min),
    continuous t ~ U(eps, 1), ε-prediction."""

    name: Literal["vpsde"] = "vpsde"
    beta_min: float = Field(0.1, gt=0)
    beta_max: float = Field(20.0, gt=0)
    eps: float = Field(1e-5, gt=0, lt=1, description="smallest training t")
    sampling_eps: float = Field(1e-3, gt=0, lt=1, description="last t before the final x̂0")
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _range(self) -> VPSDEMethod:
        if not self.beta_max >= self.beta_min:
            raise ValueError(f"beta_max ({self.beta_max}) must be at least beta_min")
        return self


class JointFlowMethod(Section):
    """Flow matching over a state with several parts: the continuous part on the engine's
    flow path, categorical parts (data.params that make them, e.g. molecules' graph: true)
    by categorical flow matching with the data's marginal prior; one t per sample."""

    name: Literal["joint_flow"] = "joint_flow"
    t_sampling: Literal["uniform", "logit_normal"] = "uniform"
    t_max: float = Field(0.9999, gt=0, lt=1)
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)
    loss_weights: dict[str, float] = Field(
        default_factory=dict,
        description="weight per part ('x' = the continuous part, else a part's name); 1 if unset",
    )
    final: Literal["argmax", "sample"] = Field(
        "argmax",
        description="the last sampling step's classes: the most likely (argmax) or a draw",
    )
    ot_pairing: bool = Field(
        False, description="permute + rotate each sample's noise onto its data (equivariant OT)"
    )
    self_condition: bool = Field(
        False, description="feed the previous prediction back to the network (Chen et al. 2022)"
    )
    part_time: dict[str, float] = Field(
        default_factory=dict,
        description="per categorical part, exponent g of its noise level t**g (1 if unset; "
        "g > 1: the part is decided earlier in sampling than the coordinates)",
    )


class GANMethod(Section):
    name: Literal["gan"] = "gan"
    loss: Literal["non_saturating", "hinge", "wgan_gp"] = "non_saturating"
    r1_gamma: float = Field(0.0, ge=0.0, description="R1 weight (0 = off)")
    r1_every: int = Field(16, ge=1, description="lazy regularisation interval")
    gp_weight: float = Field(10.0, ge=0.0, description="WGAN-GP gradient-penalty weight")
    d_steps: int = Field(1, ge=1, description="discriminator updates per generator update")
    lr_d: float | None = Field(None, gt=0, description="None = train.lr")
    betas: tuple[float, float] = (0.0, 0.99)
    # StyleGAN2 / ADA (issue 18; multigen/adversarial/style.py and augment.py)
    lazy_phases: bool = Field(
        False,
        description="R1 and path length in their own phases (Dreg/Greg, every r1_every / "
        "pl_every steps) with Adam's lr and betas corrected by c = k/(k+1) (StyleGAN2 App. B); "
        "false: R1 is added to the D loss on its steps, as before",
    )
    pl_weight: float = Field(
        0.0, ge=0.0, description="path-length weight (StyleGAN2: 2; needs a mapping network)"
    )
    pl_every: int = Field(4, ge=1, description="path-length interval")
    pl_decay: float = Field(0.01, gt=0.0, le=1.0, description="EMA rate of the target length")
    pl_batch_shrink: int = Field(2, ge=1, description="path length on batch/shrink samples")
    style_mixing: float = Field(
        0.0, ge=0.0, le=1.0, description="probability a training sample mixes two latents' styles"
    )
    augment: Literal["none", "ada", "fixed"] = Field(
        "none", description="discriminator augmentation: adaptive p (ADA), a fixed p, or none"
    )
    augment_pipeline: Literal["bgc", "bg", "b", "bgc_cutout"] = Field(
        "bgc", description="b = pixel blitting, g = geometric, c = colour (Karras et al. 2020b)"
    )
    augment_p: float = Field(0.0, ge=0.0, le=1.0, description="initial (ada) or fixed p")
    ada_target: float = Field(0.6, gt=0.0, lt=1.0, description="target of r_t = E[sign D(real)]")
    ada_interval: int = Field(4, ge=1, description="steps between adjustments of p")
    ada_kimg: float = Field(500.0, gt=0.0, description="thousands of images for p to move by 1")
    grow_until: float = Field(
        0.0,
        ge=0.0,
        le=1.0,
        description="progressive growing (ProGAN): the fraction of train.steps over which the "
        "networks grow from 4x4 to full size with fade-in (0 = off; needs networks that grow)",
    )
    l1_weight: float = Field(
        0.0,
        ge=0.0,
        description="paired translation (pix2pix: 100): weight of the L1 distance between the "
        "generated and the real target, added to the generator loss (needs paired data)",
    )


class ConsistencyMethod(Section):
    """Consistency models (Song et al. 2023; improved training, Song & Dhariwal 2023): distil
    a trained diffusion/flow run (``mode: distill``, its ODE solved by Heun) or train from
    scratch (``mode: train``); sampled in 1 to 1 + len(sample_sigmas) network calls."""

    name: Literal["consistency"] = "consistency"
    mode: Literal["distill", "train"] = "train"
    teacher: str | None = Field(
        None,
        description="run folder or zoo:NAME: distill: the teacher (required); train: "
        "optional, only to initialise the network (ECT)",
    )
    teacher_guidance: float | None = Field(
        None, description="guidance of the teacher's ODE (None = the teacher's sample.guidance)"
    )
    init_from_teacher: bool = Field(
        True, description="start from the teacher's weights when it is an EDM run of this network"
    )
    sigma_data: float | None = Field(None, gt=0, description="None = take it from the data")
    sigma_min: float = Field(0.002, gt=0, description="the boundary: f(x, sigma_min) = x")
    sigma_max: float = Field(80.0, gt=0)
    rho: float = Field(7.0, gt=0, description="spacing of the sigma levels (Karras et al.)")
    levels: int = Field(18, ge=2, description="distill: number of sigma levels N")
    s0: int = Field(10, ge=1, description="train: curriculum's first number of intervals")
    s1: int = Field(1280, ge=1, description="train: curriculum's last number of intervals")
    index_sampling: Literal["lognormal", "uniform"] = "lognormal"
    p_mean: float = Field(-1.1, description="log-normal weighting of the level index")
    p_std: float = Field(2.0, gt=0)
    loss: Literal["pseudo_huber", "l2"] = "pseudo_huber"
    huber_c: float | None = Field(None, gt=0, description="None = 0.00054*sqrt(dimensions)")
    weighting: Literal["inverse_step", "uniform"] = Field(
        "inverse_step", description="inverse_step: 1/(sigma_hi - sigma_lo)"
    )
    sample_sigmas: list[float] = Field(
        default_factory=lambda: [0.8],
        description="sigma of the 2nd, 3rd... step of multistep sampling (descending)",
    )
    cond_drop: float = Field(0.0, ge=0.0, le=1.0)


MethodConfig = Annotated[
    DiffusionMethod
    | EDMMethod
    | FlowMethod
    | JointFlowMethod
    | GANMethod
    | ConsistencyMethod
    | VESDEMethod
    | VPSDEMethod,
    Field(discriminator="name"),
]


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


class RunConfig(Section):
    domain: str
    data: DataConfig
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


METHOD_SECTIONS: dict[str, type[Section]] = {
    m.model_fields["name"].default: m
    for m in (
        DiffusionMethod,
        EDMMethod,
        FlowMethod,
        JointFlowMethod,
        GANMethod,
        ConsistencyMethod,
        VESDEMethod,
        VPSDEMethod,
    )
}


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

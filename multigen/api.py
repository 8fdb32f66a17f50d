"""The Python API: the same operations as the CLI.

from multigen import api
run = api.train("configs/toy/eight_gaussians_flow.yaml", out="runs/toy")
res = api.sample(run, n=512, sampler="dpmpp_2m", steps=20)
print(api.evaluate("toy", res.samples, "eight_gaussians:test"))

Why one file of ~570 lines: every CLI command maps onto one public function here, so a user
finds the whole Python surface in one place; the work itself lives in the modules each
function calls (train/, generate, zoo/, train_all, the domains).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import nn

from multigen.adversarial.style import check_style_options
from multigen.config import (
    CONFIG_DIR,
    ConfigError,
    RunConfig,
    SampleConfig,
    _describe_error,
    load_config,
)
from multigen.diffusion import samplers as S
from multigen.domain import Batch, DataInfo, Domain, DomainError
from multigen.fileio import atomic_write_text
from multigen.generate import generate
from multigen.methods import Method, build_method
from multigen.metrics import checks
from multigen.precision import resolve_precision
from multigen.registry import domain_names, get_domain, run_domain
from multigen.text import Tokenizer
from multigen.train import checkpoint as ckpt
from multigen.train.batches import resolve_device
from multigen.train.data_report import skipped_records
from multigen.train.lock import run_lock
from multigen.train.trainer import Trainer
from multigen.translate import TranslateResult, translate  # noqa: F401 - re-exported

__all__ = [
    "train",
    "sample",
    "evaluate",
    "assess",
    "evaluate_run",
    "likelihood",
    "load_run",
    "get_domain",
    "domain_names",
    "demo",
    "list_datasets",
    "prepare_dataset",
    "pretrained_list",
    "pretrained_show",
    "pretrained_add",
    "SampleResult",
    "LoadedRun",
    "Assessment",
    "vocode",
]


def train(
    config: str | Path | dict[str, Any] | RunConfig,
    out: str | Path | None = None,
    overrides: list[str] | tuple[str, ...] = (),
    resume: bool = False,
) -> Path:
    """Train a run; returns its folder (config.yaml, checkpoints/, samples/, metrics.json)."""
    from multigen.zoo import store

    if store.is_reference(config):  # retrain a zoo model from its resolved config
        config = store.entry_dir(config) / "config.yaml"
    cfg = config if isinstance(config, RunConfig) else load_config(config, overrides)
    if out is None:
        stem = Path(config).stem if isinstance(config, str | Path) else cfg.method.name
        out = Path("runs") / f"{cfg.domain}_{stem}"
    with run_lock(out, main=os.environ.get("RANK", "0") == "0"):  # one trainer per folder
        trainer = Trainer(cfg, run_domain(cfg), Path(out), resume=resume)
        trainer.check_evaluation()  # fail before the first step, not after the last
        trainer.fit()
        trainer.finish()
    return Path(out)


@dataclass
class LoadedRun:
    config: RunConfig
    domain: Domain
    method: Method
    models: dict[str, nn.Module]
    info: DataInfo
    device: torch.device
    checkpoint: Path
    weights: str = "ema"
    precision: str = "auto"  # what training chose (meta.json); sampling uses the same


WEIGHTS = ("ema", "raw")
MODEL_SECTIONS = ("domain", "latent", "model", "discriminator", "method")


def _check_same_run(run_dir: Path, path: Path, meta: dict[str, Any]) -> None:
    """A checkpoint given by path must hold the model the run folder's config describes."""
    own = run_dir / "config.yaml"
    if not own.is_file():
        return
    mine = load_config(own).model_dump(mode="json")
    theirs = load_config(meta["config"]).model_dump(mode="json")
    differ = [k for k in MODEL_SECTIONS if mine.get(k) != theirs.get(k)]
    if differ:
        raise ckpt.CheckpointError(
            f"checkpoint {path} is not a checkpoint of {run_dir}: its {', '.join(differ)} "
            f"section(s) differ from {own}; pass the run folder it belongs to"
        )


def load_run(
    run_dir: str | Path, checkpoint: str = "latest", device: str = "auto", weights: str = "ema"
) -> LoadedRun:
    """Rebuild a trained run's models (``checkpoint``: latest|best|PATH of a checkpoint of this
    run; ``weights``: ``ema`` — the averaged weights, where the method keeps them — or
    ``raw``, the weights the optimiser left). ``run_dir`` may also name a pretrained model:
    ``zoo:NAME``, ``hf:ORG/NAME`` or a folder in the zoo layout (EMA weights only)."""
    if weights not in WEIGHTS:
        raise DomainError(f"weights must be one of {', '.join(WEIGHTS)}, got {weights!r}")
    from multigen.zoo import store

    if store.is_reference(run_dir) or store.is_entry(Path(run_dir)):
        return store.load_entry(run_dir, device, weights, checkpoint)
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise DomainError(f"run folder not found: {run_dir}")
    if checkpoint == "latest":
        path = ckpt.latest_checkpoint(run_dir)
    elif checkpoint == "best":
        path = run_dir / "checkpoints" / "best"
    else:
        path = Path(checkpoint)
    if path is None or not path.is_dir():
        raise DomainError(
            f"no {checkpoint} checkpoint in {run_dir / 'checkpoints'}; train the run first"
        )
    meta = ckpt.read_meta(path)
    if checkpoint not in ("latest", "best"):
        _check_same_run(run_dir, path, meta)
    try:  # a meta.json that does not describe a buildable model is a corrupt checkpoint
        cfg = load_config(meta["config"])
        domain = run_domain(cfg)
        info = DataInfo.of(meta["info"])
        method = build_method(cfg, domain, info)
    except (ConfigError, DomainError) as exc:
        raise ckpt.CheckpointError(
            f"{path / 'meta.json'}: its model cannot be built ({' '.join(str(exc).split())})"
        ) from None
    state = ckpt.load_weights(path)
    has_ema = any(k.startswith("ema/") for k in state)
    ema_names = {k for k in method.models if k in method.ema_models}
    for name, module in method.models.items():
        prefix = "ema" if (weights == "ema" and has_ema and name in ema_names) else "model"
        used = {k: v for k, v in state.items() if k.startswith(f"{prefix}/{name}.")}
        ckpt.require_finite(used, str(path))
        ckpt.restore_modules(used, prefix, {name: module}, path)
    dev = resolve_device(device)
    models = {k: m.to(dev).eval() for k, m in method.models.items()}
    precision = meta.get("precision") or cfg.train.precision
    return LoadedRun(cfg, domain, method, models, info, dev, path, weights, precision)


@dataclass
class SampleResult:
    samples: Any  # the domain's sample objects
    files: list[Path]
    batch: Batch  # network-scale states
    seconds: float
    nfe: int


def sample(
    run_dir: str | Path | LoadedRun,
    out: str | Path | None = None,
    cond: torch.Tensor | list[Any] | int | None = None,
    checkpoint: str = "latest",
    device: str = "auto",
    weights: str = "ema",
    prompt: str | Sequence[str] | None = None,
    **options: Any,
) -> SampleResult:
    """Draw samples from a trained run and (when ``out`` is given) write them as files.

    ``options`` are :class:`~multigen.config.SampleConfig` fields (``n``, ``sampler``,
    ``steps``, ``schedule``, ``guidance``, ``eta``, ``churn``, ``seed``, ``batch_size``,
    ``compile``) overriding the run's own ``sample`` section; None leaves a field as it is.
    ``prompt``: a caption, or several (sample i gets prompt i mod their number), for a run
    trained on captioned data; with ``out`` they are written to ``OUT/prompts.txt``.
    """
    from multigen.methods import nfe

    unknown = sorted(set(options) - set(SampleConfig.model_fields))
    if unknown:
        raise DomainError(
            f"unknown sample option(s) {unknown}; allowed: {', '.join(SampleConfig.model_fields)}"
        )
    given = {k: v for k, v in options.items() if v is not None}
    if isinstance(run_dir, LoadedRun):
        run = run_dir
    else:
        run = load_run(run_dir, checkpoint, device, weights)
    options = sample_options(run, given)
    prompts = _prompts(prompt, cond, options.n)
    if prompts:  # a run trained without captions is refused here, in one line
        cond = Tokenizer.from_info(run.info).encode(prompts)
    cond_t = None if cond is None else torch.as_tensor(cond)
    if cond_t is not None:
        run.domain.check_condition(cond_t, run.info)
    if cond_t is not None and cond_t.ndim == 0:
        cond_t = cond_t.repeat(options.n)
    start = time.perf_counter()
    batch = generate(
        run.method,
        run.models,
        run.domain,
        run.info,
        options.n,
        options,
        run.device,
        _sampling_precision(run),
        cond=cond_t,
        conditional=run.config.data.conditional,
    )
    seconds = time.perf_counter() - start
    samples = run.domain.decode(batch, run.info)
    files: list[Path] = []
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        files = run.domain.export(samples, out)
        if prompts:
            atomic_write_text(out / "prompts.txt", "".join(f"{p}\n" for p in prompts))
    return SampleResult(
        samples,
        files,
        batch,
        seconds,
        nfe(run.method, options.sampler, options.steps, corrector_steps=options.corrector_steps),
    )


def _prompts(prompt: str | Sequence[str] | None, cond: Any, n: int) -> list[str] | None:
    """The caption of every sample (prompt i mod their number), or None without prompts."""
    if prompt is None:
        return None
    if cond is not None:
        raise DomainError("give either cond or prompt, not both (a prompt is the condition)")
    prompts = [prompt] if isinstance(prompt, str) else list(prompt)
    if not prompts:
        raise DomainError("prompt: an empty list; give at least one caption")
    return [prompts[i % len(prompts)] for i in range(n)]


def vocode(
    run_dir: str | Path | LoadedRun,
    input: str | Path,  # noqa: A002 - the CLI's name for it
    out: str | Path | None = None,
    checkpoint: str = "latest",
    device: str = "auto",
) -> TranslateResult:
    """Run a vocoder (a paired run whose domain turns files into its conditions, e.g. an audio
    run trained on mel pairs) over ``input``: its domain reads the files there (audio: WAVs
    become log-mels, ``.npy`` files are log-mels), the outputs go to ``OUT/<name>.<ext>``.
    The inputs are their own targets, so a round trip of audio files is scored (audio:
    ``mr_stft``, ``lsd``; ``scores`` empty for mel inputs)."""
    src = Path(input)
    targets = src if src.is_dir() else None
    return translate(run_dir, src, out, checkpoint, device, targets=targets)


def sample_options(run: LoadedRun, given: dict[str, Any], what: str = "sample") -> SampleConfig:
    """The run's ``sample`` section with the ``given`` overrides, validated by the config's
    own rules and checked against what the run's method and its sampler take (an option the
    sampler would ignore is refused, not dropped). ``what`` names the command in errors."""
    merged = run.config.sample.model_dump() | given
    try:  # the config's own rules (ranges, allowed names) apply to overrides too
        options = SampleConfig.model_validate(merged)
    except ValidationError as err:
        raise DomainError(
            "; ".join(_describe_error(e, f"{what} options") for e in err.errors())
        ) from None
    allowed = run.method.samplers()
    if options.sampler is not None and options.sampler not in allowed:
        raise DomainError(
            f"sampler {options.sampler!r} does not apply to method {run.config.method.name!r}; "
            f"choose one of: {', '.join(allowed)}"
        )
    name = options.sampler or run.method.default_sampler
    if options.schedule not in run.method.schedules():
        raise DomainError(
            f"unknown schedule {options.schedule!r}; choose one of: "
            f"{', '.join(run.method.schedules())}"
        )
    if run.method.sampler(name) is None:  # one generator pass: no noise levels to set
        _check_one_pass(run, given)
    takes = run.method.sampler_options(name)
    for key in S.OPTIONS:
        if key in given and key not in takes:  # the sampler would ignore it silently
            which = [s for s in allowed if key in run.method.sampler_options(s)]
            raise DomainError(
                f"{key} does not apply to sampler {name!r} of method "
                f"{run.config.method.name!r}; samplers that take it: {', '.join(which) or 'none'}"
            )
    guidance = given.get("guidance")
    if guidance is not None and guidance != 1.0:
        _check_guidance(run)
    check_style_options(run.models, options, repr(run.config.model.name))  # needs mapping
    return options


def _check_one_pass(run: LoadedRun, given: dict[str, Any]) -> None:
    """A pretrained GAN says which σ-sampler options it cannot take (run folders keep
    ignoring them: benchmark harnesses pass one option set to every method)."""
    from multigen.zoo.store import is_entry

    unused = [k for k in ("steps", "schedule", *S.OPTIONS) if k in given]
    if unused and is_entry(run.checkpoint):
        raise DomainError(
            f"{', '.join(unused)}: not options of {run.checkpoint.name} (method "
            f"{run.config.method.name!r} samples in one generator pass); it takes n, seed, "
            "batch_size and cond"
        )


def _sampling_precision(run: LoadedRun) -> str:
    """The precision training chose (meta.json), unless this device would only emulate bf16
    (a run trained on a GPU or a native-bf16 CPU, sampled on an AVX2-only CPU: fp32)."""
    native = resolve_precision(run.config.train.precision, run.device)[0] == "bf16"
    return run.precision if native else "fp32"


def _check_guidance(run: LoadedRun) -> None:
    """Classifier-free guidance needs a conditional model that also learned the
    unconditional case (condition dropout)."""
    conditional = run.info.conditional
    drop = getattr(run.config.method, "cond_drop", 0.0)
    if not conditional:
        raise DomainError(
            "guidance applies to conditional runs only; this run was trained without "
            "conditions (data.conditional: false), so there is nothing to guide"
        )
    if not drop:
        raise DomainError(
            "guidance needs a model trained with condition dropout (method.cond_drop > 0, "
            "e.g. 0.1) to know the unconditional case; this run has cond_drop 0"
        )


@dataclass
class Assessment:
    """What scoring found: the metrics, the files skipped while reading (set, file, reason)
    and the sample-size notes (each metric below its stated minimum N)."""

    scores: dict[str, float]
    skipped: list[dict[str, str]]
    notes: list[str]


def assess(
    domain: str | Domain,
    samples: Any,
    reference: Any,
    strict: bool = False,
    n: int | None = None,
    **options: Any,
) -> Assessment:
    """Read and score: ``samples`` are objects, a path to files in the field's formats, or a
    dataset ``NAME:split`` (the "data" row); ``reference`` a dataset ``NAME[:split]``, a path or
    objects. What :func:`evaluate` and ``multigen evaluate`` both do."""
    dom = get_domain(domain) if isinstance(domain, str) else domain
    dom.check_options(options)  # a typo fails before anything is read
    read = dom.reading(options)  # e.g. shapes' check_manifold applies to reading files too
    if isinstance(samples, str | Path):
        path = Path(samples)
        if path.exists():
            samples = dom.load_samples(path, strict=strict, **read)
        elif isinstance(samples, str) and ":" in samples:
            samples = dom.reference(samples, strict=strict, **read)
        else:
            raise DomainError(f"samples not found: {path}")
    if isinstance(reference, str | Path):
        reference = dom.reference(str(reference), n=n, strict=strict, **read)
    with warnings.catch_warnings(record=True) as caught:  # metrics' own small-N warnings
        warnings.simplefilter("always", checks.SmallSampleWarning)
        scores = checks.require_finite_scores(dom.evaluate(samples, reference, **options))
    for w in caught:  # other warnings are shown as Python would have shown them
        if w.category is not checks.SmallSampleWarning:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    found = [str(w.message) for w in caught if w.category is checks.SmallSampleWarning]
    # each metric against its stated minimum N, then the metrics' own notes, each once
    notes = list(dict.fromkeys([*dom.sample_size_notes(scores), *found]))
    skipped = skipped_records(dom, [("samples", samples), ("reference", reference)])
    if skipped:
        scores = {**scores, "skipped_files": float(len(skipped))}
    return Assessment(scores, skipped, notes)


def evaluate(
    domain: str | Domain,
    samples: Any,
    reference: Any,
    out: str | Path | None = None,
    strict: bool = False,
    n: int | None = None,
    **options: Any,
) -> dict[str, float]:
    """Score samples against a reference (see :func:`assess`); sample-size notes are issued
    as warnings. Returns a flat {metric: number}."""
    result = assess(domain, samples, reference, strict=strict, n=n, **options)
    for note in result.notes:
        checks.warn(note)
    if out is not None:
        atomic_write_text(out, json.dumps(result.scores, indent=2))
    return result.scores


def evaluate_run(
    run: str | Path | LoadedRun,
    n: int | None = None,
    reference: Any = None,
    out: str | Path | None = None,
    checkpoint: str = "latest",
    device: str = "auto",
    weights: str = "ema",
    export: str | Path | None = None,
    **options: Any,
) -> dict[str, float]:
    """Sample ``n`` (default ``eval.n_samples``) from a run or a pretrained model and score them
    against ``reference`` (default: the run's own ``eval.reference``, else its test split, ``n``
    items) with the run's ``eval.options``; ``options`` are sample options (``seed``…);
    ``export``: also write the samples there as files."""
    from multigen.train.reference import reference_samples

    if not isinstance(run, LoadedRun):
        run = load_run(run, checkpoint, device, weights)
    n = n or run.config.eval.n_samples
    options.setdefault("batch_size", min(n, run.config.sample.batch_size))
    res = sample(run, out=export, n=n, **options)
    if reference is None:
        reference = reference_samples(run.domain, run.config, run.info, n)
    elif isinstance(reference, str | Path):
        reference = run.domain.reference(str(reference), n=n)
    return evaluate(run.domain, res.samples, reference, out=out, **run.config.eval.options)


def likelihood(
    run: str | Path | LoadedRun,
    data: Any = None,
    n: int | None = None,
    out: str | Path | None = None,
    checkpoint: str = "latest",
    device: str = "auto",
    weights: str = "ema",
    **options: Any,
) -> dict[str, float]:
    """Log-likelihood of data under a diffusion run by its probability-flow ODE
    (:mod:`multigen.likelihood`): ``data`` None = the run's own test split, else a dataset
    spec or path the domain's ``reference`` reads (``eight_gaussians:test``, ``digits:test``,
    a folder); ``n`` the first n items. ``options`` are the fields of
    :class:`multigen.likelihood.LikelihoodOptions`: ``probes`` Hutchinson probes (``probe``:
    rademacher or gaussian) or ``exact`` trace; ``steps`` RK4 steps in log σ from
    ``sigma_min`` (default the run's lowest trained σ) to its σ_max; ``seed``,
    ``batch_size``. Returns nll (nats per item, data units), nll_per_dim, bits_per_dim
    (8-bit images: per level after uniform dequantisation) with standard errors, nfe and the
    settings; ``out`` writes them as JSON."""
    from multigen import likelihood as lk

    settings = lk.LikelihoodOptions.of(options)
    label = str(run.checkpoint if isinstance(run, LoadedRun) else run)
    if not isinstance(run, LoadedRun):
        run = load_run(run, checkpoint, device, weights)
    summary = lk.likelihood_of_run(run, data, n, settings, label)
    if out is not None:
        atomic_write_text(out, json.dumps(summary, indent=2))
    return summary


def pretrained_list() -> list[dict[str, Any]]:
    """One row per shipped zoo model: name, domain, method, its headline metric beside the
    data floor, the weights' dtype and the entry's size (files are not hash-checked here)."""
    from multigen.zoo import store

    rows = []
    for name in store.names():
        folder = store.ZOO_DIR / name
        card = json.loads((folder / "card.json").read_text(encoding="utf-8"))
        ev = card["evaluation"]
        key = ev["headline"]
        rows.append(
            {
                "name": name,
                "domain": card["domain"],
                "method": card["method"],
                "metric": key,
                "value": ev["metrics"][key],
                "floor": ev["floor"].get(key),
                "n": ev["n"],
                "dtype": card["weights"]["dtype"],
                "mb": sum(f.stat().st_size for f in folder.iterdir()) / 1e6,
                "title": card["title"],
            }
        )
    return rows


def pretrained_show(name: str) -> tuple[dict[str, Any], str]:
    """A zoo model's card (``zoo:NAME``, ``NAME``, ``hf:…`` or an entry folder) as
    ``(card.json, card.md)``, after checking every file of the entry against its manifest."""
    from multigen.zoo import store

    ref = name if store.is_reference(name) or Path(name).is_dir() else f"zoo:{name}"
    folder = store.entry_dir(ref)
    card = store.read_card(folder)
    return card, (folder / "card.md").read_text(encoding="utf-8")


def pretrained_add(run_dir: str | Path, name: str, **options: Any) -> Path:
    """Build a zoo entry from a finished run (see :func:`multigen.zoo.build.add`)."""
    from multigen.zoo.build import add

    return add(run_dir, name, **options)


def list_datasets() -> list[dict[str, Any]]:
    """Every dataset of every registered domain: domain, name, description and flags
    (``default``, ``needs data.path``, ``prepare``)."""
    rows = []
    for name in domain_names():
        dom = get_domain(name)
        for ds in sorted(dom.datasets.values(), key=lambda d: d.name):
            flags = [
                flag
                for flag, on in (
                    ("default", ds.name == dom.default_dataset),
                    ("needs data.path", ds.needs_path),
                    ("prepare", ds.prepare is not None),
                )
                if on
            ]
            rows.append(
                {"domain": name, "name": ds.name, "description": ds.description, "flags": flags}
            )
    return rows


def prepare_dataset(name: str, out: str | Path | None = None, **params: Any) -> Path:
    """Materialise a preparable dataset (``NAME`` or ``DOMAIN/NAME``) on disk; ``params``
    (``n``, ``seed``…) go to datasets that take them. Returns the folder written."""
    domain, _, short = name.rpartition("/")
    found = [
        get_domain(d).datasets[short]
        for d in domain_names()
        if (not domain or d == domain)
        and short in get_domain(d).datasets
        and get_domain(d).datasets[short].prepare
    ]
    if not found:
        raise DomainError(
            f"no preparable dataset named {name!r}; see `multigen data list` (marked prepare)"
        )
    return found[0].prepare(None if out is None else Path(out), **params)


def demo_config(domain: str, fast: bool) -> Path:
    if domain not in domain_names():  # a name, never a path out of configs/
        raise DomainError(f"unknown domain {domain!r}; choose one of: {', '.join(domain_names())}")
    path = CONFIG_DIR / domain / ("demo_fast.yaml" if fast else "demo.yaml")
    if not path.is_file():
        raise DomainError(f"domain {domain!r} has no demo config ({path})")
    return path


def demo(
    domains: list[str] | None = None,
    out: str | Path = "demo_out",
    fast: bool = False,
    train_all: bool = False,
) -> dict[str, dict[str, float]]:
    """Sample and score every pretrained (zoo) model and train one toy model end to end
    (``multigen.zoo.demo``); with ``train_all``, train, sample and evaluate each domain on its
    embedded data instead (``multigen.train_all``). Writes ``out/report.md``."""
    for name in domains or ():
        demo_config(name, fast)  # a registered domain with a demo, never a path
    if train_all:
        from multigen import train_all as everything

        return everything.run(out, domains, fast)
    from multigen.zoo import demo as zoo_demo

    return zoo_demo.run(out, domains, fast)

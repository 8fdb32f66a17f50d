"""Benchmark suites (configs/bench/<name>.yaml): which domains, which base config per
training method, the training budget, the NFE list and the sample count.

A suite names each domain's base configs explicitly where it wants control (tiny networks for
``smoke``); registered domains it does not list are discovered from ``configs/<domain>/`` so
the matrix grows by itself as domains land.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from multigen.config import CONFIG_DIR, ConfigError, RunConfig, config_path, load_config
from multigen.domain import DomainError
from multigen.fileio import plain_name

from .protocols import protocol_names
from .variants import BENCH_METHODS, BUILTIN, FEW_STEP, Variant, make_variant

SUITE_DIR = CONFIG_DIR / "bench"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Quality(_Section):
    """The metric the plots use for a domain and which direction is better."""

    metric: str
    better: Literal["lower", "higher"] = "lower"


class MethodEntry(_Section):
    config: str = Field(
        description="base run config: a path, or configs/<domain>/<name>.yaml for a shipped one"
    )
    set: list[str] = Field(default_factory=list, description="KEY=VALUE overrides")
    method: dict[str, Any] | None = Field(
        None, description="replaces the config's whole method section (e.g. {name: edm})"
    )
    train_steps: int | None = Field(
        None, ge=1, description="this method's budget (default: the domain's train_steps)"
    )


class DomainEntry(_Section):
    domain: str | None = Field(
        None, description="registered domain when the entry key is an alias (audio_speech)"
    )
    prepare: list[str] = Field(
        default_factory=list, description="datasets to materialise first (data prepare NAME)"
    )
    methods: dict[str, MethodEntry] = Field(default_factory=dict)
    set: list[str] = Field(default_factory=list, description="overrides for every method")
    reference: str | None = Field(None, description="eval reference; None = the test split")
    train_steps: int | None = Field(None, ge=1)
    nfe: list[int] | None = None
    n_samples: int | None = Field(None, ge=2)
    gallery: int | None = Field(None, ge=0)
    requires: list[str] = Field(default_factory=list, description="external programs")
    quality: Quality | None = None
    eval_options: dict[str, Any] = Field(default_factory=dict)


class SuiteFile(_Section):
    name: str
    description: str = ""
    seed: int = 0
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = Field(
        None, ge=1, description="torch intra-op threads (None = torch's default)"
    )
    train_steps: int = Field(ge=1)
    nfe: list[int]
    n_samples: int = Field(ge=2)
    gallery: int = Field(8, ge=0)
    variants: list[str] = Field(default_factory=lambda: list(BUILTIN))
    extra_variants: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="more (training method, sampler, options) pairs; run besides `variants`",
    )
    set: list[str] = Field(default_factory=list, description="overrides for every config")
    auto_domains: bool = Field(True, description="add registered domains the suite omits")
    discover: str = Field("*.yaml", description="glob for discovered configs")
    domains: dict[str, DomainEntry] = Field(default_factory=dict)


@dataclass
class TrainJob:
    """One (domain, training method): trained once, sampled by every variant/NFE."""

    domain: str
    method: str
    config: Path | None
    overrides: list[str]
    method_section: dict[str, Any] | None = None
    error: str | None = None  # a config that could not be found
    train_steps: int | None = None  # None: the domain plan's budget

    @property
    def key(self) -> str:
        return f"{self.domain}/{self.method}"

    def load(self, extra: list[str] = ()) -> RunConfig:
        if self.config is None:
            raise DomainError(self.error or f"no config for {self.key}")
        try:
            raw = yaml.safe_load(self.config.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ConfigError(f"{self.config}: {exc}") from None
        if self.method_section is not None:
            raw["method"] = dict(self.method_section)
        try:
            return load_config(raw, [*self.overrides, *extra])
        except ConfigError as exc:
            raise ConfigError(f"{self.config} (+ suite overrides): {exc}") from None


@dataclass
class DomainPlan:
    name: str  # the suite's entry key (cell ids use it)
    domain: str  # the registered domain
    jobs: dict[str, TrainJob]
    train_steps: int
    nfe: list[int]
    n_samples: int
    gallery: int
    reference: str | None
    requires: list[str]
    quality: Quality | None
    eval_options: dict[str, Any] = field(default_factory=dict)
    prepare: list[str] = field(default_factory=list)

    def steps_for(self, job: TrainJob) -> int:
        return job.train_steps or self.train_steps

    def scale(self, factor: float) -> None:
        """Multiply every training budget of this domain (``--scale``)."""
        self.train_steps = max(1, round(self.train_steps * factor))
        for job in self.jobs.values():
            if job.train_steps:
                job.train_steps = max(1, round(job.train_steps * factor))


@dataclass
class Suite:
    name: str
    description: str
    seed: int
    device: str
    threads: int | None
    variants: dict[str, Variant]
    domains: dict[str, DomainPlan]
    source: Path
    overrides: list[str] = field(default_factory=list)  # the command line's --set, recorded

    def override(self, assignments: list[str]) -> None:
        """Apply ``--set KEY=VALUE`` to every training config of the suite (after its own)."""
        self.overrides = [*self.overrides, *assignments]
        for plan in self.domains.values():
            for job in plan.jobs.values():
                job.overrides = [*job.overrides, *assignments]

    def cells(self) -> list[tuple[str, Variant, int]]:
        """(domain, variant, nfe) in run order: grouped by training job."""
        out = []
        for dname, plan in self.domains.items():
            for method in BENCH_METHODS:
                for v in self.variants.values():
                    if v.train != method or method not in plan.jobs:
                        continue
                    out += [(dname, v, nfe) for nfe in v.budgets(plan.nfe)]
        return out


ANCHORS_FILE = SUITE_DIR / "anchors.yaml"  # published numbers beside the tables, not a suite


def available_suites() -> list[str]:
    return sorted(p.stem for p in SUITE_DIR.glob("*.yaml") if p != ANCHORS_FILE)


def suite_path(name: str) -> Path:
    p = Path(name)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        return p
    candidate = SUITE_DIR / f"{plain_name(name, 'benchmark suite')}.yaml"
    if not candidate.is_file():
        raise DomainError(
            f"unknown benchmark suite {name!r}; choose one of: {', '.join(available_suites())} "
            f"(or give a path to a suite YAML file); protocol benchmarks: "
            f"{', '.join(protocol_names()) or 'none installed'}"
        )
    return candidate


def discover_configs(domain: str, pattern: str = "*.yaml") -> dict[str, TrainJob]:
    """Base configs per training method found in configs/<domain>/ (demos and, unless the
    pattern asks for them, GPU configs excluded). Methods are compared on one data set: the
    one with configs for the most methods. A diffusion method without its own config reuses
    another diffusion config of that data set with the method section replaced."""
    folder = CONFIG_DIR / domain
    by_data: dict[str, dict[str, Path]] = {}
    for path in sorted(folder.glob("*.yaml")):
        if not fnmatch.fnmatch(path.name, pattern) or path.stem.startswith("demo"):
            continue
        if pattern == "*.yaml" and path.stem.endswith("_gpu"):
            continue
        try:
            raw = yaml.safe_load(path.read_text()) or {}
            method = (raw.get("method") or {}).get("name")
            data = str((raw.get("data") or {}).get("name"))
        except (OSError, yaml.YAMLError, AttributeError):
            continue
        if method in BENCH_METHODS and not (raw.get("method") or {}).get("teacher"):
            by_data.setdefault(data, {}).setdefault(method, path)  # distillation: not alone
    found = max(by_data.values(), key=len) if by_data else {}
    jobs = {m: TrainJob(domain, m, p, []) for m, p in found.items()}
    donor = next((found[m] for m in ("edm", "ddpm", "flow") if m in found), None)
    for m in BENCH_METHODS:
        if m in jobs:
            continue
        if m not in ("gan", *FEW_STEP) and donor is not None:
            jobs[m] = TrainJob(domain, m, donor, [], {"name": m})
        else:
            jobs[m] = TrainJob(
                domain,
                m,
                None,
                [],
                error=f"no {m} config in configs/{domain}/ matching {pattern!r}",
            )
    return jobs


def load_suite(name: str, registered: list[str], domains: list[str] | None = None) -> Suite:
    """Read and validate a suite; ``domains`` restricts it (unknown names list valid ones)."""
    path = suite_path(name)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
        spec = SuiteFile.model_validate(raw)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    except ValidationError as exc:
        lines = [f"{path}: {'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()]
        raise ConfigError("\n".join(lines)) from None
    variants = dict(BUILTIN)
    for vname, vspec in spec.extra_variants.items():
        try:
            variants[vname] = make_variant(vname, vspec)
        except ValueError as exc:
            raise ConfigError(f"{path}: {exc}") from None
    unknown = [v for v in spec.variants if v not in variants]
    if unknown:
        raise ConfigError(
            f"{path}: unknown variant(s) {unknown}; choose from: {', '.join(variants)}"
        )
    chosen = {v: variants[v] for v in [*spec.variants, *spec.extra_variants]}
    names = list(spec.domains)
    if spec.auto_domains:
        names += [d for d in registered if d not in spec.domains]
    valid = sorted(set(names) | set(registered))
    if domains:
        bad = [d for d in domains if d not in valid]
        if bad:
            raise DomainError(f"unknown domain(s) {bad}; choose from: {', '.join(valid)}")
        names = [d for d in domains]
    plans = {}
    for d in names:
        entry = spec.domains.get(d, DomainEntry())
        plans[d] = _plan(d, entry, spec)
    return Suite(
        spec.name, spec.description, spec.seed, spec.device, spec.threads, chosen, plans, path
    )


def _plan(domain: str, entry: DomainEntry, spec: SuiteFile) -> DomainPlan:
    registered = entry.domain or domain
    jobs = discover_configs(registered, spec.discover)
    for job in jobs.values():
        job.domain = domain
    for m, me in entry.methods.items():
        if m not in BENCH_METHODS:
            raise ConfigError(
                f"suite {spec.name}: domain {domain}: unknown training method {m!r}; "
                f"choose from: {', '.join(BENCH_METHODS)}"
            )
        jobs[m] = TrainJob(domain, m, config_path(me.config), [], me.method, None, me.train_steps)
        if not jobs[m].config.is_file():
            jobs[m] = TrainJob(domain, m, None, [], error=f"config not found: {me.config}")
    for m, job in jobs.items():
        own = entry.methods[m].set if m in entry.methods else []
        job.overrides = [*spec.set, *entry.set, *own]
    return DomainPlan(
        name=domain,
        domain=registered,
        prepare=list(entry.prepare),
        jobs=jobs,
        train_steps=entry.train_steps or spec.train_steps,
        nfe=list(entry.nfe or spec.nfe),
        n_samples=entry.n_samples or spec.n_samples,
        gallery=spec.gallery if entry.gallery is None else entry.gallery,
        reference=entry.reference,
        requires=list(entry.requires),
        quality=entry.quality,
        eval_options=dict(entry.eval_options),
    )


def filter_variants(suite: Suite, methods: list[str] | None) -> None:
    """Keep only the named variants (or training methods); unknown names list valid ones."""
    if not methods:
        return
    known = set(suite.variants) | set(BENCH_METHODS)
    bad = [m for m in methods if m not in known]
    if bad:
        raise DomainError(
            f"unknown method(s) {bad}; choose variants from: {', '.join(suite.variants)} "
            f"(or training methods: {', '.join(BENCH_METHODS)})"
        )
    suite.variants = {k: v for k, v in suite.variants.items() if k in methods or v.train in methods}

"""Log-likelihood of data under a trained diffusion run (``multigen likelihood``).

The probability-flow ODE (:mod:`multigen.diffusion.likelihood`) gives log p of the network-scale
state; the domain's :class:`~multigen.domain.DensityUnits` turns it into the data's units
(toy: per data unit², images: per 8-bit level after uniform dequantisation, so bits/dim are
the usual figure). Any denoiser over σ has the ODE, so EDM, DDPM, flow and score-SDE runs all
work; GANs, consistency models and joint (categorical) flows have no such ODE and are refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any

import torch
from torch import nn

from multigen.diffusion import likelihood as L
from multigen.diffusion.processes import ConsistencyProcess
from multigen.domain import Batch, DataInfo, Domain, DomainError
from multigen.methods import DiffusionFamily, Method
from multigen.options import refuse_unknown
from multigen.randomness import sample_generators

DEQUANTIZE_SEED_OFFSET = 0xDE0  # the dequantisation noise of sample i uses its own stream


def check_method(method: Method, label: str) -> None:
    """A run whose model is a denoiser over σ (so it has a probability-flow ODE)."""
    name = method.config.name
    if not isinstance(method, DiffusionFamily) or isinstance(method.process, ConsistencyProcess):
        raise DomainError(
            f"likelihood needs a diffusion or flow-matching run (a denoiser over σ, whose "
            f"probability-flow ODE gives the density); {label} is method {name!r}"
        )


def density_units(domain: Domain, info: DataInfo, label: str):
    units = domain.density_units(info)
    if units is None:
        from multigen.registry import domain_names, get_domain

        able = [d for d in domain_names() if _states_units(get_domain, d)]
        raise DomainError(
            f"domain {domain.name!r} ({label}) does not say how its states map to data units, "
            f"so no likelihood is reported for it; domains that do: {', '.join(able)}"
        )
    return units


def _states_units(get_domain, name: str) -> bool:
    try:  # a third-party domain that fails to load is simply not listed
        return type(get_domain(name)).density_units is not Domain.density_units
    except Exception:
        return False


@dataclass(frozen=True)
class LikelihoodOptions:
    """How the ODE is integrated and its divergence estimated; declared once here, read by
    ``api.likelihood`` (as keywords) and the ``likelihood`` command (as flags)."""

    probes: int = 1  # Hutchinson probes per sample
    exact: bool = False  # exact trace: one backward pass per dimension
    probe: str = "rademacher"  # or "gaussian"
    steps: int = 64  # RK4 steps in log σ
    sigma_min: float | None = None  # default: the run's lowest trained σ
    seed: int = 0  # the first sample's probe/dequantisation stream
    batch_size: int = 500

    def __post_init__(self) -> None:
        for key in ("probes", "steps", "batch_size"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise DomainError(f"likelihood {key} must be an integer >= 1, got {value!r}")
        if self.probe not in L.PROBES:
            choices = ", ".join(L.PROBES)
            raise DomainError(f"unknown probe {self.probe!r}; choose one of: {choices}")

    @classmethod
    def of(cls, options: dict[str, Any]) -> LikelihoodOptions:
        refuse_unknown("likelihood option", options, cls.names())
        return cls(**options)

    @classmethod
    def names(cls) -> list[str]:
        return [f.name for f in fields(cls)]


def run_likelihood(
    method: Method,
    models: dict[str, nn.Module],
    domain: Domain,
    info: DataInfo,
    batch: Batch,
    label: str,
    options: LikelihoodOptions = LikelihoodOptions(),
    device: torch.device | str = "cpu",
) -> dict[str, Any]:
    """Per-sample log-densities of ``batch`` (network-scale states) and their summary."""
    check_method(method, label)
    units = density_units(domain, info, label)
    if batch.mask is not None:
        raise DomainError(f"likelihood needs fixed-size states; {label} has masked (set) data")
    lo, hi = method.process.sigma_range()
    s_min = lo if options.sigma_min is None else float(options.sigma_min)
    if not 0 < s_min < hi:
        raise DomainError(f"sigma_min must be in (0, {hi:g}) (the run's σ_max), got {s_min}")
    prior = method.process.initial_scale(hi)
    model = models["model"].eval()
    for p in model.parameters():
        p.requires_grad_(False)
    conditional = info.conditional
    dim = batch.x[0].numel()
    logp_state, nfe = [], 0
    for start in range(0, len(batch), options.batch_size):
        part = batch.select(slice(start, start + options.batch_size))
        seeds = range(options.seed + start, options.seed + start + len(part))
        x = part.x.to(device).double()
        if units.bin_width is not None:
            deq = sample_generators([s + DEQUANTIZE_SEED_OFFSET for s in seeds])
            x = L.dequantize(x.cpu(), units.bin_width, deq).to(device)
        cond = part.cond.to(device) if (conditional and part.cond is not None) else None

        def denoise(xs: torch.Tensor, sigma: torch.Tensor, cond=cond) -> torch.Tensor:
            return model(xs.float(), sigma.float(), cond, None).double()

        res = L.ode_log_likelihood(
            denoise,
            x,
            s_min,
            hi,
            prior,
            sample_generators(list(seeds)),
            steps=options.steps,
            trace="exact" if options.exact else "hutchinson",
            probes=options.probes,
            probe=options.probe,
        )
        logp_state.append(res.log_prob.cpu())
        nfe = res.nfe
    lp_state = torch.cat(logp_state)
    lp = lp_state + dim * units.log_scale
    nll = -lp
    n = lp.shape[0]
    se = float(nll.std() / math.sqrt(n)) if n > 1 else float("nan")
    bpd = nll / (dim * math.log(2))
    return {
        "log_prob": lp,
        "summary": {
            "n": float(n),
            "dim": float(dim),
            "nll": float(nll.mean()),
            "nll_se": se,
            "nll_per_dim": float(nll.mean()) / dim,
            "bits_per_dim": float(bpd.mean()),
            "bits_per_dim_se": se / (dim * math.log(2)),
            "nll_state": float(-lp_state.mean()),
            "nfe": float(nfe),
            "backward_per_nfe": float(dim if options.exact else options.probes),
            "steps": float(options.steps),
            "sigma_min": s_min,
            "sigma_max": hi,
            "prior_std": prior,
            "dequantized": float(units.bin_width is not None),
            "conditional": float(conditional and batch.cond is not None),
        },
        "units": units,
    }


def likelihood_of_run(
    run: Any, data: Any, n: int | None, options: LikelihoodOptions, label: str
) -> dict[str, Any]:
    """The summary for a loaded run (:class:`multigen.api.LoadedRun`): ``data`` None = its
    own test split, else a dataset spec or path its domain's ``reference`` reads."""
    check_method(run.method, label)  # refuse before any data is read
    density_units(run.domain, run.info, label)
    if n is not None and (not isinstance(n, int) or isinstance(n, bool) or n < 1):
        raise DomainError(f"likelihood n must be an integer >= 1, got {n!r}")
    if data is None:
        d = run.config.data
        ds = run.domain.load_dataset(d.name, d.path, "test", **d.params)
        if len(ds) == 0:
            raise DomainError(f"dataset {d.name!r} has an empty test split; pass data")
        count = len(ds) if n is None else min(n, len(ds))
        batch = run.domain.collate([ds[i] for i in range(count)])
    else:
        batch = run.domain.encode(run.domain.reference(str(data), n=n), run.info)
        batch = batch if n is None else batch.select(slice(0, n))
    args = (run.method, run.models, run.domain, run.info, batch, label, options, run.device)
    try:
        return run_likelihood(*args)["summary"]
    except ValueError as exc:
        if isinstance(exc, DomainError):
            raise
        raise DomainError(f"likelihood: {exc}") from None

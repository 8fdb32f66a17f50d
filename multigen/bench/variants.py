"""Method variants: a training method paired with a sampler.

One trained model serves several variants (a DDPM-trained network is sampled both
ancestrally and with DDIM; an EDM-trained one with Heun and DPM-Solver++), so the benchmark
trains each (domain, training method) once and samples it per variant and NFE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from multigen.diffusion.samplers import SAMPLERS, get_sampler
from multigen.methods import METHODS

# The few-step generators are compared beside the diffusion families and the GAN: the
# diffusion-GAN hybrid at the steps it was trained for, consistency models (trained from
# scratch) at 1 and 2 steps. Only domains with a config for them get their cells.
FEW_STEP = ("ddgan", "consistency")
BENCH_METHODS = (*METHODS, *FEW_STEP)
OWN_STEPS = ("gan", "ddgan")  # sampled with the steps they were trained for, whatever the NFE


@dataclass(frozen=True)
class Variant:
    name: str
    train: str  # training method: one of BENCH_METHODS
    sampler: str | None  # None: the method's own (GAN: one generator call; DDGAN: T steps)
    options: dict[str, Any] = field(default_factory=dict)  # extra sample options (eta, churn)
    nfes: tuple[int, ...] | None = None  # its own NFE budgets instead of the domain's

    @property
    def one_shot(self) -> bool:
        """One cell whatever the NFE budgets: a GAN's one generator call, a DDGAN's chain of
        the T steps it was trained for."""
        return self.train in OWN_STEPS

    def budgets(self, domain_nfe: list[int]) -> list[int]:
        return [1] if self.one_shot else sorted(set(self.nfes or domain_nfe))

    def steps(self, nfe: int) -> int | None:
        if self.train == "ddgan":
            return None  # the run's own sample.steps (= method.timesteps)
        if self.train == "consistency":
            return nfe  # one network call per step
        return 1 if self.one_shot else get_sampler(self.sampler).steps_for_nfe(nfe)

    def describe(self) -> str:
        if self.train == "gan":
            return f"{self.train} (generator, 1 NFE)"
        if self.train == "ddgan":
            return "ddgan (generator chain, its T steps)"
        extra = ", ".join(f"{k}={v}" for k, v in self.options.items())
        return f"{self.train} + {self.sampler}" + (f" ({extra})" if extra else "")


BUILTIN: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("ddpm_ancestral", "ddpm", "ddpm"),
        Variant("ddim", "ddpm", "ddim", {"eta": 0.0}),
        Variant("edm_heun", "edm", "heun", {"churn": 0.0}),
        Variant("dpmpp", "edm", "dpmpp_2m"),
        Variant("flow", "flow", "euler"),
        Variant("gan", "gan", None),
        Variant("ddgan", "ddgan", None),
        Variant("consistency", "consistency", "consistency", nfes=(1, 2)),
    )
}


def make_variant(name: str, spec: dict[str, Any]) -> Variant:
    """A suite-defined variant: ``{train: flow, sampler: heun, options: {...}}``."""
    train = spec.get("train")
    sampler = spec.get("sampler")
    if train not in BENCH_METHODS:
        raise ValueError(f"variant {name!r}: train must be one of {', '.join(BENCH_METHODS)}")
    if train == "consistency" and sampler != "consistency":
        raise ValueError(f"variant {name!r}: a consistency model samples with 'consistency'")
    if train not in (*OWN_STEPS, "consistency") and sampler not in SAMPLERS:
        raise ValueError(f"variant {name!r}: sampler must be one of {', '.join(SAMPLERS)}")
    unknown = set(spec) - {"train", "sampler", "options"}
    if unknown:
        raise ValueError(f"variant {name!r}: unknown keys {sorted(unknown)}")
    return Variant(
        name, train, None if train in OWN_STEPS else sampler, dict(spec.get("options", {}))
    )

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


@dataclass(frozen=True)
class Variant:
    name: str
    train: str  # training method: ddpm | edm | flow | gan
    sampler: str | None  # None: the method's own (GAN: one generator call)
    options: dict[str, Any] = field(default_factory=dict)  # extra sample options (eta, churn)

    @property
    def one_shot(self) -> bool:
        """GANs spend one network call whatever the NFE budget."""
        return self.train == "gan"

    def steps(self, nfe: int) -> int:
        return 1 if self.one_shot else get_sampler(self.sampler).steps_for_nfe(nfe)

    def describe(self) -> str:
        if self.one_shot:
            return f"{self.train} (generator, 1 NFE)"
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
    )
}


def make_variant(name: str, spec: dict[str, Any]) -> Variant:
    """A suite-defined variant: ``{train: flow, sampler: heun, options: {...}}``."""
    train = spec.get("train")
    sampler = spec.get("sampler")
    if train not in METHODS:
        raise ValueError(f"variant {name!r}: train must be one of {', '.join(METHODS)}")
    if train != "gan" and sampler not in SAMPLERS:
        raise ValueError(f"variant {name!r}: sampler must be one of {', '.join(SAMPLERS)}")
    unknown = set(spec) - {"train", "sampler", "options"}
    if unknown:
        raise ValueError(f"variant {name!r}: unknown keys {sorted(unknown)}")
    return Variant(name, train, None if train == "gan" else sampler, dict(spec.get("options", {})))

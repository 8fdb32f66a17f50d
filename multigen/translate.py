"""Translate a user's source files with a paired (image-to-image) run: ``multigen translate``.

The engine knows no images: the run's domain reads the sources as conditions
(``Domain.load_sources``) and writes one output per source (``Domain.export_named``); the
run's method samples as it always does, the sources travelling as ``Batch.cond``. So a GAN
(pix2pix) and a diffusion/flow run (SR3-style) translate through the same call.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from multigen.config import SampleConfig
from multigen.domain import Batch, DomainError
from multigen.generate import generate
from multigen.precision import resolve_precision


@dataclass
class TranslateResult:
    samples: Any  # the domain's objects (images: uint8 [N, C, H, W])
    names: list[str]  # one per source, in order
    files: list[Path]
    batch: Batch  # network-scale states
    seconds: float
    nfe: int
    scores: dict[str, float] | None = None  # against the paired targets, when given


def translate(
    run_dir: Any,
    input: str | Path,  # noqa: A002 - the CLI's name for it
    out: str | Path | None = None,
    checkpoint: str = "latest",
    device: str = "auto",
    weights: str = "ema",
    targets: str | Path | None = None,
    direction: str = "ab",
    **options: Any,
) -> TranslateResult:
    """Translate every source under ``input`` (images: a folder of PNG/JPEG, one image or a
    .npz) with the paired run ``run_dir`` (a folder or a loaded run) and, when ``out`` is
    given, write one file per source there under the source's name. ``options``: sampling
    options (``sampler``, ``steps``, ``schedule``, ``guidance``, ``seed``, ``batch_size``…);
    the number of outputs is the number of sources. ``targets``: a folder holding each
    source's paired target under the source's name; the result then carries the domain's
    paired scores (images: PSNR, SSIM). ``direction`` ``ba``: an unpaired (cyclegan) run
    translates B -> A instead (its inputs are then B images)."""
    from multigen import api
    from multigen.methods import nfe

    if "n" in options and options["n"] is not None:
        raise DomainError("translate makes one output per source image; it takes no n")
    run = (
        run_dir
        if isinstance(run_dir, api.LoadedRun)
        else api.load_run(run_dir, checkpoint, device, weights)
    )
    if direction not in ("ab", "ba"):
        raise DomainError(f"direction must be ab or ba, got {direction!r}")
    if direction == "ba":
        reverse = getattr(run.method, "reversed_run", None)
        if reverse is None:
            raise DomainError(
                f"--direction ba: method {run.config.method.name!r} translates one way only; "
                "cyclegan runs translate B -> A"
            )
        run = reverse(run)
    if not run.config.data.conditional:
        raise DomainError(
            f"{run.checkpoint}: this run was trained without conditions (data.conditional: "
            "false), so it does not translate"
        )
    cond, names = run.domain.load_sources(Path(input), run.info)
    if targets is not None and not Path(targets).is_dir():
        raise DomainError(f"targets folder not found: {targets}")
    given = {k: v for k, v in options.items() if v is not None}
    unknown = sorted(set(given) - set(SampleConfig.model_fields))
    if unknown:
        raise DomainError(
            f"unknown translate option(s) {unknown}; allowed: "
            f"{', '.join(k for k in SampleConfig.model_fields if k != 'n')}"
        )
    sample_options = api.sample_options(run, given | {"n": len(names)}, "translate")
    native = resolve_precision(run.config.train.precision, run.device)[0] == "bf16"
    start = time.perf_counter()
    batch = generate(
        run.method,
        run.models,
        run.domain,
        run.info,
        len(names),
        sample_options,
        run.device,
        run.precision if native else "fp32",
        cond=cond,
    )
    seconds = time.perf_counter() - start
    samples = run.domain.decode(batch, run.info)
    files: list[Path] = []
    if out is not None:
        files = run.domain.export_named(samples, names, Path(out))
    scores = None if targets is None else run.domain.score_pairs(samples, names, Path(targets))
    steps = nfe(
        run.method,
        sample_options.sampler,
        sample_options.steps,
        corrector_steps=sample_options.corrector_steps,
    )
    return TranslateResult(samples, names, files, batch, seconds, steps, scores)

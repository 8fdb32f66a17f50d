"""The ``multigen`` command line. Every command maps onto a function in :mod:`multigen.api`.

User errors (bad config, missing folder, corrupt file, wrong checkpoint) print one line
and exit with status 2; ``--debug`` shows the traceback instead.

Why one file of ~430 lines: each command's flags are declared beside the few lines that pass
them to :mod:`multigen.api`, so a flag and its use are read together; nothing else is here.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
import traceback
from pathlib import Path

from multigen.config import ConfigError
from multigen.domain import DomainError, options_spelled
from multigen.fileio import atomic_write_text
from multigen.train.checkpoint import CheckpointError

USER_ERRORS = (DomainError, ConfigError, CheckpointError, FileNotFoundError)
DISK_FULL = (errno.ENOSPC, errno.EDQUOT)  # the machine's state, not a bug: one line too


def _print_table(title: str, rows: dict[str, float]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for k, v in rows.items():
        table.add_row(k, f"{v:.6g}" if isinstance(v, float) else str(v))
    Console().print(table)


def cmd_info(args: argparse.Namespace) -> None:
    import platform

    import torch

    from multigen import __version__
    from multigen.diffusion.samplers import SAMPLERS
    from multigen.methods import METHODS
    from multigen.registry import domain_names, get_domain

    print(f"multigen {__version__}  python {platform.python_version()}  torch {torch.__version__}")
    cuda = torch.cuda.is_available()
    device = torch.cuda.get_device_name(0) if cuda else "cpu"
    print(f"device: {device} (cuda {'available' if cuda else 'not available'})")
    joint = ", joint_flow (categorical parts: molecules with bonds)"
    few = ", consistency (distill|train: 1-2 NFE)"
    unpaired = ", cyclegan (unpaired image translation)"
    hybrid = ", ddgan (diffusion GAN: 1-8 NFE), autoencoder (a codec for latent runs)"
    print(f"methods: {', '.join(METHODS)}{joint}{few}{unpaired}{hybrid}")
    print(f"samplers: {', '.join(SAMPLERS)} (GAN: generator; consistency: consistency)")
    for name in domain_names():
        try:
            dom = get_domain(name)
            nets = ", ".join(f"{n} ({s.role})" for n, s in sorted(dom.networks.items()))
            print(f"domain {name}: datasets {', '.join(sorted(dom.datasets))}; networks {nets}")
        except Exception as exc:  # a broken third-party domain should not hide the others
            print(f"domain {name}: failed to load ({exc})")


def cmd_train(args: argparse.Namespace) -> None:
    from multigen import api

    overrides = list(args.set or [])
    if args.device:
        overrides.append(f"train.device={args.device}")
    run = api.train(args.config, out=args.out, overrides=overrides, resume=args.resume)
    metrics_path = run / "metrics.json"
    if metrics_path.is_file():
        _print_table(f"metrics ({run})", json.loads(metrics_path.read_text()))
    print(f"run folder: {run}")


def cmd_sample(args: argparse.Namespace) -> None:
    from multigen import api
    from multigen.config import SampleConfig

    out = args.out or Path(args.run) / "samples_cli"
    options = {k: getattr(args, k) for k in SampleConfig.model_fields}
    res = api.sample(
        args.run,
        out=out,
        cond=args.cond,
        checkpoint=args.checkpoint,
        device=args.device,
        weights=args.weights,
        prompt=args.prompt,
        **options,
    )
    print(f"{len(res.batch)} samples ({res.nfe} NFE) in {res.seconds:.2f} s -> {out}")


def cmd_translate(args: argparse.Namespace) -> None:
    from multigen import api
    from multigen.config import SampleConfig

    if args.input and args.input_flag and args.input != args.input_flag:
        raise DomainError("translate takes the input folder once (INPUT or --input), not both")
    source = args.input or args.input_flag
    if not source:
        raise DomainError("translate needs the folder of source images: INPUT or --input DIR")
    out = args.out or Path(args.run) / "translations"
    options = {k: getattr(args, k) for k in SampleConfig.model_fields}
    res = api.translate(
        args.run,
        source,
        out=out,
        checkpoint=args.checkpoint,
        device=args.device,
        weights=args.weights,
        targets=args.targets,
        direction=args.direction,
        **options,
    )
    print(f"{len(res.names)} translations ({res.nfe} NFE) in {res.seconds:.2f} s -> {out}")
    if res.scores is not None:
        _print_table(f"{out} vs {args.targets}", res.scores)


def cmd_vocode(args: argparse.Namespace) -> None:
    from multigen import api

    out = args.out or Path(args.run) / "vocoded"
    res = api.vocode(args.run, args.input, out=out, checkpoint=args.checkpoint, device=args.device)
    print(f"{len(res.names)} clips vocoded in {res.seconds:.2f} s -> {out}")
    if res.scores:
        _print_table(f"{out} vs {args.input}", res.scores)


def cmd_evaluate(args: argparse.Namespace) -> None:
    from multigen import api
    from multigen.options import parse_key_values

    options = parse_key_values(args.option)
    if args.run:  # sample a run or a zoo model and score it against its own reference
        if args.samples:
            raise DomainError("evaluate takes --run or --samples, not both")
        scores = api.evaluate_run(
            args.run, n=args.n, reference=args.reference, out=args.out, seed=args.seed
        )
        _print_table(f"{args.run}: {args.n or 'eval.n_samples'} samples", scores)
        if args.out:
            print(f"wrote {args.out}")
        return
    if not (args.domain and args.samples and args.reference):
        raise DomainError("evaluate needs --domain, --samples and --reference (or --run RUN)")
    with options_spelled("--option {}"):
        result = api.assess(
            args.domain, args.samples, args.reference, strict=args.strict, **options
        )
    _print_table(f"{args.domain}: {args.samples} vs {args.reference}", result.scores)
    for note in result.notes:
        print(f"warning: {note}")
    if result.skipped:
        print(f"skipped {len(result.skipped)} file(s) (use --strict to make them errors):")
        for s in result.skipped:
            print(f"  {s['set']}: {s['file']}: {s['reason']}")
    if args.out:
        report = {**result.scores, "skipped": result.skipped} if result.skipped else result.scores
        atomic_write_text(args.out, json.dumps(report, indent=2))
        print(f"wrote {args.out}")


def cmd_likelihood(args: argparse.Namespace) -> None:
    from multigen import api
    from multigen.likelihood import LikelihoodOptions

    # flags left out take LikelihoodOptions' defaults (declared once, there)
    given = {key: getattr(args, key) for key in LikelihoodOptions.names()}
    options = {key: value for key, value in given.items() if value is not None}
    scores = api.likelihood(
        args.run,
        data=args.data,
        n=args.n,
        out=args.out,
        checkpoint=args.checkpoint,
        device=args.device,
        weights=args.weights,
        **options,
    )
    _print_table(f"likelihood: {args.run} ({args.data or 'its test split'})", scores)
    if args.out:
        print(f"wrote {args.out}")


def cmd_pretrained(args: argparse.Namespace) -> None:
    from multigen import api

    if args.action == "list":
        rows = api.pretrained_list()
        if not rows:
            print("no pretrained models shipped")
        for r in rows:
            floor = "–" if r["floor"] is None else f"{r['floor']:.4g}"
            print(
                f"zoo:{r['name']:<16} {r['domain']:<10} {r['method']:<5} "
                f"{r['metric']} {r['value']:.4g} (data floor {floor}, n={r['n']}) "
                f"{r['dtype']} {r['mb']:.2f} MB — {r['title']}"
            )
        return
    if not args.target:
        what = "NAME" if args.action == "show" else "RUN_DIR"
        raise DomainError(f"pretrained {args.action} needs {what} (see `multigen pretrained -h`)")
    if args.action == "show":
        print(api.pretrained_show(args.target)[1], end="")
        return
    if not args.name:
        raise DomainError("pretrained add RUN_DIR needs --name NAME (the zoo model's name)")
    options = {
        k: getattr(args, k)
        for k in ("title", "summary", "retrain", "headline", "n", "check_n", "dtype", "notes")
        if getattr(args, k) is not None
    }
    if args.anchor:
        label, _, text = args.anchor.partition(":")
        options["anchor"] = {"label": label.strip(), "text": text.strip()}
    if args.zoo_dir:
        options["root"] = Path(args.zoo_dir)
    folder = api.pretrained_add(args.target, args.name, **options)
    print(f"zoo entry written: {folder}")


def cmd_data(args: argparse.Namespace) -> None:
    from multigen import api

    if args.action == "list":
        for ds in api.list_datasets():
            tag = f" [{', '.join(ds['flags'])}]" if ds["flags"] else ""
            print(f"{ds['domain']}/{ds['name']}{tag}: {ds['description']}")
        return
    if not args.name:
        raise DomainError("data prepare needs a dataset NAME (see `multigen data list`)")
    params = {k: v for k, v in (("n", args.n), ("seed", args.seed)) if v is not None}
    written = api.prepare_dataset(args.name, args.out, **params)
    print(f"prepared {args.name} -> {written}")


def cmd_demo(args: argparse.Namespace) -> None:
    from multigen import api

    domains = [args.domain] if args.domain else None
    results = api.demo(domains, out=args.out, fast=args.fast, train_all=args.train_all)
    if args.train_all:  # the zoo demo printed its progress and scores as it went
        for name, metrics in results.items():
            _print_table(f"demo: {name}", metrics)
    html = Path(args.out) / "report.html"
    print(f"report: {Path(args.out) / 'report.md'}" + (f" and {html}" if html.is_file() else ""))


def _add_options(parser: argparse.ArgumentParser, model: type) -> None:
    """One flag per field of a config section (``--batch-size`` for ``batch_size``), typed
    and described as the field is; unset flags are None (the run's own value stays)."""
    for name, field in model.model_fields.items():
        kinds = [t for t in (field.annotation, *getattr(field.annotation, "__args__", ())) if t]
        kind = next(t for t in kinds if t in (bool, int, float, str))
        flag = "--" + name.replace("_", "-")
        helptext = f"{field.description or name} [default: the run's sample.{name}]"
        if kind is bool:
            parser.add_argument(flag, dest=name, action="store_const", const=True, help=helptext)
        else:
            parser.add_argument(flag, dest=name, type=kind, help=helptext)


def build_parser() -> argparse.ArgumentParser:
    from multigen.config import SampleConfig

    p = argparse.ArgumentParser(prog="multigen", description=__doc__.splitlines()[0])
    p.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    sub = p.add_subparsers(dest="command", required=True)

    sub.add_parser("info", help="versions, device, registered domains/methods/samplers")

    d = sub.add_parser(
        "demo", help="sample and score the pretrained models, train one toy model end to end"
    )
    d.add_argument("--domain", help="one domain (default: all)")
    d.add_argument("--out", default="demo_out")
    d.add_argument("--fast", action="store_true", help="tiny training budgets")
    d.add_argument(
        "--train-all",
        action="store_true",
        help="train, sample and evaluate every domain on its embedded data instead (10-25 min)",
    )

    t = sub.add_parser("train", help="train from a YAML config")
    t.add_argument("config", help="YAML config, or zoo:NAME (retrain a zoo model)")
    t.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    t.add_argument("--out", help="run folder (default runs/<domain>_<config name>)")
    t.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    t.add_argument("--device", choices=["auto", "cpu", "cuda"], help="shortcut for train.device")

    s = sub.add_parser("sample", help="draw samples from a trained run")
    s.add_argument("run", help="run folder, or a pretrained model: zoo:NAME, hf:ORG/NAME")
    _add_options(s, SampleConfig)  # --n, --sampler, --steps, --eta, … (one declaration)
    s.add_argument(
        "--cond", type=int, help="class label (class-conditional runs) or atom count (molecules)"
    )
    s.add_argument(
        "--prompt",
        action="append",
        metavar="TEXT",
        help="caption (runs trained on captioned data); repeat it: sample i gets prompt i mod k",
    )
    s.add_argument("--checkpoint", default="latest", help="latest, best or a checkpoint folder")
    s.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    s.add_argument(
        "--weights",
        default="ema",
        choices=["ema", "raw"],
        help="ema: the averaged weights (default); raw: the optimiser's last weights",
    )
    s.add_argument("--out")

    tr = sub.add_parser(
        "translate", help="translate a folder of source images with a paired (image-to-image) run"
    )
    tr.add_argument("run", help="run folder trained on pairs (e.g. configs/images/digits_sr_*)")
    tr.add_argument("input", nargs="?", help="folder of source images (or --input)")
    tr.add_argument("--input", dest="input_flag", metavar="DIR", help="same as INPUT")
    tr.add_argument("--out", help="output folder (default RUN/translations); OUT/<name>.png")
    tr.add_argument("--targets", metavar="DIR", help="paired targets (same names): PSNR, SSIM")
    tr.add_argument(
        "--direction",
        default="ab",
        choices=["ab", "ba"],
        help="cyclegan runs: ab translates A images to B (default), ba B images to A",
    )
    _add_options(tr, SampleConfig)  # --steps, --sampler, --seed, … (--n is refused)
    tr.add_argument("--checkpoint", default="latest", help="latest, best or a checkpoint folder")
    tr.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    tr.add_argument("--weights", default="ema", choices=["ema", "raw"])

    vc = sub.add_parser(
        "vocode", help="turn mels (.npy) into audio, or resynthesise audio files, with a vocoder"
    )
    vc.add_argument("run", help="vocoder run folder (e.g. configs/audio/embedded_vocoder.yaml)")
    vc.add_argument(
        "input", help="folder of .npy log-mels [n_mels, frames] or of audio files (round trip)"
    )
    vc.add_argument("--out", help="output folder (default RUN/vocoded); OUT/<name>.wav")
    vc.add_argument("--checkpoint", default="latest", help="latest, best or a checkpoint folder")
    vc.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])

    e = sub.add_parser("evaluate", help="score sample files against a reference")
    e.add_argument("--domain")
    e.add_argument("--samples", help="sample files (or a dataset NAME:split as the data row)")
    e.add_argument(
        "--reference", help="dataset NAME[:split] or a path (--run: default its own reference)"
    )
    e.add_argument("--run", help="sample this run or zoo:NAME and score it (instead of --samples)")
    e.add_argument("--n", type=int, help="--run: samples to draw (default its eval.n_samples)")
    e.add_argument("--seed", type=int, default=0, help="--run: first sample seed")
    e.add_argument("--out", help="write the metrics as a flat JSON object")
    e.add_argument("--strict", action="store_true", help="unreadable files are errors")
    e.add_argument("--option", action="append", metavar="KEY=VALUE", help="metric option")

    lk = sub.add_parser(
        "likelihood",
        help="log-likelihood / bits per dim of data under a diffusion run (probability-flow ODE)",
    )
    lk.add_argument("run", help="run folder (a diffusion, flow or score-SDE run) or zoo:NAME")
    lk.add_argument(
        "--data", help="dataset NAME[:split] or a path (default: the run's own test split)"
    )
    lk.add_argument("--n", type=int, help="score the first N items (default: all)")
    lk.add_argument("--probes", type=int, help="Hutchinson probes per sample (default 1)")
    lk.add_argument("--probe", help="rademacher (default) or gaussian probes")
    lk.add_argument(
        "--exact", action="store_true", default=None, help="exact trace (a backward per dim)"
    )
    lk.add_argument("--steps", type=int, help="RK4 steps in log sigma (default 64)")
    lk.add_argument("--sigma-min", type=float, help="lowest σ (default: the run's trained σ_min)")
    lk.add_argument("--seed", type=int, help="first sample's probe/dequantisation seed (0)")
    lk.add_argument("--batch-size", type=int, help="samples per ODE batch (default 500)")
    lk.add_argument("--checkpoint", default="latest", help="latest, best or a checkpoint folder")
    lk.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    lk.add_argument("--weights", default="ema", choices=["ema", "raw"])
    lk.add_argument("--out", help="write the figures as a flat JSON object")

    b = sub.add_parser("benchmark", help="domain × method × NFE matrix with a report")
    from multigen.bench.cli import add_arguments

    add_arguments(b)

    z = sub.add_parser("pretrained", help="the shipped pretrained models (zoo:NAME)")
    z.add_argument("action", choices=["list", "show", "add"])
    z.add_argument(
        "target", nargs="?", help="show: NAME (or hf:ORG/NAME, a folder); add: a finished RUN_DIR"
    )
    z.add_argument("--name", help="add: the new zoo model's name")
    z.add_argument("--zoo-dir", help="add: write the entry here (default: the shipped zoo)")
    z.add_argument("--title")
    z.add_argument("--summary", help="one line for the card")
    z.add_argument("--retrain", help="the command that retrains it (default: from its config)")
    z.add_argument("--headline", help="the metric `pretrained list` shows")
    z.add_argument("--n", type=int, help="samples scored for the card (default eval.n_samples)")
    z.add_argument("--check-n", type=int, help="samples of the card test's check (default 64)")
    z.add_argument(
        "--dtype", choices=["auto", "fp32", "bf16"], help="auto: bf16 if it scores the same"
    )
    z.add_argument("--anchor", help="'LABEL: TEXT' a published anchor, labelled")
    z.add_argument("--notes")

    dt = sub.add_parser("data", help="list or prepare datasets")
    dt.add_argument("action", choices=["list", "prepare"])
    dt.add_argument("name", nargs="?")
    dt.add_argument("--out")
    dt.add_argument("--n", type=int, help="how many items, for datasets that take a size")
    dt.add_argument("--seed", type=int, help="subset/embedding seed, for datasets that take one")
    return p


def cmd_benchmark(args: argparse.Namespace) -> None:
    from multigen.bench.cli import run

    run(args)


COMMANDS = {
    "benchmark": cmd_benchmark,
    "info": cmd_info,
    "train": cmd_train,
    "sample": cmd_sample,
    "translate": cmd_translate,
    "vocode": cmd_vocode,
    "evaluate": cmd_evaluate,
    "likelihood": cmd_likelihood,
    "data": cmd_data,
    "pretrained": cmd_pretrained,
    "demo": cmd_demo,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command](args)
    except USER_ERRORS as exc:
        if args.debug:
            traceback.print_exc()
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        if exc.errno not in DISK_FULL:
            raise
        if args.debug:
            traceback.print_exc()
        print(
            f"error: {exc}; free space and run again (--resume continues training)", file=sys.stderr
        )
        return 2
    except KeyboardInterrupt:
        print("interrupted; the last finished checkpoint is intact", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

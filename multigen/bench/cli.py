"""`multigen benchmark SUITE [--domains ...] [--methods ...] [--out DIR] [--resume] [--dry-run]`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from multigen.domain import DomainError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "suite",
        help="a suite (smoke, cpu, gpu, toy_nfe, ...: configs/bench/NAME.yaml, or a suite file) "
        "or a protocol benchmark (qm9_conditional)",
    )
    parser.add_argument("--domains", nargs="+", metavar="DOMAIN", help="only these domains")
    parser.add_argument(
        "--methods",
        nargs="+",
        metavar="METHOD",
        help="only these variants (ddpm_ancestral ddim edm_heun dpmpp flow gan) or training "
        "methods (ddpm edm flow gan)",
    )
    parser.add_argument("--out", help="output folder (default benchmarks/runs/<suite>)")
    parser.add_argument("--resume", action="store_true", help="skip cells that finished")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="validate configs, build data and networks, one training step; no benchmark",
    )
    parser.add_argument(
        "--device", choices=["auto", "cpu", "cuda"], help="override the suite's device"
    )
    parser.add_argument(
        "--threads", type=int, help="torch CPU threads (1 is fastest on a busy machine)"
    )
    parser.add_argument(
        "--scale",
        type=float,
        help="multiply every training budget (steps) by this factor; recorded in the results",
    )
    parser.add_argument(
        "--publish",
        metavar="DIR",
        help="also copy results/plots/report to DIR/bench_<suite>.{md,json} and DIR/bench_<suite>/",
    )
    parser.add_argument(
        "--report-only", action="store_true", help="rebuild results/plots/report from OUT"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override every training config of the suite (e.g. data.name=qm9 for the "
        "molecule cells); recorded in the results",
    )
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="an option of a protocol benchmark (e.g. steps=500); YAML values",
    )


def run_protocol_benchmark(args: argparse.Namespace) -> None:
    from multigen.options import parse_key_values

    from .protocols import publish_protocol, run_protocol

    # flags that shape a suite's grid mean nothing to a protocol: refuse, never ignore
    suite_only = {"--domains": args.domains, "--methods": args.methods, "--set": args.set,
                  "--scale": args.scale, "--resume": args.resume, "--dry-run": args.dry_run,
                  "--device": args.device, "--report-only": args.report_only}  # fmt: skip
    given = [flag for flag, value in suite_only.items() if value]
    if given:
        raise DomainError(
            f"{args.suite} is a protocol benchmark: {', '.join(given)} apply to suites only; "
            "pass its own settings as --option KEY=VALUE"
        )
    options = parse_key_values(args.option)
    out = Path(args.out or Path("benchmarks") / "runs" / args.suite)
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    result = run_protocol(args.suite, out, options)
    print(f"{result.title}: {len(result.table)} rows -> {out}/results.md")
    if args.publish:
        for path in publish_protocol(out, Path(args.publish), f"bench_{args.suite}"):
            print(f"published {path}")


def run(args: argparse.Namespace) -> None:
    from multigen.registry import domain_names

    from .protocols import is_protocol

    if is_protocol(args.suite):
        return run_protocol_benchmark(args)
    if args.option:
        raise DomainError("--option applies to protocol benchmarks (qm9_conditional), not suites")

    from .dryrun import dry_run
    from .outputs import write_outputs
    from .runner import Runner
    from .suite import filter_variants, load_suite

    suite = load_suite(args.suite, domain_names(), args.domains)
    suite.override(args.set)
    filter_variants(suite, args.methods)
    if args.threads:
        suite.threads = args.threads
    if args.scale:
        if args.scale <= 0:
            raise DomainError(f"--scale must be positive (got {args.scale})")
        for plan in suite.domains.values():
            plan.scale(args.scale)
    out = Path(args.out or Path("benchmarks") / "runs" / suite.name)
    wants_cuda = args.device == "cuda" or (args.device is None and suite.device == "cuda")
    if wants_cuda and not args.dry_run and not args.report_only:
        import torch

        if not torch.cuda.is_available():
            raise DomainError(
                "this suite asks for CUDA, which is not available; use --dry-run "
                "to check its configs on CPU, or --device cpu"
            )
    runner = Runner(suite, out, resume=args.resume, device=args.device)
    if args.dry_run:
        records = dry_run(runner, runner.log)
        failed = [r for r in records if r["status"] != "ok"]
        print(f"dry run: {len(records) - len(failed)}/{len(records)} jobs start -> {out}")
        if failed:
            raise DomainError(f"{len(failed)} job(s) failed the dry run (see {out}/dryrun.json)")
        return
    # Outputs cover every cell in OUT, so they need every domain's settings, not a subset.
    full = load_suite(args.suite, domain_names())
    full.override(args.set)
    start = time.perf_counter()
    try:
        if not args.report_only:
            runner.run()
    except KeyboardInterrupt:
        write_outputs(out, full, wall_seconds=time.perf_counter() - start, interrupted=True)
        print(f"interrupted: finished cells are saved under {out}/cells; rerun with --resume")
        raise
    summary = write_outputs(out, full, wall_seconds=time.perf_counter() - start)
    if args.publish:
        from .outputs import publish

        for path in publish(out, Path(args.publish), f"bench_{suite.name}"):
            print(f"published {path}")
    print(
        f"{summary['ok']} ok, {summary['failed']} failed, {summary['skipped']} skipped, "
        f"{summary['not_run']} not run "
        f"-> {out}/results.md, {out}/report.html"
    )

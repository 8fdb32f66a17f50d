"""`multigen benchmark` arguments and entry (filled in by the benchmark runner)."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("suite", help="smoke, cpu or gpu")


def run(args: argparse.Namespace) -> None:
    raise NotImplementedError("the benchmark runner is being written")

"""The error a user can act on, and how a message spells the option it names."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator


class DomainError(ValueError):
    """Bad input a user can act on (missing folder, corrupt file, bad option)."""


# How the command in use spells an option, so a reader's message names the switch that
# applies there: ``data.params.{}`` while training data loads, ``eval.options.{}`` for a
# run's reference, ``--option {}`` in ``multigen evaluate``; plain ``{}`` from Python.
_OPTION_SPELLING: contextvars.ContextVar[str] = contextvars.ContextVar("options", default="{}")


@contextlib.contextmanager
def options_spelled(template: str) -> Iterator[None]:
    """Within the block, :func:`option_hint` spells options with ``template``."""
    token = _OPTION_SPELLING.set(template)
    try:
        yield
    finally:
        _OPTION_SPELLING.reset(token)


def option_hint(assignment: str) -> str:
    """``"check_manifold=false"`` as the command in use takes it."""
    return _OPTION_SPELLING.get().format(assignment)

"""Unknown keys refused in one line: data.params, evaluation options and benchmark options
name the key, a close match if there is one, and the keys that are valid."""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from multigen.errors import DomainError


def keyword_names(fn: Callable[..., Any], skip: Sequence[str] = ()) -> list[str] | None:
    """The keyword arguments ``fn`` takes (None when it takes any: a ``**kwargs``)."""
    params = inspect.signature(fn).parameters.values()
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return [
        p.name
        for p in params
        if p.kind is not inspect.Parameter.VAR_POSITIONAL and p.name not in skip
    ]


def refuse_unknown(what: str, given: Iterable[str], valid: Iterable[str] | None) -> None:
    """One line naming the first unknown key of ``given`` (``what``: where such keys go),
    a close match if there is one, and the valid keys; ``valid`` None accepts anything."""
    if valid is None:
        return
    valid = sorted(valid)
    unknown = [k for k in given if k not in valid]
    if not unknown:
        return
    guess = difflib.get_close_matches(unknown[0], valid, n=1)
    hint = f" (did you mean {guess[0]!r}?)" if guess else ""
    listed = ", ".join(valid) or "none"
    raise DomainError(f"unknown {what}: {', '.join(map(repr, unknown))}{hint}; valid: {listed}")


def parse_key_values(pairs: Iterable[str] | None, flag: str = "--option") -> dict[str, Any]:
    """``["k=v", ...]`` from the command line as a dict, each value read as YAML (numbers,
    booleans, lists); a pair without ``=`` or a key is refused naming ``flag``."""
    import yaml

    options = {}
    for pair in pairs or []:
        key, eq, value = pair.partition("=")
        if not eq or not key:
            raise DomainError(f"{flag} expects KEY=VALUE, got {pair!r}")
        try:
            options[key] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise DomainError(f"{flag} {key}: {value!r} is not a valid YAML value") from None
    return options

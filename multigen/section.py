"""The base of every config section."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Refuses unknown keys, so a typo fails with the key and the allowed ones."""

    model_config = ConfigDict(extra="forbid", protected_namespaces=())

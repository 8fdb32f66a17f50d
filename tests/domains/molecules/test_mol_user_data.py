"""A user's own molecule files read and scored the same way by every command (issue 20)."""

from __future__ import annotations

import pytest

from multigen.domain import DomainError
from multigen_domains.molecules import get_domain


def test_unknown_evaluation_option_is_refused_with_the_valid_ones(methane, water):
    with pytest.raises(DomainError, match=r"'bond' \(did you mean 'bonds'\?\).*valid: .*fcd"):
        get_domain().evaluate([methane, water], [methane, water], bond="rdkit")

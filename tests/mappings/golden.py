"""Golden pairs: a v2 wire payload, the mapping that translates it, the exact v1 body.

Each test module lists its pairs as :class:`Golden` values; the module's own test
compares the produced body with the literal expected one, and ``test_v1_conformance``
validates every produced body against the published v1 models (unknown members
forbidden), so the golden bodies and ``GET /v1/openapi.json`` cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pytest


@dataclass(frozen=True)
class Golden:
    """``produce()`` must return exactly ``expected``, which must validate as ``v1_type``."""

    name: str
    produce: Callable[[], Any]
    expected: Any
    v1_type: Any


def params(cases: Iterable[Golden]) -> list[Any]:
    """Parametrize a test over golden cases, each named by its case name."""
    return [pytest.param(case, id=case.name) for case in cases]

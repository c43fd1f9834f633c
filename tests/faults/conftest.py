"""Fault fixtures: the end-to-end harness of ``tests/proxy`` with a short upstream timeout.

The harness (a real sandbox and a real bridge on loopback) is reused from
``tests.proxy.conftest``; importing its fixtures here makes them visible to this folder.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.faults.endpoints import DEADLINE, RETRIES, TIMEOUT
from tests.proxy.conftest import Harness, bridge_env, harness, make_harness

__all__ = ["bridge_env", "fault_harness", "harness", "make_harness"]


@pytest.fixture
async def fault_harness(make_harness: Callable[..., Any]) -> Harness:
    built: Harness = await make_harness(
        upstream_timeout_seconds=TIMEOUT,
        upstream_retries=RETRIES,
        rate_limit_deadline_seconds=DEADLINE,
    )
    return built

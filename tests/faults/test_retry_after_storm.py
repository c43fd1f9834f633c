"""An upstream that answers 429 ``Retry-After: 0`` forever costs at most 1 + retries calls.

Before this, the 429 branch resent at once without counting an attempt: 88,626 v2
calls for two v1 reads in 40 s. Now a 429 is an attempt like any other, and its wait
is at least a second, so a storm is bounded in calls and in time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.faults.endpoints import ENDPOINTS, NAMES, RETRIES, application_with_job, call
from tests.faults.standin import StandIn, settings_for, start_bridge, start_standin
from tests.proxy.conftest import FULL, Harness

# Long enough that the deadline never cuts the storm short: the attempt cap must.
DEADLINE = 20.0
FLOOR = 1.0  # the bridge's least wait after a 429


async def always_429(request: web.Request, standin: StandIn) -> web.StreamResponse:
    return web.json_response(
        {"message": "Too Many Attempts."}, status=429, headers={"Retry-After": "0"}
    )


async def test_a_storm_of_retry_after_zero_costs_one_plus_retries_calls(
    bridge_env: None, aiohttp_server: Callable[..., Any]
) -> None:
    standin = await start_standin(aiohttp_server, always_429)
    settings = settings_for(
        standin.api_url, upstream_retries=RETRIES, rate_limit_deadline_seconds=DEADLINE
    )
    bridge = await start_bridge(aiohttp_server, settings)
    async with aiohttp.ClientSession() as http:

        async def read() -> tuple[int, str | None, int, float]:
            started = time.perf_counter()
            async with http.get(bridge.make_url("/v1/jobs"), auth=FULL) as response:
                await response.read()
                return (
                    response.status,
                    response.headers.get("Retry-After"),
                    int(response.headers["X-Upstream-Calls"]),
                    time.perf_counter() - started,
                )

        async with asyncio.timeout(60):
            # One after the other: two at once would share one call (coalescing).
            outcomes = [await read(), await read()]
    for status, retry_after, calls, seconds in outcomes:
        assert status == 429
        assert retry_after == "1"  # the floor, not v2's "0"
        assert calls == 1 + RETRIES
        assert seconds >= RETRIES * FLOOR * 0.95, "each 429 was waited out at least a second"
    assert standin.calls == 2 * (1 + RETRIES)


@pytest.mark.parametrize("name", NAMES)
async def test_the_sandbox_429_fault_is_capped_for_every_endpoint(
    make_harness: Callable[..., Any], name: str
) -> None:
    harness: Harness = await make_harness(
        upstream_timeout_seconds=2,
        upstream_retries=RETRIES,
        rate_limit_deadline_seconds=DEADLINE,
    )
    endpoint = ENDPOINTS[name]
    state = harness.sandbox.state
    application_id = application_with_job(state)
    before = endpoint.count(state, application_id) if endpoint.writes else 0
    await harness.faults(
        **endpoint.rule("status", status=429, headers={"Retry-After": "0"}, count=1000)
    )
    outcome = await call(harness, endpoint, application_id)
    outcome.assert_v1_error(429)
    # A streamed upload cannot be resent: it is tried once; everything else 1 + retries.
    assert outcome.calls == (1 if name == "upload" else 1 + RETRIES)
    if endpoint.writes:
        assert endpoint.count(state, application_id) == before, "a refused write wrote nothing"

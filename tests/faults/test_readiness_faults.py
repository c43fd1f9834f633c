"""``/readyz`` follows the upstream down and back up.

With ``readiness_evidence_seconds=0`` (the ``ready_harness`` here) ``/readyz`` keeps no
memory of earlier answers: each asks ``GET /v2/ping`` afresh (``/ping`` is not a cached
path), so it reports a fault on the next request after it starts and recovery on the
next request after it ends. With the default window, a recent v2 answer stands in for
the ping (a ping spends the v2 budget) but any failed call makes the next probe ping:
the last tests here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from sandbox import create_app as create_sandbox
from tests.conftest_sandbox import make_sandbox_config
from tests.faults.endpoints import RETRIES, SLACK, TIMEOUT
from tests.proxy.conftest import Harness
from tests.proxy.processes import free_port

PING = r"^/v2/ping$"


@pytest.fixture
async def ready_harness(make_harness: Callable[..., Any]) -> Harness:
    """The fault harness, with every probe pinging (no evidence window)."""
    built: Harness = await make_harness(
        upstream_timeout_seconds=TIMEOUT,
        upstream_retries=RETRIES,
        readiness_evidence_seconds=0,
    )
    return built


async def readiness(harness: Harness) -> tuple[int, dict[str, Any], float]:
    started = time.perf_counter()
    async with harness.http.get(harness.url("/readyz")) as response:
        body = await response.json()
        return response.status, body, time.perf_counter() - started


async def assert_ready(harness: Harness) -> None:
    status, body, _ = await readiness(harness)
    assert (status, body) == (200, {"status": "ready", "checks": {"upstream": "ok", "store": "ok"}})


async def assert_not_ready(harness: Harness, reason: str) -> float:
    status, body, seconds = await readiness(harness)
    assert status == 503, body
    assert body["status"] == "not ready"
    assert body["checks"]["store"] == "ok"
    assert body["checks"]["upstream"].startswith(reason), body
    return seconds


async def test_ping_answering_503_is_not_ready_until_it_stops(ready_harness: Harness) -> None:
    harness = ready_harness
    await assert_ready(harness)
    await harness.faults(method="GET", path=PING, action="status", status=503, count=1000)
    assert await assert_not_ready(harness, "ping answered 503") <= 3 * TIMEOUT + SLACK
    await assert_not_ready(harness, "ping answered 503")
    async with harness.http.delete(harness.sandbox_url("/_sandbox/faults")) as response:
        assert response.status == 200
    await assert_ready(harness)
    # And down again at once: a "ready" is not remembered either.
    await harness.faults(method="GET", path=PING, action="status", status=502, html=True, count=99)
    await assert_not_ready(harness, "ping answered 502")


async def test_a_slow_ping_is_not_ready_within_the_timeout(ready_harness: Harness) -> None:
    harness = ready_harness
    await harness.faults(method="GET", path=PING, action="latency", latency_ms=1000, count=99)
    seconds = await assert_not_ready(harness, "unreachable: Homerun API v2 did not answer")
    assert seconds <= (1 + RETRIES) * TIMEOUT + 0.6 + SLACK


async def test_a_dropped_ping_is_not_ready(ready_harness: Harness) -> None:
    harness = ready_harness
    await harness.faults(method="GET", path=PING, action="drop_before", count=99)
    await assert_not_ready(harness, "unreachable: Homerun API v2 could not be reached")
    async with harness.http.delete(harness.sandbox_url("/_sandbox/faults")) as response:
        assert response.status == 200
    await assert_ready(harness)


async def test_a_200_that_is_not_v2_is_not_ready(ready_harness: Harness) -> None:
    harness = ready_harness
    for action in ("malformed", "schema_mismatch"):
        await harness.faults(method="GET", path=PING, action=action, count=99)
        await assert_not_ready(harness, "ping answered 200 with a body that is not API v2")
        async with harness.http.delete(harness.sandbox_url("/_sandbox/faults")) as response:
            assert response.status == 200
        await assert_ready(harness)


async def test_an_unreachable_upstream_is_not_ready_until_it_comes_up(
    make_harness: Callable[..., Any], aiohttp_server: Callable[..., Any]
) -> None:
    port = free_port()
    harness: Harness = await make_harness(
        upstream_url=f"http://127.0.0.1:{port}/v2",
        upstream_timeout_seconds=TIMEOUT,
        readiness_evidence_seconds=0,
    )
    seconds = await assert_not_ready(harness, "unreachable: Homerun API v2 could not be reached")
    assert seconds <= 0.6 + SLACK, "refused connections fail fast (backoff only)"
    # The upstream comes up on that port: ready on the next request.
    upstream = await aiohttp_server(create_sandbox(make_sandbox_config()), port=port)
    await assert_ready(harness)
    # And goes away again: not ready on the next request.
    await upstream.close()
    await assert_not_ready(harness, "unreachable: Homerun API v2 could not be reached")


async def pings(harness: Harness) -> int:
    return int((await harness.stats())["requests_by_route"].get("GET /v2/ping", 0))


async def test_recent_v2_answers_stand_in_for_the_ping(make_harness: Callable[..., Any]) -> None:
    """Probes every few seconds from every replica would spend the v2 budget on pings:
    while v1 traffic gets answers, /readyz needs none."""
    harness: Harness = await make_harness(upstream_timeout_seconds=TIMEOUT)
    await assert_ready(harness)  # nothing seen yet: it pings
    assert await pings(harness) == 1
    async with await harness.get("/v1/jobs?per_page=1") as response:
        assert response.status == 200
    for _ in range(10):
        await assert_ready(harness)
    assert await pings(harness) == 1


async def test_after_a_failed_call_the_next_probe_pings(make_harness: Callable[..., Any]) -> None:
    harness: Harness = await make_harness(
        upstream_timeout_seconds=TIMEOUT, upstream_retries=RETRIES
    )
    async with await harness.get("/v1/jobs?per_page=1") as response:
        assert response.status == 200
    # v2 goes down: every call (the ping too) is dropped.
    await harness.faults(method=None, path="^/v2/", action="drop_before", count=1000)
    async with await harness.get("/v1/jobs?per_page=1") as response:
        assert response.status == 502
    await assert_not_ready(harness, "unreachable: Homerun API v2 could not be reached")
    await assert_not_ready(harness, "unreachable: Homerun API v2 could not be reached")
    async with harness.http.delete(harness.sandbox_url("/_sandbox/faults")) as response:
        assert response.status == 200
    pinged = await pings(harness)
    await assert_ready(harness)  # the failure is the last outcome: it pings, and recovers
    assert await pings(harness) == pinged + 1
    await assert_ready(harness)  # and that answer now stands in
    assert await pings(harness) == pinged + 1

"""A read started after a write is never answered from a v2 read in flight since before
it (coalescing shares identical reads in flight): otherwise the jobs list read just after
an application was created showed the old candidate count, and the rendered answers
(``proxy.rendered``) kept that stale answer under the new cache generation for the whole
cache TTL. Real sockets: the bridge in front of the sandbox, a slow v2 answer overlapping
the write."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from tests.proxy.conftest import Harness

JOBS = "/v1/jobs"


async def _counts(harness: Harness, path: str = JOBS) -> dict[str, int]:
    """The candidate count of every job a jobs listing shows."""
    async with await harness.get(path) as response:
        assert response.status == 200, await response.text()
        body = orjson.loads(await response.read())
    return {job["id"]: job["total_candidate_count"] for job in body["data"]}


async def _handled(harness: Harness, before: int) -> None:
    """Until the sandbox (in this process) handled a request more than ``before``: polled,
    within 10 s."""
    for _ in range(1000):
        if sum(harness.sandbox.state.stats.requests.values()) > before:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the sandbox never handled the request")


async def test_a_read_after_a_write_never_shares_a_read_in_flight_since_before(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(cache_ttl_seconds=60, upstream_timeout_seconds=30)
    # The jobs route has answered from the cache (so its answers are kept rendered).
    job_id, count = next(iter((await _counts(harness, f"{JOBS}?status=open")).items()))
    await _counts(harness, f"{JOBS}?status=open")
    slow = {"action": "slow_drip", "drip_interval_ms": 100, "drip_chunk_bytes": 512}
    await harness.faults(method="GET", path="^/v2/vacancies$", count=1, **slow)
    handled = sum(harness.sandbox.state.stats.requests.values())
    before = asyncio.create_task(_counts(harness))
    await _handled(harness, handled)  # v2 read the list before the write
    person = {"first_name": "Late", "last_name": "Reader", "email": "late@example.com"}
    await harness.created_application(
        data={"job": job_id, **{f"candidate[{k}]": v for k, v in person.items()}}
    )
    assert not before.done(), "the old answer was still on its way"
    after = await _counts(harness)
    assert (await before)[job_id] == count
    assert after[job_id] == count + 1, "read after the write: the new count"
    assert (await _counts(harness))[job_id] == count + 1, "and so is what was kept"

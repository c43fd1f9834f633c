"""Faults around the main call: reads shared by concurrent requests, the cache, and the
job read that follows a write."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.faults.endpoints import RETRIES, SLACK, TIMEOUT, application_with_job
from tests.proxy.conftest import FULL, Harness

VACANCIES = r"^/v2/vacancies$"


async def test_identical_reads_in_flight_share_one_failure(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(upstream_timeout_seconds=TIMEOUT, cache_ttl_seconds=60)
    await harness.faults(
        method="GET", path=VACANCIES, action="latency", latency_ms=1000, count=1 + RETRIES
    )

    async def listing() -> tuple[int, int]:
        async with await harness.get("/v1/jobs") as response:
            assert (await response.json())["status"] == 504
            return response.status, int(response.headers["X-Upstream-Calls"])

    answers = await asyncio.wait_for(
        asyncio.gather(*(listing() for _ in range(8))), (1 + RETRIES) * TIMEOUT + 0.6 + SLACK
    )
    assert {status for status, _ in answers} == {504}
    assert sum(calls for _, calls in answers) == 1 + RETRIES, "one caller made the calls"
    assert harness.sandbox.state.stats.faults_injected == 1 + RETRIES
    # A failure is not cached: the next listing asks upstream again, and succeeds.
    async with await harness.get("/v1/jobs") as response:
        assert response.status == 200
        assert response.headers["X-Upstream-Calls"] == "1"


@pytest.mark.parametrize(
    "rule",
    [
        {"action": "status", "status": 500, "count": 1 + RETRIES},
        {"action": "malformed"},
        {"action": "drop_before", "count": 10},
    ],
    ids=["500", "malformed", "dropped"],
)
@pytest.mark.parametrize("write", ["create", "update"])
async def test_a_failing_job_read_after_a_write_keeps_its_success(
    fault_harness: Harness, write: str, rule: dict[str, Any]
) -> None:
    harness = fault_harness
    state = harness.sandbox.state
    application_id = application_with_job(state)
    job_id = state.applications[application_id].vacancy_id
    before = len(state.applications)
    await harness.faults(method="GET", path=r"^/v2/vacancies/", **rule)
    if write == "create":
        form = {
            "job": job_id,
            "candidate[first_name]": "A",
            "candidate[last_name]": "B",
            "candidate[email]": "a@b.io",
        }
        request = harness.http.post(harness.url("/v1/applications"), data=form, auth=FULL)
        expected, created = 201, 1
    else:
        form = {"content[pronouns]": "she/her"}
        url = harness.url(f"/v1/applications/{application_id}")
        request = harness.http.patch(url, data=form, auth=FULL)
        expected, created = 200, 0
    async with request as response:
        body = await response.json()
        assert response.status == expected, body
    assert body["job"]["id"] == job_id, "the job is still named, by id"
    assert len(state.applications) == before + created

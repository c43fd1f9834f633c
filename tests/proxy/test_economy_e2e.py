"""Upstream economy: the v2 budget is paced, shared by replicas, cached, and never
spent on duplicate writes. The sandbox's own limiter is ON in these tests and counts
every 429 it gives: the bridge must cause none."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.conftest_sandbox import RunningSandbox, StartSandbox
from tests.proxy.conftest import FULL, Harness
from tests.proxy.processes import AUTH, spawn_bridge
from tests.redis_support import REDIS_URL
from tests.store.schedules import seed_idle_schedule

LIMITED = {"rate_limit_per_minute": 60}


async def _ids(harness: Harness, count: int) -> list[str]:
    async with await harness.get(f"/v1/applications?per_page={count}") as response:
        return [item["id"] for item in (await response.json())["data"]]


async def test_a_burst_of_300_causes_no_upstream_429(make_harness: Callable[..., Any]) -> None:
    harness: Harness = await make_harness(
        sandbox_overrides=LIMITED,
        rate_limit_per_minute=60,
        rate_limit_deadline_seconds=2,
        cache_ttl_seconds=60,
    )
    ids = await _ids(harness, 100)
    paths = (
        ["/v1/jobs"] * 100
        + [f"/v1/applications/{i}" for i in ids]
        + [f"/v1/candidates/ca_{i.removeprefix('ap_')}" for i in ids]
    )

    async def one(path: str) -> tuple[str, int, dict[str, Any], str | None]:
        async with await harness.get(path) as response:
            return path, response.status, await response.json(), response.headers.get("Retry-After")

    answers = await asyncio.gather(*(one(p) for p in paths))
    stats = await harness.stats()
    assert stats["rate_limited"].get("demo-v2-key", 0) == 0
    ok = [a for a in answers if a[1] == 200]
    refused = [a for a in answers if a[1] == 429]
    assert len(ok) + len(refused) == 300
    assert all(a[2]["status"] == 429 and int(a[3] or 0) >= 1 for a in refused)
    for path, _, body, _ in ok:
        if path == "/v1/jobs":
            assert body["total"] >= 12
        else:
            assert body["id"] == path.rsplit("/", 1)[1]
    assert sum(1 for a in ok if a[0] == "/v1/jobs") == 100, "listing jobs is served from cache"


async def test_100_job_listings_in_a_second_cost_at_most_2_calls(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(
        sandbox_overrides=LIMITED, rate_limit_per_minute=60, cache_ttl_seconds=60
    )

    async def listing() -> int:
        async with await harness.get("/v1/jobs?status=open") as response:
            await response.read()
            return int(response.status)

    statuses = list(await asyncio.gather(*(listing() for _ in range(60))))
    statuses += [await listing() for _ in range(40)]
    assert statuses == [200] * 100
    assert (await harness.stats())["requests_by_route"]["GET /v2/vacancies"] <= 2


async def test_no_cache_and_writes_refresh_the_cache(make_harness: Callable[..., Any]) -> None:
    harness: Harness = await make_harness(cache_ttl_seconds=60)

    async def vacancy_calls() -> int:
        return int((await harness.stats())["requests_by_route"].get("GET /v2/vacancies", 0))

    async with await harness.get("/v1/jobs") as response:
        jobs = (await response.json())["data"]
    async with await harness.get("/v1/jobs") as response:
        assert response.headers["X-Upstream-Calls"] == "0"
    assert await vacancy_calls() == 1
    async with await harness.get("/v1/jobs", headers={"Cache-Control": "no-cache"}) as response:
        assert response.headers["X-Upstream-Calls"] == "1"
    open_job = next(job for job in jobs if job["status"] == "open")
    form = {
        "job": open_job["id"],
        "candidate[first_name]": "Cache",
        "candidate[last_name]": "Buster",
        "candidate[email]": "cache@example.com",
    }
    async with await harness.post("/v1/applications", data=form) as response:
        assert response.status == 201
    async with await harness.get("/v1/jobs") as response:
        assert response.headers["X-Upstream-Calls"] == "1", "the write made the cache stale"
        after = {job["id"]: job for job in (await response.json())["data"]}
    count_before = open_job["total_candidate_count"]
    assert after[open_job["id"]]["total_candidate_count"] == count_before + 1


async def test_a_post_is_never_sent_twice(harness: Harness) -> None:
    before = (await harness.stats())["applications"]
    await harness.faults(method="POST", path="^/v2/job-applications$", action="drop_after")
    form = {
        "candidate[first_name]": "Once",
        "candidate[last_name]": "Only",
        "candidate[email]": "o@x.io",
    }
    async with await harness.post("/v1/applications", data=form) as response:
        assert response.status == 502
        assert response.headers["X-Upstream-Calls"] == "1"
        assert (await response.json())["status"] == 502
    assert (await harness.stats())["applications"] == before + 1
    await harness.faults(method="POST", path="^/v2/job-applications$", action="status", status=503)
    async with await harness.post("/v1/applications", data=form) as response:
        assert response.status == 503
        assert response.headers["X-Upstream-Calls"] == "1"
    assert (await harness.stats())["applications"] == before + 1


async def test_an_idempotent_patch_is_retried_after_a_drop(harness: Harness) -> None:
    (application_id,) = await _ids(harness, 1)
    await harness.faults(method="PATCH", path="^/v2/job-applications/", action="drop_before")
    async with harness.http.patch(
        harness.url(f"/v1/applications/{application_id}"),
        data={"content[pronouns]": "she/her"},
        auth=FULL,
    ) as response:
        assert response.status == 200
        # The dropped PATCH, the retried PATCH, and (for a job's application) its job.
        assert int(response.headers["X-Upstream-Calls"]) >= 2
        assert (await response.json())["content"]["pronouns"] == "she/her"


async def test_upstream_429_past_the_deadline_is_a_v1_429(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(
        sandbox_overrides={"rate_limit_per_minute": 3},
        rate_limit_per_minute=0,  # the bridge does not know the real budget here
        rate_limit_deadline_seconds=1,
    )
    statuses = []
    for _ in range(4):
        async with await harness.get("/v1/applications?per_page=1") as response:
            statuses.append(response.status)
            retry_after = response.headers.get("Retry-After")
    assert statuses == [200, 200, 200, 429]
    assert retry_after is not None and 1 <= int(retry_after) <= 60


async def _burst_through(bases: list[str], ids: list[str]) -> list[int]:
    async with aiohttp.ClientSession(headers=AUTH) as http:

        async def one(index: int, application_id: str) -> int:
            base = bases[index % len(bases)]
            async with http.get(f"{base}/v1/applications/{application_id}") as response:
                await response.read()
                return response.status

        return list(await asyncio.gather(*(one(n, i) for n, i in enumerate(ids))))


async def _two_replicas(
    sandbox: RunningSandbox, prefixes: tuple[str, str], ids: list[str]
) -> list[int]:
    settings = {
        "store_url": REDIS_URL,
        "rate_limit_per_minute": 20,
        "rate_limit_burst": 15,
        "rate_limit_deadline_seconds": 1.5,
    }
    async with (
        spawn_bridge(sandbox.api_url, store_prefix=prefixes[0], **settings) as first,
        spawn_bridge(sandbox.api_url, store_prefix=prefixes[1], **settings) as second,
    ):
        return await _burst_through([first.base, second.base], ids)


async def test_two_replicas_sharing_redis_stay_within_the_budget_together(
    start_sandbox: StartSandbox, redis_prefix: str
) -> None:
    ids = [application.id for application in (await start_sandbox()).state.applications.values()]
    ids = ids[:40]
    # The control: replicas that do NOT share a budget overrun the upstream's 20/min.
    # A schedule the store never saw starts just spent (no burst): make each one long idle,
    # so both set-ups start from the same full burst.
    for prefix in (redis_prefix + "a:", redis_prefix + "b:", redis_prefix):
        await seed_idle_schedule(REDIS_URL, prefix, "demo-v2-key")
    apart = await start_sandbox(rate_limit_per_minute=20)
    statuses = await _two_replicas(apart, (redis_prefix + "a:", redis_prefix + "b:"), ids)
    apart_stats = apart.state.stats
    assert apart_stats.rate_limited["demo-v2-key"] > 0, statuses
    # Sharing one Redis budget, the same load causes no upstream 429 at all.
    shared = await start_sandbox(rate_limit_per_minute=20)
    statuses = await _two_replicas(shared, (redis_prefix, redis_prefix), ids)
    assert shared.state.stats.rate_limited["demo-v2-key"] == 0
    assert set(statuses) == {200, 429}
    assert 15 <= statuses.count(200) <= 20

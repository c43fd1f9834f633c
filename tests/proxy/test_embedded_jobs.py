"""The job embedded in an application read is the whole job (contract §6 rev 2).

``GET /v1/applications`` and ``GET /v1/applications/{id}`` embed the very object
``GET /v1/jobs/{id}`` answers whenever the bridge holds the vacancy within the cache
TTL; a page may read the key's vacancy list once per TTL for it (one ``GET /vacancies``
page per 100 jobs), so walking N pages costs at most N calls plus those. With the cache
off, with the store down, or when the key may not read vacancies, the job is v2's embed
and the read still answers. Real bridge, real sandbox (and a Redis of the test's own for
the store outage), counted by ``X-Upstream-Calls`` and the sandbox's own statistics.
"""

from __future__ import annotations

import asyncio
import dataclasses
import math
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from sandbox.config import DEMO_KEYS, KeySpec
from tests.proxy.conftest import FULL, Harness
from tests.store.own_redis import OwnRedis, own_redis

CACHE_ON = {"cache_ttl_seconds": 60}
NONOTES = aiohttp.BasicAuth("v1-nonotes", "")
V2_AUTH = {"Authorization": "Bearer demo-v2-key"}


@dataclasses.dataclass
class Walk:
    """Every item of a walk over the application pages, and each page's v2 calls."""

    items: list[dict[str, Any]]
    calls: list[int]


async def _page(
    harness: Harness, page: int, per_page: int, auth: aiohttp.BasicAuth = FULL
) -> tuple[dict[str, Any], int]:
    path = f"/v1/applications?page={page}&per_page={per_page}"
    async with await harness.get(path, auth=auth) as response:
        body = await response.json()
        assert response.status == 200, body
        return body, int(response.headers["X-Upstream-Calls"])


async def _walk(harness: Harness, per_page: int, auth: aiohttp.BasicAuth = FULL) -> Walk:
    walk = Walk([], [])
    page = 1
    while True:
        body, calls = await _page(harness, page, per_page, auth)
        walk.items.extend(body["data"])
        walk.calls.append(calls)
        if not body["has_more"]:
            return walk
        page += 1


async def _json(harness: Harness, path: str, auth: aiohttp.BasicAuth = FULL) -> Any:
    async with await harness.get(path, auth=auth) as response:
        body = await response.json()
        assert response.status == 200, body
        return body


async def _jobs_by_id(harness: Harness, items: list[dict[str, Any]]) -> dict[str, Any]:
    """What ``GET /v1/jobs/{id}`` answers for every job the items embed."""
    ids = {item["job"]["id"] for item in items if item["job"] is not None}
    return {job_id: await _json(harness, f"/v1/jobs/{job_id}") for job_id in ids}


async def _apply(harness: Harness, job_id: str, name: str) -> tuple[dict[str, Any], int]:
    """``POST /v1/applications`` of a new person on the job: the answer and its v2 calls."""
    form = {
        "job": job_id,
        "candidate[first_name]": name,
        "candidate[last_name]": "Applicant",
        "candidate[email]": f"{name.lower()}@example.com",
    }
    async with await harness.post("/v1/applications", data=form) as response:
        created = await response.json()
        assert response.status == 201, created
        return created, int(response.headers["X-Upstream-Calls"])


def _vacancy_calls(harness: Harness) -> int:
    return harness.sandbox.state.stats.requests_by_route.get("GET /v2/vacancies", 0)


def _assert_v2_embed(item: dict[str, Any]) -> None:
    """The job as v2's include[]=vacancy embeds it: named, none of the three includes."""
    job = item["job"]
    assert job is not None and job["id"].startswith("job_")
    assert (job["tmp_location"], job["tmp_department"], job["total_candidate_count"]) == (
        None,
        None,
        None,
    )


async def test_list_and_detail_embed_the_job_that_get_v1_jobs_answers(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(**CACHE_ON)
    walk = await _walk(harness, 100)
    jobs = await _jobs_by_id(harness, walk.items)
    assert len(jobs) >= 8, "the seed spreads applications over many jobs"
    for item in walk.items:
        if item["job"] is not None:
            assert item["job"] == jobs[item["job"]["id"]], item["id"]
    # The three members v2's embed lacks are there (a count on every job; the seed leaves
    # some jobs without a location or a department on purpose).
    assert all(job["total_candidate_count"] is not None for job in jobs.values())
    assert any(job["tmp_location"] for job in jobs.values())
    assert any(job["tmp_department"] for job in jobs.values())
    assert any(item["job"] is None for item in walk.items), "talent pool: no job"
    for item in [i for i in walk.items if i["job"] is not None][:5]:
        detail = await _json(harness, f"/v1/applications/{item['id']}")
        assert detail["job"] == jobs[item["job"]["id"]]
        with_notes = await _json(harness, f"/v1/applications/{item['id']}?expand[]=notes")
        assert with_notes["job"] == detail["job"]


async def test_walking_n_pages_costs_at_most_n_calls_plus_one_per_100_jobs(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(**CACHE_ON)
    jobs = len(harness.sandbox.state.vacancies)
    walk = await _walk(harness, 25)
    pages = len(walk.calls)
    assert pages >= 10
    assert sum(walk.calls) <= pages + math.ceil(jobs / 100), walk.calls
    assert walk.calls[0] == 2 and set(walk.calls[1:]) == {1}, "the list is read once"
    assert _vacancy_calls(harness) == 1
    assert all(i["job"]["total_candidate_count"] is not None for i in walk.items if i["job"])
    # Within the TTL every vacancy is held: a second walk costs one call a page.
    again = await _walk(harness, 25)
    assert again.calls == [1] * pages
    assert again.items == walk.items
    # A detail read of a held vacancy costs its own read only.
    item = next(i for i in walk.items if i["job"] is not None)
    async with await harness.get(f"/v1/applications/{item['id']}") as response:
        assert response.headers["X-Upstream-Calls"] == "1"


async def test_a_key_with_more_than_100_jobs_reads_one_list_page_per_100(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(**CACHE_ON)
    state = harness.sandbox.state
    template = next(v for v in state.vacancies.values() if v.status == "public")
    latest = max(v.created_at for v in state.vacancies.values())
    for n in range(130):  # listed after every seeded vacancy: the late ones are on page 2
        clone_id = f"job_Clone{n:015d}"
        state.vacancies[clone_id] = dataclasses.replace(
            template,
            id=clone_id,
            title=f"Clone {n}",
            created_at=latest + timedelta(minutes=n + 1),
        )
    jobs = len(state.vacancies)
    assert 100 < jobs <= 200
    late = [f"job_Clone{n:015d}" for n in (120, 125, 129)]
    async with aiohttp.ClientSession(headers=V2_AUTH) as v2:
        for n, vacancy_id in enumerate(late):
            person = {"first_name": "Late", "last_name": f"Applicant{n}"}
            body = {**person, "email": f"late{n}@example.com", "vacancy_id": vacancy_id}
            async with v2.post(harness.sandbox_url("/v2/job-applications"), json=body) as r:
                assert r.status == 201, await r.text()
    walk = await _walk(harness, 100)
    pages = len(walk.calls)
    assert sum(walk.calls) <= pages + math.ceil(jobs / 100) == pages + 2, walk.calls
    assert _vacancy_calls(harness) == 2
    on_late = [i for i in walk.items if i["job"] and i["job"]["id"] in late]
    assert len(on_late) == 3
    wanted = await _jobs_by_id(harness, on_late)
    for item in on_late:
        assert item["job"] == wanted[item["job"]["id"]]
        assert item["job"]["tmp_location"] is not None
        assert item["job"]["total_candidate_count"] == 1
    # After a write, a detail read on this key (its list takes 2 pages) reads its one
    # vacancy, not the list: one call, shared with GET /v1/jobs/{id} through the cache.
    late_job = on_late[0]["job"]["id"]
    await _apply(harness, late_job, "Later")
    async with await harness.get(f"/v1/applications/{on_late[0]['id']}") as response:
        detail = await response.json()
        assert response.headers["X-Upstream-Calls"] == "2", "the application, its vacancy"
    assert _vacancy_calls(harness) == 2, "no list page read again"
    async with await harness.get(f"/v1/jobs/{late_job}") as response:
        job = await response.json()
        assert response.headers["X-Upstream-Calls"] == "0"
    assert detail["job"] == job
    assert job["total_candidate_count"] == 2


async def test_concurrent_pages_share_one_read_of_the_vacancy_list(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(**CACHE_ON)
    answers = await asyncio.gather(*(_page(harness, page, 25) for page in range(1, 9)))
    assert _vacancy_calls(harness) == 1
    assert sum(calls for _, calls in answers) == 8 + 1
    jobs = [item["job"] for body, _ in answers for item in body["data"] if item["job"]]
    assert jobs and all(job["total_candidate_count"] is not None for job in jobs)


async def test_a_vacancy_not_in_the_list_is_not_asked_for_again_within_the_ttl(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(**CACHE_ON)
    state = harness.sandbox.state
    # A vacancy deleted upstream: its applications still name it, v2 embeds nothing.
    gone = state.applications[sorted(state.applications)[0]].vacancy_id
    assert gone is not None
    del state.vacancies[gone]
    walk = await _walk(harness, 25)
    assert sum(walk.calls) == len(walk.calls) + 1
    orphans = [i for i in walk.items if i["job"] and i["job"]["id"] == gone]
    assert len(orphans) >= 2
    assert all(i["job"]["title"] == "" and i["job"]["status"] == "closed" for i in orphans)
    # A write makes the held list stale: the next walk reads it once more (the
    # generation moved on), and the vacancy still not in it is not asked for again.
    kept = next(i["job"]["id"] for i in walk.items if i["job"] and i["job"]["id"] != gone)
    await _apply(harness, kept, "Fresh")
    again = await _walk(harness, 25)
    assert again.calls[0] == 2 and set(again.calls[1:]) == {1}, again.calls
    assert _vacancy_calls(harness) == 2
    assert [i["job"] for i in again.items if i["job"] and i["job"]["id"] == gone] == [
        i["job"] for i in orphans
    ]
    third = await _walk(harness, 25)
    assert set(third.calls) == {1}
    assert _vacancy_calls(harness) == 2


async def test_with_the_cache_off_the_job_is_v2s_embed_at_no_call_of_its_own(
    harness: Harness,
) -> None:
    walk = await _walk(harness, 100)
    assert set(walk.calls) == {1}
    assert _vacancy_calls(harness) == 0
    for item in walk.items:
        if item["job"] is not None:
            _assert_v2_embed(item)


async def test_a_key_that_may_not_read_vacancies_gets_v2s_embed_and_asks_once(
    make_harness: Callable[..., Any],
) -> None:
    keys = {**DEMO_KEYS, "demo-nonotes-v2-key": KeySpec(frozenset({"job-applications:read"}))}
    harness: Harness = await make_harness({"keys": keys}, **CACHE_ON)
    walk = await _walk(harness, 50, NONOTES)
    assert walk.calls[0] == 2 and set(walk.calls[1:]) == {1}, "the 403 is not asked again"
    for item in walk.items:
        if item["job"] is not None:
            _assert_v2_embed(item)
    item = next(i for i in walk.items if i["job"] is not None)
    detail = await _json(harness, f"/v1/applications/{item['id']}", NONOTES)
    assert detail["job"]["id"] == item["job"]["id"]


@pytest.fixture
def killed_redis() -> Iterator[OwnRedis]:
    with own_redis() as server:
        yield server


async def test_with_the_store_down_reads_answer_with_v2s_embed(
    make_harness: Callable[..., Any], killed_redis: OwnRedis
) -> None:
    harness: Harness = await make_harness(
        store_url=killed_redis.url, store_timeout_seconds=0.5, **CACHE_ON
    )
    body, calls = await _page(harness, 1, 50)
    assert calls == 2
    whole = [item for item in body["data"] if item["job"] is not None]
    assert whole and all(item["job"]["total_candidate_count"] is not None for item in whole)
    killed_redis.kill()
    for page in (1, 2, 3):
        body, calls = await _page(harness, page, 50)
        assert calls == 1, "no list read while the store cannot hold what it reads"
        for item in body["data"]:
            if item["job"] is not None:
                _assert_v2_embed(item)
    detail = await _json(harness, f"/v1/applications/{whole[0]['id']}")
    assert detail["job"]["id"] == whole[0]["job"]["id"]
    _assert_v2_embed(detail)
    assert _vacancy_calls(harness) == 1


async def test_after_a_write_the_embedded_job_is_again_the_one_get_v1_jobs_answers(
    make_harness: Callable[..., Any],
) -> None:
    """The embed follows the cache generation: a create bumps it, so the next read of
    applications embeds the job with its new count (one list read for the whole TTL
    after the write, not one per page)."""
    harness: Harness = await make_harness(**CACHE_ON)
    walk = await _walk(harness, 25)
    item = next(i for i in walk.items if i["job"] is not None)
    job_id, before = item["job"]["id"], item["job"]["total_candidate_count"]
    created, calls = await _apply(harness, job_id, "Counted")
    # The write's answer keeps its one call: its job is the one held when it was sent.
    assert calls == 1
    assert created["job"]["total_candidate_count"] == before
    lists_before = _vacancy_calls(harness)
    detail = await _json(harness, f"/v1/applications/{item['id']}")
    job = await _json(harness, f"/v1/jobs/{job_id}")
    assert job["total_candidate_count"] == before + 1
    assert detail["job"] == job
    assert (await _json(harness, f"/v1/applications/{created['id']}"))["job"] == job
    again = await _walk(harness, 25)
    for other in again.items:
        if other["job"] is not None and other["job"]["id"] == job_id:
            assert other["job"] == job, other["id"]
    # One list read after the write (by the detail read), then every vacancy is held.
    assert _vacancy_calls(harness) == lists_before + 1
    assert set(again.calls) == {1}, again.calls

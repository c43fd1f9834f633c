"""Cursor paging end to end (contract §4 rev 2): ``starting_after`` / ``ending_before`` with
``limit`` on every v1 list, through a real bridge in front of the sandbox.

A walk forward (``starting_after`` the last id of each page) and a walk backward
(``ending_before`` the first id) each return every item of the list exactly once, in
order; each cursor page costs the v2 calls of the equivalent offset window (the bridge's
``X-Upstream-Calls``) and answers its items; an id the bridge cannot place (never served,
expired, served to another key or in another list) is a 400 naming the parameter; the
store being down is a 503 (the cursor cannot be placed) while the lists still answer; with
Redis, positions recorded by one bridge process place cursors in another.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import aiohttp
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from mappings.ids import candidate_id_for_application
from proxy.app import create_app
from proxy.keys import build_key_map
from proxy.store import MemoryStore
from sandbox.records import JobApplication, Note, StoredFile, Vacancy
from sandbox.state import SandboxState
from tests.conftest_sandbox import StartSandbox
from tests.proxy.conftest import FULL, READONLY, Harness, bridge_settings
from tests.proxy.processes import AUTH, spawn_bridge
from tests.redis_support import REDIS_URL
from tests.store.own_redis import OwnRedis, redis_server

__all__ = ["redis_server"]

AFTER = "starting_after"
BEFORE = "ending_before"


# --- the lists, and how to give each n items ---------------------------------------------------


@dataclass
class World:
    """The sandbox's seeded world, kept whole so that each list can be cut to a size."""

    state: SandboxState
    vacancies: dict[str, Vacancy] = field(init=False)
    applications: dict[str, JobApplication] = field(init=False)
    application_id: str = field(init=False)  # the one whose notes and files are listed

    def __post_init__(self) -> None:
        self.vacancies = dict(self.state.vacancies)
        self.applications = dict(self.state.applications)
        self.application_id = next(iter(self.applications))

    def a_job(self) -> str:
        """The job of the first application that has one (the seed gives it several)."""
        return next(a.vacancy_id for a in self.applications.values() if a.vacancy_id)

    def restore(self) -> None:
        self.state.vacancies = dict(self.vacancies)
        self.state.applications = dict(self.applications)

    # Each cuts its list to ``size`` items (the seed has 16 vacancies, 280 applications).

    def jobs(self, size: int) -> None:
        self.state.vacancies = dict(list(self.vacancies.items())[:size])

    def applications_(self, size: int) -> None:
        self.state.applications = dict(list(self.applications.items())[:size])

    def notes(self, size: int) -> None:
        start = datetime(2026, 1, 1, tzinfo=UTC)
        self.applications[self.application_id].notes = [
            Note(f"note {i}", "Recruiter", False, start + timedelta(minutes=i), start)
            for i in range(size)
        ]

    def files(self, size: int) -> None:
        self.applications[self.application_id].files = [
            StoredFile(f"cv-{i}.pdf", "resume", b"%PDF-1.4", "application/pdf") for i in range(size)
        ]


@dataclass(frozen=True)
class Listed:
    """One v1 list under test: its path and how to give it ``size`` items."""

    name: str
    path: Callable[[World], str]
    resize: Callable[[World, int], None]
    held_whole: bool = False  # read whole from one application: a cursor costs its read


def _candidate(world: World) -> str:
    return candidate_id_for_application(world.application_id)


LISTS = (
    Listed("jobs", lambda w: "/v1/jobs", World.jobs),
    Listed("candidates", lambda w: "/v1/candidates", World.applications_),
    Listed("applications", lambda w: "/v1/applications", World.applications_),
    Listed(
        "application notes",
        lambda w: f"/v1/applications/{w.application_id}/notes",
        World.notes,
        held_whole=True,
    ),
    Listed(
        "application files",
        lambda w: f"/v1/applications/{w.application_id}/files",
        World.files,
        held_whole=True,
    ),
    Listed(
        "candidate notes",
        lambda w: f"/v1/candidates/{_candidate(w)}/notes",
        World.notes,
        held_whole=True,
    ),
    Listed(
        "candidate files",
        lambda w: f"/v1/candidates/{_candidate(w)}/files",
        World.files,
        held_whole=True,
    ),
)


def _cut(harness: Harness, listed: Listed, size: int) -> str:
    """Cut the list to ``size`` items in the harness's sandbox; its path."""
    world = World(harness.sandbox.state)
    listed.resize(world, size)
    return listed.path(world)


PAGED = tuple(listed for listed in LISTS if not listed.held_whole)


# --- reading pages -----------------------------------------------------------------------------


@dataclass
class Page:
    """One answered page: what it was asked by, its ids and what it cost upstream."""

    query: dict[str, str]
    status: int
    body: dict[str, Any]
    calls: int
    headers: dict[str, str]

    @property
    def ids(self) -> list[str]:
        return [str(item["id"]) for item in self.body["data"]]


def _with_query(path: str, query: dict[str, str]) -> str:
    return f"{path}{'&' if '?' in path else '?'}{urlencode(query)}" if query else path


async def _page(harness: Harness, path: str, **query: str | int) -> Page:
    return await _page_as(FULL, harness, path, **query)


async def _page_as(
    auth: aiohttp.BasicAuth, harness: Harness, path: str, **query: str | int
) -> Page:
    asked = {k: str(v) for k, v in query.items()}
    async with await harness.get(_with_query(path, asked), auth=auth) as response:
        body = await response.json()
        calls = int(response.headers["X-Upstream-Calls"])
        return Page(asked, response.status, body, calls, dict(response.headers))


async def _ok(harness: Harness, path: str, **query: str | int) -> Page:
    page = await _page(harness, path, **query)
    assert page.status == 200, (path, query, page.body)
    return page


async def walk_forward(harness: Harness, path: str, limit: int) -> list[Page]:
    """The first page by number, then ``starting_after`` the last id of each page."""
    pages = [await _ok(harness, path, limit=limit)]
    while pages[-1].body["has_more"]:
        pages.append(await _ok(harness, path, limit=limit, starting_after=pages[-1].ids[-1]))
        assert pages[-1].ids, "a page that says more follow is followed by items"
    return pages


async def walk_backward(harness: Harness, path: str, limit: int, size: int) -> list[Page]:
    """The last page by offset (the list has ``size`` items), then ``ending_before`` the
    first id of each page, until a page says nothing precedes it (Stripe's has_more for a
    backward walk)."""
    offset = max(0, size - limit)
    pages = [await _ok(harness, path, limit=limit, offset=offset)]
    more_before = offset > 0
    while more_before:
        pages.append(await _ok(harness, path, limit=limit, ending_before=pages[-1].ids[0]))
        more_before = pages[-1].body["has_more"]
    return pages


def _equivalent_window(page: Page, position: dict[str, int]) -> dict[str, int]:
    """The offset window a cursor page must equal (contract: it costs what that costs)."""
    limit = int(page.query["limit"])
    if AFTER in page.query:
        return {"offset": position[page.query[AFTER]] + 1, "limit": limit}
    at = position[page.query[BEFORE]]
    return {"offset": max(0, at - limit), "limit": min(limit, at) or limit}


async def check_walks(harness: Harness, path: str, limit: int) -> list[str]:
    """Both walks return every item once, in order, and each cursor page is its
    equivalent offset window: the same items for the same v2 calls. The list's ids.

    A sparse v2 answer may carry no ``meta`` (``total`` is then a lower bound until the
    end, ``mappings.pagination``): the backward walk starts from what the forward walk saw.
    """
    forward = await walk_forward(harness, path, limit)
    walked = [i for page in forward for i in page.ids]
    backward = await walk_backward(harness, path, limit, len(walked))
    # The truth, read last: its positions must not be what placed the walks' cursors.
    truth = (await _ok(harness, path, per_page=100)).ids
    assert len(truth) <= 100 and walked == truth
    assert [i for page in reversed(backward) for i in page.ids] == truth
    assert all(len(page.ids) == limit for page in forward[:-1])
    assert all(len(page.ids) <= limit for page in (*forward, *backward))
    position = {item: index for index, item in enumerate(truth)}
    for page in (*forward[1:], *backward[1:]):
        equivalent = await _ok(harness, path, **_equivalent_window(page, position))
        assert page.calls == equivalent.calls, (page.query, page.calls, equivalent.calls)
        assert page.ids == equivalent.ids
        assert harness.mode == "sparse" or page.body["total"] == len(truth)
    return truth


# --- every list, walked ------------------------------------------------------------------------


async def _walk_seven(harness: Harness, listed: Listed) -> None:
    """A list of 7 walked both ways by 3, and Stripe's answers at its ends."""
    path = _cut(harness, listed, 7)
    truth = await check_walks(harness, path, 3)
    assert len(truth) == 7
    # Stripe at both ends: nothing after the last item, nothing before the first.
    after_last = await _ok(harness, path, limit=3, starting_after=truth[-1])
    assert (after_last.ids, after_last.body["has_more"]) == ([], False)
    before_first = await _ok(harness, path, limit=3, ending_before=truth[0])
    assert (before_first.ids, before_first.body["has_more"]) == ([], False)
    assert harness.mode == "sparse" or before_first.body["total"] == 7
    # A backward page that has items before it says so.
    before_last = await _ok(harness, path, limit=3, ending_before=truth[-1])
    assert (before_last.ids, before_last.body["has_more"]) == (truth[3:6], True)
    assert (before_last.body["page"], before_last.body["per_page"]) == (2, 3)
    # The default limit applies to a cursor as to a page (100).
    rest = await _ok(harness, path, starting_after=truth[1])
    assert (rest.ids, rest.body["per_page"]) == (truth[2:], 100)


@pytest.mark.parametrize("listed", LISTS, ids=lambda listed: listed.name)
async def test_every_list_walks_forward_and_backward_by_cursor(
    harness: Harness, listed: Listed
) -> None:
    await _walk_seven(harness, listed)


@pytest.mark.parametrize("listed", PAGED, ids=lambda listed: listed.name)
async def test_a_list_read_page_by_page_walks_by_cursor_through_sparse_answers(
    make_harness: Callable[..., Any], listed: Listed
) -> None:
    """Only ids are guaranteed, and ``meta`` may be left out: cursors still walk. (A list
    held whole is not stable there: a sparse read may leave an application's notes out.)"""
    harness: Harness = await make_harness({"sparse": True})
    harness.mode = "sparse"
    await _walk_seven(harness, listed)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    listed=st.sampled_from(LISTS),
    size=st.integers(0, 16),
    limit=st.integers(1, 6),
)
async def test_any_list_of_any_size_walks_by_cursor_every_item_once_in_order(
    harness: Harness, listed: Listed, size: int, limit: int
) -> None:
    """One bridge and sandbox for every example; each example cuts its list to ``size``."""
    world = World(harness.sandbox.state)
    try:
        listed.resize(world, size)
        assert len(await check_walks(harness, listed.path(world), limit)) == size
    finally:
        world.restore()


async def test_a_filtered_list_walks_by_cursor_and_its_filters_may_come_in_any_order(
    harness: Harness,
) -> None:
    world = World(harness.sandbox.state)
    job = world.a_job()
    path = f"/v1/applications?job={job}"
    truth = await check_walks(harness, path, 4)
    assert len(truth) > 8
    # The same list, its filters in another order: the cursor is placed.
    stage = next(a.stage for a in world.applications.values() if a.vacancy_id == job)
    assert stage is not None
    one_order = f"/v1/applications?job={job}&stage={stage}"
    other_order = f"/v1/applications?stage={stage}&job={job}"
    listed = await _ok(harness, one_order, limit=1)
    followed = await _ok(harness, other_order, limit=1, starting_after=listed.ids[0])
    assert followed.ids == (await _ok(harness, one_order, limit=1, offset=1)).ids


# --- what cannot be placed ---------------------------------------------------------------------


def _named(page: Page) -> list[str]:
    assert page.status == 400, page.body
    return [error["param"] for error in page.body["errors"]]


@pytest.mark.parametrize("listed", LISTS, ids=lambda listed: listed.name)
async def test_an_id_the_bridge_cannot_place_is_a_400_naming_the_parameter(
    harness: Harness, listed: Listed
) -> None:
    path = _cut(harness, listed, 5)
    listed_ids = (await _ok(harness, path, limit=2)).ids
    for param in (AFTER, BEFORE):
        never = await _page(harness, path, limit=2, **{param: "ap_neverListedHere"})
        assert _named(never) == [param]
        assert "ap_neverListedHere" in never.body["message"]
        # Placed before any v2 call, or in the list read whole (its one call).
        assert never.calls == (1 if listed.held_whole else 0)
        assert _named(await _page(harness, path, **{param: "not an id!"})) == [param]
    both = await _page(harness, path, starting_after=listed_ids[0], ending_before=listed_ids[1])
    assert _named(both) == [BEFORE]
    with_page = await _page(harness, path, page=2, starting_after=listed_ids[0])
    assert _named(with_page) == ["page"] and with_page.calls == 0
    assert _named(await _page(harness, path, offset=0, ending_before=listed_ids[1])) == ["offset"]


async def test_a_cursor_served_to_another_key_or_in_another_list_is_not_placed(
    harness: Harness,
) -> None:
    filtered = f"/v1/applications?job={World(harness.sandbox.state).a_job()}"
    cursor = (await _ok(harness, filtered, limit=3)).ids[-1]
    assert (await _ok(harness, filtered, limit=3, starting_after=cursor)).ids
    # Another v2 key (the read-only integration): its lists are its own.
    other_key = await _page_as(READONLY, harness, filtered, limit=3, starting_after=cursor)
    assert _named(other_key) == [AFTER]
    # Another list: without the filter, with another filter, another resource.
    assert _named(await _page(harness, "/v1/applications", starting_after=cursor)) == [AFTER]
    staged = f"{filtered}&stage=Hired"
    assert _named(await _page(harness, staged, ending_before=cursor)) == [BEFORE]
    assert _named(await _page(harness, "/v1/jobs", starting_after=cursor)) == [AFTER]


async def test_a_cursor_past_the_paging_session_is_not_placed(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(cursor_ttl_seconds=0.2)
    cursor = (await _ok(harness, "/v1/jobs", limit=2)).ids[-1]
    await asyncio.sleep(1.0)  # five times the TTL
    assert _named(await _page(harness, "/v1/jobs", limit=2, starting_after=cursor)) == [AFTER]


# --- the store ---------------------------------------------------------------------------------


async def test_the_store_down_is_a_503_for_a_cursor_and_the_lists_still_answer(
    make_harness: Callable[..., Any], redis_server: OwnRedis
) -> None:
    harness: Harness = await make_harness(store_url=redis_server.url, store_timeout_seconds=0.3)
    first = await _ok(harness, "/v1/applications", limit=5)
    assert (await _ok(harness, "/v1/applications", limit=5, starting_after=first.ids[-1])).ids
    redis_server.kill()
    with capture_logs() as logs:
        # Recording the positions fails: the page is answered all the same.
        second = await _ok(harness, "/v1/applications", limit=5, offset=10)
    assert len(second.ids) == 5
    assert any(entry["event"] == "cursor.positions_not_kept" for entry in logs), logs
    down = await _page(harness, "/v1/applications", limit=5, starting_after=first.ids[-1])
    assert down.status == 503 and down.headers["Retry-After"] == "1", down.body
    assert "cursor" in down.body["message"] and down.calls == 0
    # Whole lists need no store: their cursors are placed through the outage.
    world = World(harness.sandbox.state)
    world.notes(3)
    notes = f"/v1/applications/{world.application_id}/notes"
    listed = (await _ok(harness, notes)).ids
    assert (await _ok(harness, notes, starting_after=listed[0])).ids == listed[1:]
    # Back, but empty: the positions it held are gone, so the cursor is now unplaceable.
    redis_server.restart_empty()
    for _ in range(100):
        back = await _page(harness, "/v1/applications", limit=5, starting_after=first.ids[-1])
        if back.status != 503:
            break
        await asyncio.sleep(0.1)
    assert _named(back) == [AFTER]


class CountingStore(MemoryStore):
    """The memory store, counting the writes of cursor positions."""

    def __init__(self) -> None:
        super().__init__()
        self.position_writes = 0

    async def set_many(self, items: dict[str, bytes], ttl_seconds: float) -> None:
        self.position_writes += any(key.startswith("cursor:") for key in items)
        await super().set_many(items, ttl_seconds)


async def test_a_page_answered_again_soon_writes_no_positions_again(
    bridge_env: None, start_sandbox: StartSandbox, aiohttp_server: Callable[..., Any]
) -> None:
    sandbox = await start_sandbox()
    settings = bridge_settings(sandbox, cursor_ttl_seconds=0.4)  # recorded for 0.1 s
    store = CountingStore()
    bridge = await aiohttp_server(create_app(settings, build_key_map(settings), store=store))
    async with aiohttp.ClientSession() as http:
        harness = Harness(bridge, sandbox, http)
        first = await _ok(harness, "/v1/jobs", limit=5)
        await _ok(harness, "/v1/jobs", limit=5)
        assert store.position_writes == 1
        # Another page is written; the same page asked another way is not.
        after = await _ok(harness, "/v1/jobs", limit=5, starting_after=first.ids[-1])
        assert (await _ok(harness, "/v1/jobs", limit=5, offset=5)).ids == after.ids
        assert store.position_writes == 2
        # The list changed: the page shows other ids, or the same at other positions.
        del sandbox.state.vacancies[first.ids[0]]
        assert (await _ok(harness, "/v1/jobs", limit=5)).ids == first.ids[1:] + after.ids[:1]
        assert store.position_writes == 3
        # Past the refresh time the page is written again, renewing its positions' TTL.
        await asyncio.sleep(0.5)
        await _ok(harness, "/v1/jobs", limit=5)
        assert store.position_writes == 4


async def test_two_bridge_processes_sharing_redis_place_each_others_cursors(
    start_sandbox: StartSandbox, redis_prefix: str
) -> None:
    sandbox = await start_sandbox()
    async with (
        spawn_bridge(sandbox.api_url, store_url=REDIS_URL, store_prefix=redis_prefix) as first,
        spawn_bridge(sandbox.api_url, store_url=REDIS_URL, store_prefix=redis_prefix) as second,
        spawn_bridge(
            sandbox.api_url, store_url=REDIS_URL, store_prefix=redis_prefix + "x:"
        ) as apart,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):

        async def get(base: str, **query: str | int) -> tuple[int, dict[str, Any]]:
            url = _with_query(base + "/v1/applications", {k: str(v) for k, v in query.items()})
            async with http.get(url) as response:
                return response.status, await response.json()

        status, page = await get(first.base, limit=4)
        assert status == 200
        cursor = page["data"][-1]["id"]
        status, after = await get(second.base, limit=4, starting_after=cursor)
        status_offset, by_offset = await get(first.base, limit=4, offset=4)
        assert status == status_offset == 200
        assert [a["id"] for a in after["data"]] == [a["id"] for a in by_offset["data"]]
        # The page the second process answered placed the next cursor for the first.
        status, back = await get(first.base, limit=4, ending_before=after["data"][0]["id"])
        assert status == 200 and back["data"] == page["data"]
        # A process with a store of its own never saw the id.
        status, body = await get(apart.base, limit=4, starting_after=cursor)
        assert status == 400 and [e["param"] for e in body["errors"]] == [AFTER]

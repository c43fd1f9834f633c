"""Ids that match (contract §5 rev 2): the id a create answers is the id every later
listing gives that note or file, on the application and the candidate routes, also for
notes of one second and for repeated file names; and what each create costs in v2
calls (the ``X-Upstream-Calls`` header).

The sandbox dates notes in whole seconds; its clock stands still here, so every note a
test creates falls in one second, deterministically.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from types import SimpleNamespace
from typing import Any

import aiohttp
import pytest

from proxy.app import create_app
from proxy.keys import build_key_map
from proxy.state import BRIDGE
from proxy.v1_routes import notes as notes_route
from tests.proxy.conftest import Harness, bridge_settings
from tests.redis_support import REDIS_URL, redis_test_prefix
from tests.store.own_redis import own_redis

FROZEN_CLOCK = 1_760_000_000.0


@pytest.fixture
async def frozen(make_harness: Callable[..., Any]) -> Harness:
    """Bridge and sandbox; the sandbox's clock does not move."""
    harness: Harness = await make_harness({"clock": lambda: FROZEN_CLOCK})
    return harness


def _routes(harness: Harness) -> list[str]:
    """The notes/files parent of one seeded application, by application and by candidate."""
    application_id = next(iter(harness.sandbox.state.applications))
    return [
        f"/v1/applications/{application_id}",
        "/v1/candidates/ca_" + application_id.removeprefix("ap_"),
    ]


async def _create(harness: Harness, path: str, **kw: Any) -> tuple[dict[str, Any], int]:
    """One create through the bridge: its answer and the v2 calls it cost."""
    async with await harness.post(path, **kw) as response:
        assert response.status == 201, await response.text()
        return dict(await response.json()), int(response.headers["X-Upstream-Calls"])


async def _note(harness: Harness, parent: str, body: str) -> tuple[dict[str, Any], int]:
    return await _create(harness, f"{parent}/notes", data={"body": body, "name": "Ted"})


async def _upload(harness: Harness, parent: str, name: str) -> tuple[dict[str, Any], int]:
    form = aiohttp.FormData()
    form.add_field("file", name.encode(), filename=name, content_type="application/pdf")
    return await _create(harness, f"{parent}/files", data=form)


async def _listed(harness: Harness, path: str) -> list[dict[str, Any]]:
    async with await harness.get(path) as response:
        assert response.status == 200, await response.text()
        return list((await response.json())["data"])


async def _handled(sandbox_saw: Callable[[], bool]) -> None:
    """Until the sandbox (in this process) shows it handled the request: polled, within
    10 s."""
    for _ in range(1000):
        if sandbox_saw():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the sandbox never handled the request")


@pytest.mark.parametrize("route", [0, 1], ids=["application", "candidate"])
async def test_notes_of_one_second_answer_the_ids_their_listing_gives(
    frozen: Harness, route: int
) -> None:
    parent = _routes(frozen)[route]
    before = await _listed(frozen, f"{parent}/notes")
    made = [await _note(frozen, parent, body) for body in ("First", "Second", "Second")]
    answers = [note for note, _ in made]
    assert len({note["created_at"] for note in answers}) == 1, "one second, as intended"
    listed = await _listed(frozen, f"{parent}/notes")
    assert listed[: len(before)] == before, "the ids listed before did not move"
    assert listed[len(before) :] == answers
    assert len({note["id"] for note in answers}) == 3
    # One after the other, each create's position is known from the store: no v2 read.
    assert [calls for _, calls in made] == [1, 1, 1]


async def test_notes_created_at_once_in_one_second_answer_the_listed_ids(
    frozen: Harness,
) -> None:
    parent = _routes(frozen)[0]
    bodies = ["Alpha", "Beta", "Same", "Same", "Gamma"]
    made = await asyncio.gather(*(_note(frozen, parent, body) for body in bodies))
    listed = await _listed(frozen, f"{parent}/notes")
    by_id = {note["id"]: note for note in listed}
    answers = [note for note, _ in made]
    assert len({note["id"] for note in answers}) == len(bodies)
    for note in answers:
        assert by_id[note["id"]] == note
    # Overlapping creates of one instant cost one read each at most.
    assert all(calls in (1, 2) for _, calls in made), made


async def test_a_note_sent_while_an_earlier_one_awaits_its_answer_is_answered_as_listed(
    frozen: Harness,
) -> None:
    # v2 stores "Slow" first but takes its time answering: "Quick", sent meanwhile and
    # answered first, cannot count on the store for its position.
    parent = _routes(frozen)[0]
    notes = frozen.sandbox.state.applications[parent.rsplit("/", 1)[-1]].notes
    stored = len(notes)
    await frozen.faults(
        method="POST", path="/notes$", action="slow_drip", drip_interval_ms=100, count=1
    )
    slow = asyncio.create_task(_note(frozen, parent, "Slow"))
    await _handled(lambda: len(notes) > stored)  # stored, its answer on its way
    quick, quick_calls = await _note(frozen, parent, "Quick")
    assert not slow.done(), "the slow answer was still on its way"
    slowly, slow_calls = await slow
    listed = await _listed(frozen, f"{parent}/notes")
    assert listed[-2:] == [slowly, quick]
    assert (slow_calls, quick_calls) == (2, 2), "one read each: v2's order was unknown"


@pytest.mark.parametrize(("fault", "status", "reads"), [("drop_after", 502, 1), ("status", 400, 0)])
async def test_a_note_after_a_failed_one_of_its_second_answers_the_listed_id(
    frozen: Harness, fault: str, status: int, reads: int
) -> None:
    # drop_after: v2 stored the note, its answer was lost (a 502): the next note of the
    # second cannot count on the store and reads. A 400 stored nothing: no read.
    parent = _routes(frozen)[0]
    rule: dict[str, Any] = {"status": 400} if fault == "status" else {}
    await frozen.faults(method="POST", path="/notes$", action=fault, count=1, **rule)
    async with await frozen.post(f"{parent}/notes", data={"body": "Lost"}) as response:
        assert response.status == status, await response.text()
    note, calls = await _note(frozen, parent, "Again")
    assert (await _listed(frozen, f"{parent}/notes"))[-1] == note
    assert calls == 1 + reads


async def test_replicas_sharing_redis_answer_the_listed_ids_of_one_second(
    make_harness: Callable[..., Any], aiohttp_server: Callable[..., Any]
) -> None:
    async with redis_test_prefix() as prefix:
        shared = {"store_url": REDIS_URL, "store_prefix": prefix}
        one: Harness = await make_harness({"clock": lambda: FROZEN_CLOCK}, **shared)
        settings = bridge_settings(one.sandbox, **shared)
        other = await aiohttp_server(create_app(settings, build_key_map(settings)))
        two = Harness(other, one.sandbox, one.http)
        parent = _routes(one)[0]
        made = [
            await _note(replica, parent, text)
            for replica, text in ((one, "One"), (two, "Two"), (one, "Three"), (two, "Three"))
        ]
        listed = await _listed(two, f"{parent}/notes")
    assert listed[-4:] == [note for note, _ in made]
    assert [calls for _, calls in made] == [1, 1, 1, 1], "the order is shared: no v2 read"


@pytest.mark.parametrize("route", [0, 1], ids=["application", "candidate"])
async def test_a_repeated_file_name_answers_the_id_its_listing_gives(
    harness: Harness, route: int
) -> None:
    parent = _routes(harness)[route]
    made = [await _upload(harness, parent, name) for name in ("cv.pdf", "letter.pdf", "cv.pdf")]
    answers = [file for file, _ in made]
    listed = await _listed(harness, f"{parent}/files")
    assert [f["id"] for f in listed[-3:]] == [f["id"] for f in answers]
    assert [f["name"] for f in listed[-3:]] == ["cv.pdf", "letter.pdf", "cv.pdf"]
    assert answers[0]["id"] != answers[2]["id"]
    # v2's upload answer cannot tell a repeated name: one read of the files, every upload.
    assert [calls for _, calls in made] == [2, 2, 2]


async def test_a_name_first_uploaded_outside_the_bridge_is_counted(harness: Harness) -> None:
    # A candidate who applied on the careers page sent cv.pdf: the bridge never saw it.
    parent = _routes(harness)[0]
    application_id = parent.rsplit("/", 1)[-1]
    harness.sandbox.state.add_file(application_id, "cv.pdf", "resume", b"x", "application/pdf")
    uploaded, _ = await _upload(harness, parent, "cv.pdf")
    listed = await _listed(harness, f"{parent}/files")
    assert [f["id"] for f in listed if f["name"] == "cv.pdf"][-1] == uploaded["id"]
    assert [f["id"] for f in listed].count(uploaded["id"]) == 1


async def test_an_upload_is_not_answered_from_a_read_in_flight_since_before_it(
    harness: Harness,
) -> None:
    # A files listing of the application is on its way (v2 read it before the upload)
    # when the upload's own read is made: that read must not share the old answer.
    parent = _routes(harness)[0]
    application_id = parent.rsplit("/", 1)[-1]
    state = harness.sandbox.state
    state.add_file(application_id, "cv.pdf", "resume", b"x", "application/pdf")
    slow_read = {"action": "slow_drip", "drip_interval_ms": 100, "drip_chunk_bytes": 128}
    await harness.faults(method="GET", path=f"^/v2/job-applications/{application_id}$", **slow_read)
    handled = sum(state.stats.requests.values())
    listing = asyncio.create_task(_listed(harness, f"{parent}/files"))
    await _handled(lambda: sum(state.stats.requests.values()) > handled)  # answer on its way
    uploaded, calls = await _upload(harness, parent, "cv.pdf")
    overlapped = not listing.done()
    before = [f["id"] for f in await listing if f["name"] == "cv.pdf"]
    after = [f["id"] for f in await _listed(harness, f"{parent}/files") if f["name"] == "cv.pdf"]
    assert after == [*before, uploaded["id"]] and calls == 2
    assert overlapped, "the upload waited for the old answer"


async def test_with_the_store_down_a_note_is_answered_as_listed(
    make_harness: Callable[..., Any],
) -> None:
    with own_redis() as server:
        harness: Harness = await make_harness(
            {"clock": lambda: FROZEN_CLOCK}, store_url=server.url, store_timeout_seconds=0.5
        )
        parent = _routes(harness)[0]
        first, calls = await _note(harness, parent, "Before")
        assert calls == 1
        server.kill()
        second, calls = await _note(harness, parent, "During")
    assert calls == 2, "the store cannot tell the position: one read of the notes"
    listed = await _listed(harness, f"{parent}/notes")
    assert listed[-2:] == [first, second]


class SteppingClock:
    """One wall clock for the sandbox (v2's note dates) and the bridge's note marks,
    moved on by hand: a test spans minutes of it in no time."""

    def __init__(self) -> None:
        self.now = FROZEN_CLOCK

    def __call__(self) -> float:
        return self.now


@contextlib.asynccontextmanager
async def _store_options(kind: str) -> AsyncIterator[dict[str, Any]]:
    """Bridge settings for the memory store, or for the real Redis under a test prefix."""
    if kind == "memory":
        yield {}
        return
    async with redis_test_prefix() as prefix:
        yield {"store_url": REDIS_URL, "store_prefix": prefix}


@pytest.mark.parametrize("kind", ["memory", "redis"])
async def test_an_application_noted_all_along_keeps_a_bounded_hash_of_marks(
    make_harness: Callable[..., Any], monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    # A note every 30 s for 15 minutes: every create refreshes the hash's 120 s TTL, so
    # without removing the marks that no longer count the hash held all 30.
    clock = SteppingClock()
    monkeypatch.setattr(notes_route, "time", SimpleNamespace(time=clock))
    async with _store_options(kind) as options:
        harness: Harness = await make_harness({"clock": clock}, **options)
        parent = _routes(harness)[0]
        key = "note-creates:" + parent.rsplit("/", 1)[-1]
        store = harness.bridge.app[BRIDGE].store
        sizes, made = [], []
        for n in range(30):
            clock.now += 30
            made.append(await _note(harness, parent, f"Note {n}"))
            sizes.append(len(await store.hgetall(key)))
        listed = await _listed(harness, f"{parent}/notes")
    window = 2 * notes_route.MARKS_TTL_SECONDS + 1
    assert max(sizes) <= window // 30 + 2, sizes
    assert listed[-30:] == [note for note, _ in made]
    assert [calls for _, calls in made] == [1] * 30


async def test_marks_that_no_longer_count_are_removed_in_one_second_too(
    frozen: Harness,
) -> None:
    # A refused create's mark counts for nothing: the next answered create removes it.
    parent = _routes(frozen)[0]
    key = "note-creates:" + parent.rsplit("/", 1)[-1]
    await frozen.faults(method="POST", path="/notes$", action="status", status=400, count=1)
    async with await frozen.post(f"{parent}/notes", data={"body": "Refused"}) as response:
        assert response.status == 400, await response.text()
    store = frozen.bridge.app[BRIDGE].store
    assert [m[0] for m in (await store.hgetall(key)).values()] == ["R"]
    note, calls = await _note(frozen, parent, "Kept")
    assert [m[0] for m in (await store.hgetall(key)).values()] == ["A"]
    assert (await _listed(frozen, f"{parent}/notes"))[-1] == note and calls == 1

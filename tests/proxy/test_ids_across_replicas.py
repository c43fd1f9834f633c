"""Ids that match across replicas (contract §5 rev 2): two bridge processes sharing one
Redis, each taking one of two uploads of cv.pdf to one application at the same moment,
answer two ids, each the id the files listing gives its file. A turn within one process
cannot order them; the turn is recorded in the shared store.

v2 takes its time answering both uploads (``slow_drip``): without a shared turn both were
stored before either bridge read the files, and both answered the newest cv.pdf.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack
from typing import Any

import aiohttp
import pytest

from mappings.files import choosing_mark, turn_is_mine, turn_mark
from proxy.redis_store import RedisStore
from tests.conftest_sandbox import RunningSandbox
from tests.proxy.conftest import Harness
from tests.proxy.processes import AUTH, BridgeProcess, spawn_bridge
from tests.proxy.test_ids_match import _listed, _routes
from tests.proxy.test_ids_match import _upload as _upload_through
from tests.redis_support import REDIS_URL, redis_test_prefix
from tests.store.own_redis import own_redis


@pytest.fixture
async def replicas(sandbox_server: RunningSandbox) -> AsyncIterator[list[BridgeProcess]]:
    """Two bridge processes in front of the sandbox, sharing the real Redis."""
    async with redis_test_prefix() as prefix, AsyncExitStack() as stack:
        shared: dict[str, Any] = {
            "store_url": REDIS_URL,
            "store_prefix": prefix,
            "rate_limit_per_minute": 0,
            "cache_ttl_seconds": 0,
        }
        yield [
            await stack.enter_async_context(spawn_bridge(sandbox_server.api_url, **shared))
            for _ in range(2)
        ]


async def _upload(http: aiohttp.ClientSession, url: str) -> str:
    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4 cv", filename="cv.pdf", content_type="application/pdf")
    async with http.post(url, data=form, headers=AUTH) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["id"])


async def test_uploads_of_one_name_through_two_replicas_answer_the_ids_listed(
    sandbox_server: RunningSandbox, replicas: list[BridgeProcess]
) -> None:
    application_id = next(iter(sandbox_server.state.applications))
    files = f"/v1/applications/{application_id}/files"
    async with aiohttp.ClientSession() as http:
        fault = {"method": "POST", "path": "/files$", "action": "slow_drip", "count": 2}
        fault["drip_interval_ms"] = 100
        async with http.post(sandbox_server.url("/_sandbox/faults"), json=fault) as response:
            assert response.status == 201, await response.text()
        answered = await asyncio.gather(*(_upload(http, r.base + files) for r in replicas))
        async with http.get(replicas[0].base + files, headers=AUTH) as response:
            assert response.status == 200, await response.text()
            listed = [f["id"] for f in (await response.json())["data"] if f["name"] == "cv.pdf"]
    assert len(set(answered)) == 2, answered
    assert sorted(answered) == sorted(listed[-2:]), "each upload answers its own listed id"


def test_a_turn_waits_for_lower_tickets_and_choosers_but_not_for_dead_bridges() -> None:
    now, stale = 1_000, 80.0
    mine = {"me": turn_mark(5, now)}
    assert turn_is_mine(mine, "me", now, stale)
    assert not turn_is_mine({**mine, "a": turn_mark(4, now)}, "me", now, stale)
    assert turn_is_mine({**mine, "a": turn_mark(6, now)}, "me", now, stale)
    # One still choosing may yet draw a lower ticket.
    assert not turn_is_mine({**mine, "a": choosing_mark(now)}, "me", now, stale)
    # Marks older than the longest turn are a dead bridge's; unreadable ones are ignored.
    dead = {"a": turn_mark(1, now - 81), "b": choosing_mark(now - 81), "c": "T|x|y", "d": "?"}
    assert turn_is_mine({**mine, **dead}, "me", now, stale)


async def test_an_upload_goes_when_the_store_cannot_order_it(
    make_harness: Callable[..., Any],
) -> None:
    with own_redis() as server:
        harness: Harness = await make_harness(store_url=server.url, store_timeout_seconds=0.5)
        parent = _routes(harness)[0]
        server.kill()
        upload, calls = await _upload_through(harness, parent, "cv.pdf")
    listed = await _listed(harness, f"{parent}/files")
    assert upload["id"] == listed[-1]["id"] and calls == 2


async def test_a_mark_left_by_a_dead_bridge_does_not_hold_the_turn(
    make_harness: Callable[..., Any],
) -> None:
    async with redis_test_prefix() as prefix:
        # Turns last up to 600 + 2 x 5 + 20 s here: waiting on the dead mark would take
        # 10 minutes, far beyond the minute the upload is given.
        harness: Harness = await make_harness(
            store_url=REDIS_URL, store_prefix=prefix, client_body_timeout_seconds=600
        )
        parent = _routes(harness)[0]
        key = "upload-turns:" + parent.rsplit("/", 1)[-1]
        store = RedisStore(REDIS_URL, prefix)
        long_ago = int(time.time()) - 3600
        await store.hset(key, {"dead": choosing_mark(long_ago)}, 60)
        try:
            upload, calls = await asyncio.wait_for(_upload_through(harness, parent, "cv.pdf"), 60)
            left = await store.hgetall(key)
        finally:
            await store.close()
    assert calls == 2
    assert left == {"dead": choosing_mark(long_ago)}, "the upload's own mark is gone"
    assert upload["id"] == (await _listed(harness, f"{parent}/files"))[-1]["id"]

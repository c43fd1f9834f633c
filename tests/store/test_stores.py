"""Both stores behave alike; the Redis one against the real server, keys prefixed and expiring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
import redis.asyncio as redis

from proxy.redis_store import RedisStore
from proxy.store import MemoryStore, SlotRequest, Store, StoreError
from tests.redis_support import REDIS_URL, redis_test_prefix
from tests.store.own_redis import OwnRedis, redis_server

__all__ = ["redis_server"]


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Store]:
    if request.param == "memory":
        yield MemoryStore()
        return
    async with redis_test_prefix() as prefix:
        shared = RedisStore(REDIS_URL, prefix)
        yield shared
        await shared.close()


async def test_values_expire(store: Store) -> None:
    await store.set("draft:a", b"1", ttl_seconds=0.2)
    await store.set("draft:b", b"2", ttl_seconds=30)
    assert await store.get("draft:a") == b"1"
    await asyncio.sleep(0.35)
    assert await store.get("draft:a") is None
    assert await store.get("draft:b") == b"2"
    await store.delete("draft:b")
    assert await store.get("draft:b") is None


async def test_counters_hashes_and_sets(store: Store) -> None:
    assert [await store.incr("gen:k") for _ in range(3)] == [1, 2, 3]
    await store.hincr("usage:x", {"calls": 2, "errors": 1}, 60)
    await store.hincr("usage:x", {"calls": 3}, 60)
    await store.hset("usage:x", {"last_seen": "1700000000"}, 60)
    assert await store.hgetall("usage:x") == {
        "calls": "5",
        "errors": "1",
        "last_seen": "1700000000",
    }
    await store.sadd("labels", "careers", 60)
    await store.sadd("labels", "hr-sync", 60)
    await store.sadd("labels", "careers", 60)
    assert await store.smembers("labels") == {"careers", "hr-sync"}
    assert await store.ping()


async def test_hdel_removes_fields_and_a_hash_left_empty(store: Store) -> None:
    await store.hset("note-creates:ap", {"t1": "A", "t2": "S", "t3": "R"}, 60)
    await store.hdel("note-creates:ap", ["t1", "t3", "never-set"])
    assert await store.hgetall("note-creates:ap") == {"t2": "S"}
    await store.hdel("note-creates:ap", [])
    await store.hdel("note-creates:none", ["t1"])
    await store.hdel("note-creates:ap", ["t2"])
    assert await store.hgetall("note-creates:ap") == {}
    await store.hset("note-creates:ap", {"t4": "A"}, 60)  # written again after it emptied
    assert await store.hgetall("note-creates:ap") == {"t4": "A"}


async def test_gcra_allows_the_burst_then_paces(store: Store) -> None:
    interval, burst = 0.5, 3
    ask = SlotRequest(interval, burst, max_wait=10)
    await _idle_schedule(store, "gcra:k", ask)
    answers = [await store.reserve("gcra:k", ask) for _ in range(5)]
    assert all(a.granted for a in answers)
    assert [a.wait == 0 for a in answers[:3]] == [True, True, True]
    # The 4th and 5th calls get the next slots, one interval apart.
    assert answers[3].wait == pytest.approx(0.5, abs=0.05)
    assert answers[4].wait == pytest.approx(1.0, abs=0.05)
    refused = await store.reserve("gcra:k", SlotRequest(interval, burst, max_wait=0.2))
    assert not refused.granted and refused.wait == pytest.approx(1.5, abs=0.05)
    # A refused call takes no slot: the next one still waits about 1.5 s.
    again = await store.reserve("gcra:k", ask)
    assert again.granted and again.wait == pytest.approx(1.5, abs=0.05)


async def _idle_schedule(store: Store, key: str, ask: SlotRequest) -> None:
    """A schedule that exists and has been idle long enough to refill its burst."""
    await store.reserve(key, ask)
    await asyncio.sleep(ask.burst * ask.interval + 0.2)


async def test_a_missing_schedule_is_just_spent_not_a_fresh_burst(store: Store) -> None:
    """A schedule the store does not have (never used, or lost in a restart or flush)
    gives one call now and paces the rest: no burst."""
    interval, burst = 0.2, 5
    ask = SlotRequest(interval, burst, max_wait=10)
    answers = [await store.reserve("gcra:lost", ask) for _ in range(3)]
    assert [a.granted for a in answers] == [True, True, True]
    assert answers[0].wait == 0
    assert answers[1].wait == pytest.approx(interval, abs=0.05)
    assert answers[2].wait == pytest.approx(2 * interval, abs=0.05)


async def test_an_idle_schedule_refills_its_burst(store: Store) -> None:
    interval, burst = 0.1, 4
    ask = SlotRequest(interval, burst, max_wait=10)
    for _ in range(3):
        await store.reserve("gcra:idle", ask)
    await asyncio.sleep(1.0)  # idle well past the last slot: the burst is back
    answers = [await store.reserve("gcra:idle", ask) for _ in range(5)]
    assert [a.wait == 0 for a in answers] == [True, True, True, True, False]


async def test_spent_for_puts_the_schedule_behind_the_callers_own_slots(store: Store) -> None:
    """After an outage paced locally, the shared schedule resumes behind the local slots:
    an idle schedule gives no burst and its first slot comes after ``spent_for``."""
    interval, burst = 0.1, 4
    ask = SlotRequest(interval, burst, max_wait=10)
    await _idle_schedule(store, "gcra:resume", ask)
    first = await store.reserve("gcra:resume", replace(ask, spent_for=0.5))
    second = await store.reserve("gcra:resume", ask)
    assert first.wait == pytest.approx(0.5, abs=0.05)
    assert second.wait == pytest.approx(0.6, abs=0.05)


async def test_redis_keys_are_prefixed_and_expire(redis_prefix: str) -> None:
    shared = RedisStore(REDIS_URL, redis_prefix)
    await shared.set("cache:x", b"v", 60)
    await shared.incr("gen:x")
    await shared.reserve("gcra:x", SlotRequest(1.0, 2, 10))
    await shared.hincr("usage:x", {"calls": 1}, 60)
    await shared.sadd("labels", "a", 60)
    await shared.set("draft:no-ttl", b"v")
    await shared.close()
    client = redis.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=redis_prefix + "*")]
    assert len(keys) == 6
    for key in keys:
        assert await client.pttl(key) > 0, f"{key!r} would never expire"
    # A schedule outlives its last slot by a day: idleness, not expiry, refills the burst.
    assert await client.pttl(redis_prefix + "gcra:x") > 23 * 3600 * 1000
    await client.aclose()


async def test_two_clients_share_one_schedule(redis_prefix: str) -> None:
    first, second = RedisStore(REDIS_URL, redis_prefix), RedisStore(REDIS_URL, redis_prefix)
    answers = []
    for replica in (first, second, first, second):
        answers.append(await replica.reserve("gcra:shared", SlotRequest(1.0, 2, max_wait=10)))
    # A new schedule is just spent: one call now, then one a second, whoever asks.
    assert [round(a.wait) for a in answers] == [0, 1, 2, 3]
    await first.close()
    await second.close()


async def test_a_schedule_lost_in_a_redis_restart_hands_out_no_burst(
    redis_server: OwnRedis,
) -> None:
    """Restarted empty, Redis has no schedule: the next calls are paced, not a burst of
    ``burst`` at once (five restarts used to give five bursts in one minute)."""
    shared = RedisStore(redis_server.url, "t:", timeout_seconds=0.5)
    interval, burst = 0.2, 10
    ask = SlotRequest(interval, burst, max_wait=10)
    for _ in range(3):
        await shared.reserve("gcra:k", ask)
    redis_server.restart_empty()
    # The pooled connection died with the server: redis-py reconnects on its own.
    answers = [await shared.reserve("gcra:k", ask) for _ in range(3)]
    assert [a.wait == 0 for a in answers] == [True, False, False]
    assert answers[2].wait == pytest.approx(2 * interval, abs=0.05)
    await shared.close()


async def test_unreachable_redis_is_a_store_error() -> None:
    dead = RedisStore("redis://127.0.0.1:1/0")
    assert await dead.ping() is False
    with pytest.raises(StoreError):
        await dead.get("x")
    await dead.close()


async def test_memory_store_sweeps_expired_values_nobody_reads_again() -> None:
    """A write moves the read cache to a new generation: the old entries are never read
    again, so expiry on read alone would keep them all (a leak in a long-lived process).
    Keys set again keep their latest expiry."""
    store = MemoryStore()
    for n in range(1000):
        await store.set(f"cache:old:{n}", b"x" * 100, ttl_seconds=0.05)
    await store.set("kept", b"1", ttl_seconds=0.05)
    await store.set("kept", b"2", ttl_seconds=60)
    await store.set("forever", b"3")
    assert len(store) == 1002
    await asyncio.sleep(0.1)
    await store.set("new", b"4", ttl_seconds=60)
    assert len(store) == 3
    assert await store.get("kept") == b"2"
    assert await store.get("forever") == b"3"

"""The store guard against a real Redis that dies, hangs and comes back empty.

Each test owns its ``redis-server`` (``tests.store.own_redis``). What a user of the bridge
would notice: a dead or hung store costs one bounded wait, then errors come at once (the
callers read through to v2), pacing keeps going on a local schedule at the outage share,
and the store is used again as soon as it answers.
"""

from __future__ import annotations

import asyncio
import time

import pytest
from structlog.testing import capture_logs

from proxy.metrics import BridgeMetrics
from proxy.redis_store import RedisStore
from proxy.store import MemoryStore, SlotRequest, StoreError
from proxy.store_guard import StoreGuard, guard_store
from tests.store.own_redis import OwnRedis, redis_server

__all__ = ["redis_server"]

TIMEOUT = 0.3


def _guard(server: OwnRedis, probe_seconds: float = 30.0, share: float = 0.5) -> StoreGuard:
    backing = RedisStore(server.url, "guard:", timeout_seconds=TIMEOUT)
    return StoreGuard(
        backing,
        timeout_seconds=TIMEOUT,
        outage_share=share,
        probe_seconds=probe_seconds,
        metrics=BridgeMetrics(),
    )


def _attempts(guard: StoreGuard) -> float:
    """Store operations that really went to Redis and failed (fast failures excluded)."""
    assert guard._metrics is not None
    samples = guard._metrics.store_errors.collect()[0].samples
    return sum(s.value for s in samples if s.name.endswith("_total"))


async def test_the_memory_store_is_not_wrapped() -> None:
    memory = MemoryStore()
    assert guard_store(memory, timeout_seconds=TIMEOUT, outage_share=0.5) is memory


async def test_a_dead_store_is_marked_down_once_and_then_fails_fast(
    redis_server: OwnRedis,
) -> None:
    guard = _guard(redis_server)
    await guard.set("cache:a", b"1", 60)
    assert await guard.get("cache:a") == b"1"
    redis_server.kill()
    with capture_logs() as logs:
        for _ in range(20):
            with pytest.raises(StoreError):
                await guard.get("cache:a")
    assert guard.down and guard.outages == 1
    # One real attempt; the other 19 failed at once without touching the network.
    assert _attempts(guard) == 1
    assert [entry["event"] for entry in logs] == ["store.down"]
    await guard.close()


async def test_a_hung_store_costs_one_bounded_wait(redis_server: OwnRedis) -> None:
    """SIGSTOP: the socket stays open and nothing answers. The first operation waits
    ``store_timeout_seconds`` (not redis-py's 2 s socket timeout per try); the rest fail
    at once, and readiness (ping) says so without waiting."""
    guard = _guard(redis_server)
    assert await guard.ping()
    redis_server.hang()
    try:
        started = time.monotonic()
        with pytest.raises(StoreError):
            await guard.get("cache:a")
        first = time.monotonic() - started
        for _ in range(10):
            with pytest.raises(StoreError):
                await guard.ping()
        assert _attempts(guard) == 1
        assert first < 1.9, f"one store operation waited {first:.2f} s"
    finally:
        redis_server.resume()
    await guard.close()


async def test_the_store_is_used_again_once_a_probe_answers(redis_server: OwnRedis) -> None:
    guard = _guard(redis_server, probe_seconds=0.1)
    redis_server.kill()
    with pytest.raises(StoreError):
        await guard.get("cache:a")
    redis_server.restart_empty()
    with capture_logs() as logs:
        answered = None
        for _ in range(100):  # a probe is let through every 0.1 s
            try:
                answered = await guard.get("cache:a")
                break
            except StoreError:
                await asyncio.sleep(0.02)
        else:
            raise AssertionError("the guard never probed the store again")
    assert answered is None and not guard.down
    assert [entry["event"] for entry in logs] == ["store.up"]
    await guard.set("cache:a", b"2", 60)
    assert await guard.get("cache:a") == b"2"
    await guard.close()


async def test_pacing_goes_local_at_the_outage_share_without_a_burst(
    redis_server: OwnRedis,
) -> None:
    """While the store is away a replica paces at ``share`` of the budget: burst 1,
    starting just spent, each slot ``interval / share`` after the last."""
    interval, burst, share = 0.2, 10, 0.5
    ask = SlotRequest(interval, burst, max_wait=10)
    guard = _guard(redis_server, share=share)
    shared = await guard.reserve("gcra:k", ask)
    # A new shared schedule presumes the other replica (share 1/2) holds a slot.
    assert shared.granted and shared.wait == pytest.approx(interval, abs=0.05)
    redis_server.kill()
    answers = [await guard.reserve("gcra:k", ask) for _ in range(3)]
    assert guard.down
    local = interval / share
    assert [a.granted for a in answers] == [True, True, True]
    # Just spent: the first local slot is one local interval after the shared one, then
    # one per local interval.
    for n, answer in enumerate(answers, start=1):
        assert answer.wait == pytest.approx(shared.wait + n * local, abs=0.1), answers
    refused = await guard.reserve("gcra:k", SlotRequest(interval, burst, max_wait=0.5))
    assert not refused.granted and refused.wait > 0.5
    await guard.close()


async def test_the_shared_schedule_resumes_behind_the_local_slots(redis_server: OwnRedis) -> None:
    """Back (and empty), the shared schedule takes over with no burst: its first slot
    comes after the slots already promised locally."""
    interval, burst, share = 0.2, 10, 0.5
    ask = SlotRequest(interval, burst, max_wait=10)
    guard = _guard(redis_server, probe_seconds=0.05, share=share)
    redis_server.kill()
    with pytest.raises(StoreError):
        await guard.get("x")
    local = [await guard.reserve("gcra:k", ask) for _ in range(2)]
    promised_until = time.monotonic() + max(a.wait for a in local)
    redis_server.restart_empty()
    await asyncio.sleep(0.1)  # the next operation is a probe
    asked = time.monotonic()
    resumed = [await guard.reserve("gcra:k", ask) for _ in range(3)]
    assert not guard.down
    assert asked + resumed[0].wait >= promised_until - 0.05, (local, resumed)
    assert resumed[1].wait == pytest.approx(resumed[0].wait + interval, abs=0.05)
    assert resumed[2].wait == pytest.approx(resumed[0].wait + 2 * interval, abs=0.05)
    await guard.close()


async def test_a_schedule_lost_unnoticed_resumes_behind_the_promised_slots(
    redis_server: OwnRedis,
) -> None:
    """Redis restarts empty between two calls (redis-py reconnects; nobody sees an error).
    The slots this replica already promised are not handed out a second time."""
    interval, burst = 0.2, 2
    ask = SlotRequest(interval, burst, max_wait=10)
    guard = _guard(redis_server)
    answers = [await guard.reserve("gcra:k", ask) for _ in range(5)]
    promised_until = time.monotonic() + answers[-1].wait
    redis_server.restart_empty()
    asked = time.monotonic()
    after = await guard.reserve("gcra:k", ask)
    assert not guard.down, "the restart cost an error: redis-py did not reconnect"
    assert asked + after.wait >= promised_until + interval - 0.05, (answers, after)
    await guard.close()

"""Fair turns inside one v2 key: the pacer over a real MemoryStore schedule, with a short
budget period so each test runs in seconds. Assertions count grants (who was served
between two events) rather than time them, so a loaded machine cannot fail them; the few
time bounds are generous."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

import pytest

from mappings.errors import V1Error
from proxy.ratelimit import Budget, UpstreamPacer
from proxy.redis_store import RedisStore
from proxy.store import MemoryStore, Reservation, SlotRequest, StoreError
from tests.redis_support import REDIS_URL

# 8 calls in 2 s, one at a time: a slot every 0.275 s.
BUDGET = Budget(per_period=8, period_seconds=2.0, burst=1, margin_seconds=0.2)
INTERVAL = BUDGET.interval
KEY = "shared-v2-key"


class CountingStore(MemoryStore):
    """The real memory store, counting the slots it handed out; it can fail on demand."""

    def __init__(self) -> None:
        super().__init__()
        self.slots_granted = 0
        self.slots_due: list[float] = []  # monotonic time each granted slot is due
        self.fail_reservations = 0  # the next N reservations raise StoreError

    async def reserve(self, key: str, ask: SlotRequest) -> Reservation:
        if self.fail_reservations:
            self.fail_reservations -= 1
            raise StoreError("store down (test)")
        answer = await super().reserve(key, ask)
        if answer.granted:
            self.slots_granted += 1
            self.slots_due.append(time.monotonic() + answer.wait)
        return answer


@dataclass
class GrantLog:
    """Labels in the order their calls got a slot."""

    order: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    async def call(self, pacer: UpstreamPacer, label: str, deadline: float) -> float | None:
        try:
            waited = await pacer.acquire(KEY, deadline, label=label)
        except V1Error as exc:
            assert exc.status == 429
            assert int(exc.headers["Retry-After"]) >= 1
            self.refused.append(label)
            return None
        self.order.append(label)
        return waited

    def flood(self, pacer: UpstreamPacer, label: str) -> list[asyncio.Task[None]]:
        """Twelve callers of ``label`` asking for slots (deadline 3 s) until cancelled,
        pausing only briefly after a refusal."""

        async def flooder() -> None:
            while True:
                if await self.call(pacer, label, 3.0) is None:
                    await asyncio.sleep(0.02)

        return [asyncio.create_task(flooder()) for _ in range(12)]


async def _spend_the_burst(pacer: UpstreamPacer) -> None:
    """Leave the key's schedule with no slot free right now (budget is scarce)."""
    await pacer.acquire(KEY, 10.0, label="warm-up")
    await pacer.acquire(KEY, 10.0, label="warm-up")


async def _scarce_budget(budget: Budget = BUDGET) -> tuple[CountingStore, UpstreamPacer]:
    """A pacer (deadline 10 s) over a counting store, its key's burst spent."""
    store = CountingStore()
    pacer = UpstreamPacer(store, budget, deadline_seconds=10.0)
    await _spend_the_burst(pacer)
    return store, pacer


async def _cancel_all(tasks: list[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_a_quiet_label_is_served_next_while_another_floods() -> None:
    pacer = UpstreamPacer(CountingStore(), BUDGET, deadline_seconds=3.0)
    await _spend_the_burst(pacer)
    log = GrantLog()

    flood = log.flood(pacer, "flooder")
    quiet_waits: list[float] = []
    floods_served_before_quiet: list[int] = []
    try:
        await asyncio.sleep(4 * INTERVAL)
        for _ in range(8):
            # Slower than its equal share (a slot every 2 intervals), as a quiet one is.
            await asyncio.sleep(2.5 * INTERVAL)
            before = len(log.order)
            waited = await log.call(pacer, "quiet", 3.0)
            assert waited is not None, "the quiet label was refused"
            quiet_waits.append(waited)
            floods_served_before_quiet.append(log.order[before:].count("flooder"))
    finally:
        await _cancel_all(flood)
    print(f"\nquiet waits {[round(w, 3) for w in quiet_waits]} (interval {INTERVAL:.3f} s)")
    assert "quiet" not in log.refused
    assert log.refused.count("flooder") > 0
    # It takes the next slot; one flooder grant may already have been due when it came.
    assert max(floods_served_before_quiet) <= 1, floods_served_before_quiet
    assert max(quiet_waits) <= 3 * INTERVAL, quiet_waits


async def test_two_busy_labels_alternate() -> None:
    pacer = UpstreamPacer(CountingStore(), BUDGET, deadline_seconds=10.0)
    await _spend_the_burst(pacer)
    log = GrantLog()
    # The flooder queues first and deep; the other asks afterwards, also several at once.
    first = [asyncio.create_task(log.call(pacer, "flooder", 10.0)) for _ in range(8)]
    await asyncio.sleep(0)
    second = [asyncio.create_task(log.call(pacer, "second", 10.0)) for _ in range(4)]
    await asyncio.gather(*first, *second)
    assert log.refused == []
    # Turns alternate while both wait, though the flooder's 8 were queued first.
    assert log.order == ["flooder", "second"] * 4 + ["flooder"] * 4, log.order


async def test_round_robin_among_three_labels() -> None:
    pacer = UpstreamPacer(CountingStore(), BUDGET, deadline_seconds=10.0)
    await _spend_the_burst(pacer)
    log = GrantLog()
    calls = [
        asyncio.create_task(log.call(pacer, label, 10.0))
        for label in ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    ]
    await asyncio.gather(*calls)
    assert log.refused == []
    assert sorted(log.order) == ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    for start in range(0, 12, 3):
        assert sorted(log.order[start : start + 3]) == ["a", "b", "c"], log.order


async def test_cancelled_waiters_spend_no_slot() -> None:
    store, pacer = await _scarce_budget()
    slots_before = store.slots_granted
    log = GrantLog()
    leaving = [asyncio.create_task(log.call(pacer, "gone", 10.0)) for _ in range(5)]
    staying = [asyncio.create_task(log.call(pacer, "stays", 10.0)) for _ in range(2)]
    await asyncio.sleep(0)  # all seven are queued
    await _cancel_all(leaving)  # their clients left before any of them had a turn
    waits = await asyncio.gather(*staying)
    # Two slots were handed out, both to the callers still there, one after the other.
    assert log.order == ["stays", "stays"]
    assert store.slots_granted - slots_before == 2
    assert all(w is not None and w <= 2 * INTERVAL + 1.0 for w in waits), waits


async def test_a_caller_leaving_during_the_wait_hands_its_slot_on() -> None:
    store, pacer = await _scarce_budget()
    slots_before = store.slots_granted
    log = GrantLog()
    first = asyncio.create_task(log.call(pacer, "first", 10.0))
    await asyncio.sleep(0)  # the dispatcher has reserved the next slot for it
    second = asyncio.create_task(log.call(pacer, "second", 10.0))
    await asyncio.sleep(INTERVAL / 3)
    await _cancel_all([first])
    await second
    assert log.order == ["second"]
    assert store.slots_granted - slots_before == 1, "the reserved slot went to the next caller"


async def test_no_slot_is_lost_to_callers_that_leave_at_any_moment() -> None:
    """One caller leaves before its slot, one in the instant its slot is granted; the
    slot a caller left is held (half the margin) for the next one to come."""
    # A slot every 0.625 s, and one nobody took is held for 2 s.
    budget = Budget(per_period=8, period_seconds=1.0, burst=1, margin_seconds=4.0)
    store, pacer = await _scarce_budget(budget)
    slots_before = store.slots_granted
    log = GrantLog()
    loop = asyncio.get_running_loop()

    gone = asyncio.create_task(log.call(pacer, "gone", 10.0))
    await asyncio.sleep(0.01)  # it is queued, and its slot reserved
    await _cancel_all([gone])
    # Come back once a second slot is free too, while the first is still held.
    await asyncio.sleep(store.slots_due[-1] + budget.interval + 0.2 - time.monotonic())
    second: asyncio.Task[float | None] | None = None

    async def first_then_cancel_second() -> None:
        await log.call(pacer, "first", 10.0)
        assert second is not None
        second.cancel()  # granted in the same turn as the first: its slot must go on

    first = asyncio.create_task(first_then_cancel_second())
    second = asyncio.create_task(log.call(pacer, "second", 10.0))
    started = loop.time()
    third = asyncio.create_task(log.call(pacer, "third", 10.0))
    await first
    third_waited = await third
    with contextlib.suppress(asyncio.CancelledError):
        await second
    assert log.order == ["first", "third"], log.order
    assert third_waited is not None and loop.time() - started < budget.interval / 2
    # The slot reserved for the third meanwhile is held: a caller coming for it gets it.
    await asyncio.sleep(store.slots_due[-1] + 0.2 - time.monotonic())
    started = loop.time()
    assert await log.call(pacer, "fourth", 10.0) is not None
    assert loop.time() - started < budget.interval / 2
    # Three callers served, three slots spent: none for the two that left.
    assert store.slots_granted - slots_before == 3


async def test_a_flood_past_its_deadline_is_refused_at_once() -> None:
    pacer = UpstreamPacer(CountingStore(), BUDGET, deadline_seconds=1.0)
    await _spend_the_burst(pacer)
    log = GrantLog()
    loop = asyncio.get_running_loop()
    started = loop.time()
    refused_at: list[float] = []

    async def one() -> None:
        if await log.call(pacer, "flooder", 1.0) is None:
            refused_at.append(loop.time() - started)

    await asyncio.gather(*(one() for _ in range(40)))
    # A deadline of 1 s holds about 1 / 0.275 = 3.6 slots: the rest are refused.
    assert 2 <= len(log.order) <= 6, log.order
    assert len(log.refused) == 40 - len(log.order)
    # At once: every refusal came before the first slot was due (no queueing for a 429).
    assert max(refused_at) < INTERVAL, refused_at
    # The queue stays bounded, and a quiet label still gets the next slot.
    quiet = await log.call(pacer, "quiet", 1.0)
    assert quiet is not None


async def test_a_store_failure_fails_its_caller_and_the_rest_are_served() -> None:
    store, pacer = await _scarce_budget()
    store.fail_reservations = 1
    with pytest.raises(StoreError):  # on the fast path: unchanged, to the caller
        await pacer.acquire(KEY, 10.0, label="a")
    log = GrantLog()
    calls = [asyncio.create_task(log.call(pacer, "a", 10.0)) for _ in range(3)]
    await asyncio.sleep(0)
    store.fail_reservations = 1  # the dispatcher's next reservation fails
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, StoreError)]
    assert len(failures) == 1, outcomes
    assert log.order == ["a", "a"], "the dispatcher carried on after the failure"
    # And it is still there for the next caller.
    assert await log.call(pacer, "a", 10.0) is not None


async def test_replicas_sharing_redis_share_the_schedule_and_a_flood_does_not_starve_the_other(
    redis_prefix: str,
) -> None:
    stores = [RedisStore(REDIS_URL, redis_prefix) for _ in range(2)]
    replica_a, replica_b = (UpstreamPacer(s, BUDGET, deadline_seconds=3.0) for s in stores)
    await _spend_the_burst(replica_a)
    log = GrantLog()
    loop = asyncio.get_running_loop()

    flood = log.flood(replica_a, "flooder@a")
    floods_served_before_quiet: list[int] = []
    try:
        await asyncio.sleep(4 * INTERVAL)
        started = loop.time()
        served_before = len(log.order)
        for _ in range(6):
            await asyncio.sleep(2.5 * INTERVAL)
            before = len(log.order)
            assert await log.call(replica_b, "quiet@b", 3.0) is not None, "quiet was refused"
            floods_served_before_quiet.append(log.order[before:].count("flooder@a"))
        elapsed = loop.time() - started
        served = len(log.order) - served_before
    finally:
        await _cancel_all(flood)
        for store in stores:
            await store.close()
    print(f"\nflooder slots before each quiet one: {floods_served_before_quiet}")
    # The one schedule holds for both: no more slots than it has in the time.
    assert served <= elapsed / INTERVAL + 2, (served, elapsed)
    # Replica A holds one slot ahead at most: B's caller waits behind that one (and one
    # already due), never behind A's whole queue.
    assert max(floods_served_before_quiet) <= 2, floods_served_before_quiet
    assert "quiet@b" not in log.refused


def _completes_without_suspending(coroutine: Coroutine[Any, Any, float]) -> float:
    try:
        coroutine.send(None)
    except StopIteration as done:
        return float(done.value)
    coroutine.close()
    raise AssertionError("acquire suspended (a task switch) though a slot was free")


async def test_a_free_slot_is_taken_without_a_task_switch() -> None:
    roomy = Budget(per_period=12, period_seconds=0.12, burst=6, margin_seconds=0.0)
    pacer = UpstreamPacer(MemoryStore(), roomy, deadline_seconds=20)
    await pacer.acquire(KEY)  # a new schedule counts as just spent: let it idle to a burst
    await asyncio.sleep(10 * roomy.interval)
    for _ in range(5):
        assert _completes_without_suspending(pacer.acquire(KEY, label="careers-site")) == 0.0
    off = UpstreamPacer(MemoryStore(), None, deadline_seconds=20)
    assert _completes_without_suspending(off.acquire(KEY)) == 0.0

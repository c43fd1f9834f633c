"""Pacing upstream calls to API v2's budget (60 requests per minute per key), in fair turns.

Every v2 call first gets a slot in its key's GCRA schedule in the shared store, so all
replicas together stay within the budget. A call whose slot is further away than the
deadline is not sent (it would only be refused upstream): the v1 client gets a 429 with
``Retry-After`` instead.

The schedule is strict enough for a fixed-window limiter upstream: with ``burst`` calls
allowed back to back, the emission interval is ``(period + margin) / (budget - burst +
1)``, so no window of ``period`` seconds, wherever it starts, ever holds more than
``budget`` calls, even when a call leaves up to ``margin`` after its slot.

Fair turns. Several integrations (key labels) may map to one v2 key. While the key has
budget to spare a call takes its slot at once (one store round trip, no task switch, no
queue). Once the budget is scarce, callers queue per label and one dispatcher task per
v2 key hands out the slots: it reserves the next slot from the store (with the deadline
of the caller it expects to serve), sleeps until it, then grants it to the head of the
queue of the label served least recently: round robin among the labels with waiters,
equal weights, one slot a turn. So a flooding integration fills only its own queue, and
a quiet one (asking less than its equal share) waits for at most about one emission
interval. A label asking more than its share is held to it: at 60/min with burst 10 the
sustained rate is 51 slots in 61 s, so with two labels busy each gets a slot every two
intervals (2.4 s).

A caller that leaves (its request was cancelled) spends nothing: the dispatcher skips it
and the slot goes to the next live caller; if nobody is left, the slot is held for the
next arrival for a moment (``margin / 2``, so the call still leaves within the margin).
A caller whose deadline its queue position cannot meet is refused at once, so a flood
gets fast 429s rather than long waits, and every queue stays shorter than its deadline.

Across replicas sharing Redis each replica runs its own dispatcher per key over the one
shared schedule. What holds:

- the shared schedule is never exceeded: every call, on any replica, has a slot of it;
- each replica is fair among the labels it sees, as above;
- a replica has at most one reserved-but-not-yet-due slot per key (its dispatcher
  reserves one slot at a time), so replicas get slots first come, first served, one at a
  time: a label flooding replica A delays a quiet label on replica B by about one slot
  per other replica with waiters (the one each holds), never by A's whole queue.

A store failure (``proxy.store.StoreError``) is the caller's: it propagates from
:meth:`UpstreamPacer.acquire` unchanged; in the dispatcher it fails the caller it was
reserving for, and the others are served on.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import itertools
import math
from collections import deque
from dataclasses import dataclass, field

from mappings.errors import RateLimited, V1Error
from proxy.store import SlotRequest, Store

# A slot granted this much past its caller's deadline is still taken (timer overshoot).
_LATE_GRACE_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Budget:
    per_period: int = 60
    period_seconds: float = 60.0
    burst: int = 10
    margin_seconds: float = 1.0

    @property
    def interval(self) -> float:
        slots = max(1, self.per_period - self.burst + 1)
        return (self.period_seconds + self.margin_seconds) / slots

    def ask(self, max_wait: float) -> SlotRequest:
        """A slot of this budget's schedule, at most ``max_wait`` seconds away."""
        return SlotRequest(self.interval, self.burst, max_wait)


@functools.lru_cache(maxsize=256)  # a few keys, asked for on every call
def key_id(v2_key: str) -> str:
    """A v2 key never goes into a store key: a short digest names it there."""
    return hashlib.sha256(v2_key.encode()).hexdigest()[:24]


@dataclass(eq=False, slots=True)
class _Waiter:
    """One call waiting for a slot; ``turn`` resolves to the slot or to the refusal."""

    label: str
    deadline: float  # loop time
    turn: asyncio.Future[None]


@dataclass(eq=False)
class _KeyLane:
    """The waiters of one v2 key on this replica, per label, and the task serving them."""

    # Waiters not yet answered, per label, in arrival order. One whose caller left is
    # taken out by that caller, or skipped at the head if the dispatcher meets it first.
    queues: dict[str, deque[_Waiter]] = field(default_factory=dict)
    last_served: dict[str, int] = field(default_factory=dict)  # label -> grant number
    grants: itertools.count[int] = field(default_factory=itertools.count)
    slot_at: float | None = None  # loop time of the next slot, while it is reserved
    dispatcher: asyncio.Task[None] | None = None
    arrival: asyncio.Event = field(default_factory=asyncio.Event)

    def join(self, waiter: _Waiter) -> None:
        self.queues.setdefault(waiter.label, deque()).append(waiter)
        self.arrival.set()

    def leave(self, waiter: _Waiter) -> None:
        """Take out a waiter (answered, or its caller left)."""
        queue = self.queues.get(waiter.label)
        if queue is None:
            return
        with contextlib.suppress(ValueError):  # already skipped by the dispatcher
            queue.remove(waiter)  # the head, or near it: queues stay short
        if not queue:
            del self.queues[waiter.label]

    def next_waiter(self) -> _Waiter | None:
        """The live head of the queue of the label served least recently."""
        while self.queues:
            label = min(self.queues, key=lambda name: self.last_served.get(name, -1))
            queue = self.queues[label]
            while queue and queue[0].turn.done():  # its caller left
                queue.popleft()
            if queue:
                return queue[0]
            del self.queues[label]
        return None

    def answer(self, waiter: _Waiter, error: BaseException | None = None) -> None:
        """Grant ``waiter`` the slot due now, or fail it with ``error``."""
        self.leave(waiter)
        if error is not None:
            waiter.turn.set_exception(error)
        else:
            self.last_served[waiter.label] = next(self.grants)
            waiter.turn.set_result(None)

    def estimated_wait(self, label: str, now: float, interval: float) -> float:
        """When a caller joining ``label``'s queue now would get its slot, at the soonest:
        its own label's waiters go first, and each other label's up to as many."""
        ahead = len(self.queues.get(label, ()))
        ahead += sum(min(len(queue), ahead) for name, queue in self.queues.items() if name != label)
        due = 0.0 if self.slot_at is None else max(0.0, self.slot_at - now)
        return due + ahead * interval


class UpstreamPacer:
    """Paces each v2 key's calls to its budget, in fair turns among the labels sharing it
    (see the module docstring); ``budget`` None turns pacing off."""

    def __init__(self, store: Store, budget: Budget | None, deadline_seconds: float) -> None:
        self._store = store
        self.budget = budget
        self.deadline_seconds = deadline_seconds
        self._lanes: dict[str, _KeyLane] = {}  # by schedule key; only keys with waiters

    async def acquire(
        self, v2_key: str, deadline: float | None = None, *, label: str = ""
    ) -> float:
        """Wait for this key's next slot; return the seconds waited. Raises a v1 429 when
        the slot is further away than the deadline (seconds from now). ``label`` names the
        integration asking (its key label), for fair turns among the labels of one key."""
        budget = self.budget
        if budget is None:
            return 0.0
        max_wait = self.deadline_seconds if deadline is None else max(0.0, deadline)
        schedule = f"gcra:{key_id(v2_key)}"
        first_slot_in = 0.0
        if schedule not in self._lanes:
            # Nobody waits: a slot free right now is taken without queueing.
            free_now = await self._store.reserve(schedule, budget.ask(0.0))
            if free_now.granted:
                return 0.0
            if free_now.wait > max_wait:
                raise too_many_requests(free_now.wait)
            first_slot_in = free_now.wait
        loop = asyncio.get_running_loop()
        started = loop.time()
        lane = self._lanes.get(schedule)
        if lane is None:
            lane = self._lanes[schedule] = _KeyLane(slot_at=started + first_slot_in)
            lane.dispatcher = loop.create_task(self._dispatch(schedule, lane, budget))
        else:
            expected = lane.estimated_wait(label, started, budget.interval)
            if expected > max_wait:
                raise too_many_requests(expected - max_wait)
        waiter = _Waiter(label, started + max_wait, loop.create_future())
        lane.join(waiter)
        try:
            await waiter.turn
        except asyncio.CancelledError:
            if waiter.turn.cancelled():
                lane.leave(waiter)  # gone before its turn: it spends nothing
            elif waiter.turn.exception() is None:
                self._hand_on(schedule)  # granted as it was cancelled: the slot goes on
            raise
        return loop.time() - started

    def _hand_on(self, schedule: str) -> None:
        """A slot granted to a caller that has just gone goes to the next live caller
        (of the key's lane now: the one it was granted in may have ended since)."""
        lane = self._lanes.get(schedule)
        waiter = lane.next_waiter() if lane is not None else None
        if lane is not None and waiter is not None:
            lane.answer(waiter)

    async def _dispatch(self, schedule: str, lane: _KeyLane, budget: Budget) -> None:
        """Serve ``lane``'s waiters one slot at a time until none is left."""
        loop = asyncio.get_running_loop()
        try:
            slot_due = False  # a reserved slot whose time has come, not yet handed out
            while True:
                if not slot_due:
                    expected = lane.next_waiter()
                    if expected is None:
                        return
                    remaining = max(0.0, expected.deadline - loop.time())
                    try:
                        slot = await self._store.reserve(schedule, budget.ask(remaining))
                    except Exception as exc:  # the store's failure is this caller's answer
                        if not expected.turn.done():
                            lane.answer(expected, exc)
                        continue
                    if not slot.granted:
                        if not expected.turn.done():
                            lane.answer(expected, too_many_requests(slot.wait))
                        continue
                    lane.slot_at = loop.time() + slot.wait
                    if slot.wait > 0:
                        await asyncio.sleep(slot.wait)
                    lane.slot_at = None
                    slot_due = True
                waiter = lane.next_waiter()
                if waiter is None:
                    # Everyone left while the slot came: hold it a moment for the next caller.
                    lane.arrival.clear()
                    try:
                        await asyncio.wait_for(lane.arrival.wait(), budget.margin_seconds / 2)
                    except TimeoutError:
                        return
                    continue
                if loop.time() > waiter.deadline + _LATE_GRACE_SECONDS:
                    lane.answer(waiter, too_many_requests(budget.interval))
                    continue
                lane.answer(waiter)
                slot_due = False
        finally:
            lane.dispatcher = None
            lane.slot_at = None
            if self._lanes.get(schedule) is lane:
                del self._lanes[schedule]
            # Waiters are left only if this task itself was cancelled (the loop is closing).
            stranded = [w for queue in lane.queues.values() for w in queue if not w.turn.done()]
            for waiter in stranded:
                lane.answer(waiter, too_many_requests(budget.interval))


def too_many_requests(retry_after: float) -> V1Error:
    return RateLimited(
        "Too many requests: the Homerun API v2 budget of this key is spent; retry later",
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
    )

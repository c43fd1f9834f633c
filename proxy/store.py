"""The one place for state that replicas share: drafts, caches, budgets, usage counts.

Two implementations behind one interface: :class:`MemoryStore` (the default, one
process) and :class:`proxy.redis_store.RedisStore` (many replicas;
``store_url = "redis://…"``). Keys are namespaced by purpose (``draft:``, ``cache:``,
``gcra:``, ``usage:``) and, in Redis, by a prefix; every value written with a TTL
expires.

The rate-limit budget is a GCRA ("generic cell rate algorithm") reservation: each
call atomically takes the next free slot of its key's schedule and learns how long
to wait for it; a slot further away than the caller's deadline is not taken.

A schedule the store does not have (never used, or lost: Redis restarted empty, was
flushed or failed over) counts as *just spent*: one call now, the rest paced. Only a
schedule that exists and has been idle hands out a burst, so a flapping store cannot
hand out a fresh burst on every restart. Shared by replicas, a lost schedule also
presumes each other replica still holds the one slot it was given (``lost_slots``):
it resumes that many intervals out, so a flap hands out no slot twice. Schedules are
kept a day past their last slot, long enough for ordinary idleness to refill the burst.

Failures: a store raises :class:`StoreError`; :class:`proxy.store_guard.StoreGuard`
bounds every operation in time and serves the bridge through an outage.
"""

from __future__ import annotations

import builtins
import heapq
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class StoreError(Exception):
    """The store did not answer (the Redis server is down, say)."""


@dataclass(frozen=True, slots=True)
class Reservation:
    """A GCRA answer: ``granted`` with ``wait`` seconds to sleep first, or refused with
    ``wait`` = how long until a slot would be free."""

    granted: bool
    wait: float


@dataclass(frozen=True, slots=True)
class SlotRequest:
    """One call's ask of a GCRA schedule: its pace and how long it will wait.

    ``interval``: seconds between slots; ``burst``: slots an idle schedule hands out back
    to back; ``max_wait``: a slot further away is refused, not taken. ``spent_for``: the
    caller has promised slots of this key up to that many seconds from now (paced locally
    while the store was away, or given earlier); the schedule is then treated as at least
    just spent, plus that (no burst, and no slot on top of the caller's own).
    ``lost_slots``: how many slots a missing schedule presumes others still hold (one per
    other replica): it resumes that many intervals out; None lets the store decide (0, or
    for :class:`proxy.store_guard.StoreGuard` one per other replica of its share).
    """

    interval: float
    burst: int
    max_wait: float
    spent_for: float | None = None
    lost_slots: int | None = None


class Store(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None: ...

    async def set_many(self, items: dict[str, bytes], ttl_seconds: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def incr(self, key: str) -> int: ...

    async def reserve(self, key: str, ask: SlotRequest) -> Reservation:
        """Take the key's next slot unless it is more than ``ask.max_wait`` away."""
        ...

    async def hincr(self, key: str, fields: dict[str, int], ttl_seconds: float) -> None: ...

    async def hset(self, key: str, fields: dict[str, str], ttl_seconds: float) -> None: ...

    async def hgetall(self, key: str) -> dict[str, str]: ...

    async def hdel(self, key: str, fields: Sequence[str]) -> None:
        """Remove these fields of the hash (absent ones are no error); the TTL stays."""
        ...

    async def sadd(self, key: str, member: str, ttl_seconds: float) -> None: ...

    async def smembers(self, key: str) -> builtins.set[str]: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


# A schedule outlives its last slot by this much: idleness within it refills the burst.
SCHEDULE_KEEP_SECONDS = 24 * 3600


def gcra_reserve(tat: float | None, now: float, ask: SlotRequest) -> tuple[Reservation, float]:
    """One GCRA step: (answer, new theoretical arrival time). Shared by both stores
    (the Redis Lua script is this function, line for line). ``tat`` None: the schedule
    is missing, and a missing schedule is just spent (see the module docstring), with
    ``ask.lost_slots`` more presumed held elsewhere."""
    interval = ask.interval
    spent = now + (ask.burst - 1) * interval
    if tat is None:
        tat = spent + (ask.lost_slots or 0) * interval
    if ask.spent_for is not None:
        tat = max(tat, spent + max(0.0, ask.spent_for))
    tat = max(tat, now)
    wait = max(0.0, tat - (ask.burst - 1) * interval - now)
    if wait > ask.max_wait:
        return Reservation(False, wait), tat
    return Reservation(True, wait), tat + interval


class MemoryStore:
    """Dicts with expiry; enough for one process.

    Expired values are dropped when read, and also swept as time passes: most cache
    keys are never read again once a write moves the cache to a new generation, so
    lazy expiry alone would keep every one of them for the life of the process.
    """

    def __init__(self) -> None:
        self._values: dict[str, tuple[bytes, float | None]] = {}
        self._hashes: dict[str, dict[str, str]] = defaultdict(dict)
        self._sets: dict[str, set[str]] = defaultdict(set)
        self._tat: dict[str, float] = {}
        # (expiry, key) of every value set with a TTL, soonest first; an entry whose key
        # was set again since (another expiry) or deleted is skipped when it comes up.
        self._expiries: list[tuple[float, str]] = []
        # Hashes expire their TTL after their last write, as Redis's EXPIRE has them (the
        # note-create marks of every application noted would otherwise stay for good).
        self._hash_expires: dict[str, float] = {}
        self._hash_expiries: list[tuple[float, str]] = []

    def _sweep(self, now: float) -> None:
        expiries = self._expiries
        while expiries and expiries[0][0] <= now:
            expires, key = heapq.heappop(expiries)
            item = self._values.get(key)
            if item is not None and item[1] == expires:
                del self._values[key]
        hashes = self._hash_expiries
        while hashes and hashes[0][0] <= now:
            expires, key = heapq.heappop(hashes)
            if self._hash_expires.get(key) == expires:
                del self._hash_expires[key]
                self._hashes.pop(key, None)

    def _hash_written(self, key: str, ttl_seconds: float) -> None:
        """A hash just written lives ``ttl_seconds`` more (expired ones swept now)."""
        now = time.monotonic()
        self._sweep(now)
        expires = now + ttl_seconds
        self._hash_expires[key] = expires
        heapq.heappush(self._hash_expiries, (expires, key))

    def __len__(self) -> int:
        """Values and hashes held, expired ones not yet swept included."""
        return len(self._values) + len(self._hashes)

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        item = self._values.get(key)
        if item is None:
            return None
        expires = item[1]
        if expires is not None and expires <= time.monotonic():
            del self._values[key]
            return None
        return item

    async def get(self, key: str) -> bytes | None:
        item = self._live(key)
        return item[0] if item else None

    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None:
        now = time.monotonic()
        self._sweep(now)
        expires = now + ttl_seconds if ttl_seconds else None
        self._values[key] = (value, expires)
        if expires is not None:
            heapq.heappush(self._expiries, (expires, key))

    async def set_many(self, items: dict[str, bytes], ttl_seconds: float) -> None:
        for key, value in items.items():
            await self.set(key, value, ttl_seconds)

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    async def incr(self, key: str) -> int:
        item = self._live(key)
        value = int(item[0]) + 1 if item else 1
        self._values[key] = (str(value).encode(), item[1] if item else None)
        return value

    async def reserve(self, key: str, ask: SlotRequest) -> Reservation:
        answer, tat = gcra_reserve(self._tat.get(key), time.monotonic(), ask)
        if answer.granted:
            self._tat[key] = tat
        return answer

    async def hincr(self, key: str, fields: dict[str, int], ttl_seconds: float) -> None:
        self._hash_written(key, ttl_seconds)
        target = self._hashes[key]
        for name, amount in fields.items():
            target[name] = str(int(target.get(name, "0")) + amount)

    async def hset(self, key: str, fields: dict[str, str], ttl_seconds: float) -> None:
        self._hash_written(key, ttl_seconds)
        self._hashes[key].update(fields)

    async def hgetall(self, key: str) -> dict[str, str]:
        self._sweep(time.monotonic())
        return dict(self._hashes.get(key, {}))

    async def hdel(self, key: str, fields: Sequence[str]) -> None:
        target = self._hashes.get(key)
        if target is None:
            return
        for name in fields:
            target.pop(name, None)
        if not target:  # as in Redis, a hash left empty is gone
            del self._hashes[key]
            self._hash_expires.pop(key, None)

    async def sadd(self, key: str, member: str, ttl_seconds: float) -> None:
        self._sets[key].add(member)

    async def smembers(self, key: str) -> builtins.set[str]:
        return set(self._sets.get(key, set()))

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._values.clear()
        self._expiries.clear()

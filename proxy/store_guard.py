"""The store guard: the bridge keeps serving while its shared store (Redis) is away.

:class:`StoreGuard` wraps the configured store. Every operation is bounded by
``store_timeout_seconds``; one that fails or takes longer marks the store *down*
(``store.down`` logged once, ``homerun_bridge_store_outages`` counted). While it is
down, operations fail at once with :class:`StoreError` (callers read through to v2,
skip the cache, keep their counts), except one probe every ``PROBE_SECONDS``: the first
operation after that is let through, and when it answers the store is *up* again
(``store.up`` logged with how long it was away).

Pacing never fails: while the shared schedule cannot be reached, ``reserve`` takes its
slot from a local GCRA at ``outage_share`` of the budget (emission interval divided by
the share, burst 1), starting *just spent*: one local interval after the last shared
slot this replica was given, never a fresh burst. N replicas with share 1/N stay within
the budget together. A schedule the store lost resumes N - 1 intervals later than a
just-spent one: each other replica may still hold the slot it was given. Every shared
reservation carries how far ahead this replica has already promised slots
(``spent_for``): a schedule that exists lies behind them anyway, but one the store lost
(restarted empty between two calls, unnoticed) or that was paced locally meanwhile
resumes behind them, without a burst.
"""

from __future__ import annotations

import asyncio
import builtins
import math
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final, TypeVar

import structlog

from proxy.metrics import BridgeMetrics
from proxy.store import (
    MemoryStore,
    Reservation,
    SlotRequest,
    Store,
    StoreError,
    gcra_reserve,
)

T = TypeVar("T")
PROBE_SECONDS: Final = 0.5

log = structlog.get_logger("homerun_bridge.store")


@dataclass(slots=True)
class _LocalSchedule:
    """One key's outage schedule: its theoretical arrival time and the outage it is from."""

    tat: float
    outage: int


class StoreGuard:
    """A :class:`Store` that bounds, watches and (for pacing) replaces the one it wraps."""

    def __init__(
        self,
        backing: Store,
        *,
        timeout_seconds: float,
        outage_share: float,
        probe_seconds: float = PROBE_SECONDS,
        metrics: BridgeMetrics | None = None,
    ) -> None:
        if not 0 < outage_share <= 1:
            raise ValueError("outage_share must be in (0, 1]")
        self.backing = backing
        self.timeout_seconds = timeout_seconds
        self.outage_share = outage_share
        # The replicas the share is meant for, besides this one (share 1/N: N - 1).
        self.other_replicas = max(0, math.ceil(1 / outage_share - 1e-9) - 1)
        self.probe_seconds = probe_seconds
        self._metrics = metrics
        self._down_since: float | None = None
        self._reason = ""
        self._next_probe = 0.0
        self._probing = False
        self.outages = 0
        self._local: dict[str, _LocalSchedule] = {}
        # key -> monotonic time of the latest slot this replica was given, shared or local
        self._promised: dict[str, float] = {}

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def _mark_down(self, operation: str, exc: BaseException) -> None:
        if self._metrics is not None:
            self._metrics.store_errors.labels(operation).inc()
        reason = str(exc) if isinstance(exc, StoreError) else f"{operation} took longer than "
        if not isinstance(exc, StoreError):
            reason += f"{self.timeout_seconds} s"
        now = time.monotonic()
        self._next_probe = now + self.probe_seconds
        if self._down_since is not None:
            return
        self._down_since = now
        self._reason = reason
        self.outages += 1
        if self._metrics is not None:
            self._metrics.store_outages.inc()
        log.error("store.down", operation=operation, error=reason)

    def _mark_up(self) -> None:
        if self._down_since is None:
            return
        away = time.monotonic() - self._down_since
        self._down_since = None
        log.warning("store.up", down_seconds=round(away, 2))

    async def _guarded(self, operation: str, call: Callable[[], Awaitable[T]]) -> T:
        probe = False
        if self._down_since is not None:
            now = time.monotonic()
            if self._probing or now < self._next_probe:
                away = now - self._down_since
                raise StoreError(f"not answering for {away:.1f} s ({self._reason})")
            probe = self._probing = True
            self._next_probe = now + self.probe_seconds
        try:
            async with asyncio.timeout(self.timeout_seconds):
                result = await call()
        except (StoreError, TimeoutError) as exc:
            self._mark_down(operation, exc)
            if isinstance(exc, StoreError):
                raise
            raise StoreError(
                f"store {operation} took longer than {self.timeout_seconds} s"
            ) from exc
        finally:
            if probe:
                self._probing = False
        self._mark_up()
        return result

    async def get(self, key: str) -> bytes | None:
        return await self._guarded("get", lambda: self.backing.get(key))

    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None:
        await self._guarded("set", lambda: self.backing.set(key, value, ttl_seconds))

    async def set_many(self, items: dict[str, bytes], ttl_seconds: float) -> None:
        await self._guarded("set", lambda: self.backing.set_many(items, ttl_seconds))

    async def delete(self, key: str) -> None:
        await self._guarded("delete", lambda: self.backing.delete(key))

    async def incr(self, key: str) -> int:
        return await self._guarded("incr", lambda: self.backing.incr(key))

    async def hincr(self, key: str, fields: dict[str, int], ttl_seconds: float) -> None:
        await self._guarded("hincrby", lambda: self.backing.hincr(key, fields, ttl_seconds))

    async def hset(self, key: str, fields: dict[str, str], ttl_seconds: float) -> None:
        await self._guarded("hset", lambda: self.backing.hset(key, fields, ttl_seconds))

    async def hgetall(self, key: str) -> dict[str, str]:
        return await self._guarded("hgetall", lambda: self.backing.hgetall(key))

    async def hdel(self, key: str, fields: Sequence[str]) -> None:
        await self._guarded("hdel", lambda: self.backing.hdel(key, fields))

    async def sadd(self, key: str, member: str, ttl_seconds: float) -> None:
        await self._guarded("sadd", lambda: self.backing.sadd(key, member, ttl_seconds))

    async def smembers(self, key: str) -> builtins.set[str]:
        return await self._guarded("smembers", lambda: self.backing.smembers(key))

    async def ping(self) -> bool:
        """True when the store answers; raises :class:`StoreError` (at once while it is
        down and no probe is due) when it does not."""

        async def answered() -> bool:
            if not await self.backing.ping():
                raise StoreError("ping not answered")
            return True

        return await self._guarded("ping", answered)

    async def close(self) -> None:
        await self.backing.close()

    async def reserve(self, key: str, ask: SlotRequest) -> Reservation:
        """The shared schedule's slot, or while it is unreachable a local one (never fails).
        A schedule the store lost presumes one slot held by each other replica."""
        spent_for = ask.spent_for
        if spent_for is None:
            spent_for = self._promised_for(key, ask.interval)
        others = self.other_replicas if ask.lost_slots is None else ask.lost_slots
        shared_ask = replace(ask, spent_for=spent_for, lost_slots=others)
        try:
            answer = await self._guarded("reserve", lambda: self.backing.reserve(key, shared_ask))
        except StoreError:
            return self._reserve_locally(key, ask)
        if answer.granted:
            # The shared schedule has taken over this key again.
            self._local.pop(key, None)
            self._promised[key] = time.monotonic() + answer.wait
        return answer

    def _promised_for(self, key: str, interval: float) -> float | None:
        """How far ahead this replica has promised slots of the key, as ``spent_for``.

        A schedule that exists already lies behind them (no effect); one the store lost
        (restarted empty, flushed) resumes behind them instead of handing their slots out
        a second time. After local pacing the schedule resumes with no burst, and one
        interval later per other replica: those may still be pacing locally (each holds a
        local slot, and sees the store back only at its next probe).
        """
        now = time.monotonic()
        local = self._local.get(key)
        promised = self._promised.get(key)
        if local is not None:
            return max(0.0, local.tat - now) + self.other_replicas * interval
        if promised is not None and promised > now:
            return promised + interval - now
        return None

    def _reserve_locally(self, key: str, ask: SlotRequest) -> Reservation:
        now = time.monotonic()
        local_interval = ask.interval / self.outage_share
        local = self._local.get(key)
        if local is None or local.outage != self.outages:
            # Just spent: one local interval after the last slot promised, shared or local.
            last = max(now, self._promised.get(key, now), local.tat if local else now)
            local = self._local[key] = _LocalSchedule(last + local_interval, self.outages)
        local_ask = SlotRequest(local_interval, burst=1, max_wait=ask.max_wait)
        answer, tat = gcra_reserve(local.tat, now, local_ask)
        if answer.granted:
            local.tat = tat
            self._promised[key] = now + answer.wait
        return answer


def guard_store(
    store: Store,
    *,
    timeout_seconds: float,
    outage_share: float,
    metrics: BridgeMetrics | None = None,
) -> Store:
    """The store the app uses: a shared one guarded; the memory store as it is (it never
    fails, and its operations never wait)."""
    if isinstance(store, MemoryStore | StoreGuard):
        return store
    return StoreGuard(
        store, timeout_seconds=timeout_seconds, outage_share=outage_share, metrics=metrics
    )

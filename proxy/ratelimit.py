"""Pacing upstream calls to API v2's budget (60 requests per minute per key).

Every v2 call first reserves a slot in its key's GCRA schedule in the shared store, so
all replicas together stay within the budget. A call whose slot is further away than
the deadline is not sent (it would only be refused upstream): the v1 client gets a 429
with ``Retry-After`` instead.

The schedule is strict enough for a fixed-window limiter upstream: with ``burst`` calls
allowed back to back, the emission interval is ``(period + margin) / (budget - burst +
1)``, so no window of ``period`` seconds, wherever it starts, ever holds more than
``budget`` calls, even with a little network jitter (``margin``).
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import math
from dataclasses import dataclass
from http import HTTPStatus

from mappings.errors import V1Error
from proxy.store import Store


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


@functools.lru_cache(maxsize=256)  # a few keys, asked for on every call
def key_id(v2_key: str) -> str:
    """A v2 key never goes into a store key: a short digest names it there."""
    return hashlib.sha256(v2_key.encode()).hexdigest()[:24]


class UpstreamPacer:
    def __init__(self, store: Store, budget: Budget | None, deadline_seconds: float) -> None:
        self._store = store
        self.budget = budget
        self.deadline_seconds = deadline_seconds

    async def acquire(
        self, v2_key: str, deadline: float | None = None, *, label: str = ""
    ) -> float:
        """Wait for this key's next slot; return the seconds waited. Raises a v1 429 when
        the slot is further away than the deadline (seconds from now). ``label`` names the
        integration asking (its key label), for fair turns among the labels of one key."""
        if self.budget is None:
            return 0.0
        max_wait = self.deadline_seconds if deadline is None else max(0.0, deadline)
        reservation = await self._store.reserve(
            f"gcra:{key_id(v2_key)}", self.budget.interval, self.budget.burst, max_wait
        )
        if not reservation.granted:
            raise too_many_requests(reservation.wait)
        if reservation.wait > 0:
            await asyncio.sleep(reservation.wait)
        return reservation.wait


def too_many_requests(retry_after: float) -> V1Error:
    return V1Error(
        HTTPStatus.TOO_MANY_REQUESTS,
        "Too many requests: the Homerun API v2 budget of this key is spent; retry later",
        headers={"Retry-After": str(max(1, math.ceil(retry_after)))},
    )

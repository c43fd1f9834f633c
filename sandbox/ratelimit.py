"""Per-key fixed-window rate limiter with Laravel's throttle headers (spec §4, INFERRED).

A window opens at a key's first counted request and lasts 60 seconds, like Laravel's
`RateLimiter` (the counter's cache entry expires 60 s after the first hit). Refused requests do
not count as hits, but each refusal is tallied so tests can assert the bridge never got one.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

WINDOW_SECONDS = 60


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    limit: int
    remaining: int
    reset_at: float  # epoch seconds when the window closes

    def headers(self, now: float) -> dict[str, str]:
        headers = {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
        }
        if not self.allowed:
            headers["Retry-After"] = str(max(1, math.ceil(self.reset_at - now)))
            headers["X-RateLimit-Reset"] = str(math.ceil(self.reset_at))
        return headers


@dataclass
class _Window:
    opened_at: float
    hits: int


class FixedWindowRateLimiter:
    def __init__(self, limit_per_minute: int, clock: Callable[[], float]) -> None:
        self.limit = limit_per_minute
        self._clock = clock
        self._windows: dict[str, _Window] = {}

    def hit(self, key: str) -> RateDecision:
        now = self._clock()
        window = self._windows.get(key)
        if window is None or now >= window.opened_at + WINDOW_SECONDS:
            window = self._windows[key] = _Window(opened_at=now, hits=0)
        reset_at = window.opened_at + WINDOW_SECONDS
        if window.hits >= self.limit:
            return RateDecision(allowed=False, limit=self.limit, remaining=0, reset_at=reset_at)
        window.hits += 1
        return RateDecision(
            allowed=True, limit=self.limit, remaining=self.limit - window.hits, reset_at=reset_at
        )

    def reset(self) -> None:
        self._windows.clear()

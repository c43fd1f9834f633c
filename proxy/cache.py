"""Read economy: a shared response cache for rarely-changing reads, and coalescing.

- Vacancies change rarely, and legacy careers sites list them on every page view:
  their v2 answers are cached in the store (shared by replicas) for a TTL, keyed by
  the v2 key and the exact v2 request. A client's ``Cache-Control: no-cache`` skips
  the cache; a successful write through the bridge makes every cached read of that
  key stale (a per-key generation number is part of the cache key).
- Identical GETs in flight at the same moment in one process share one upstream call.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from typing import Final

from mappings.plan import V2Request
from proxy.ratelimit import key_id
from proxy.store import Store
from proxy.upstream_response import UpstreamResponse, cached_response

CACHED_PATH_PREFIXES: Final = ("/vacancies",)


class Cached:
    """A stored successful answer: status and body."""

    __slots__ = ("body", "status")

    def __init__(self, status: int, body: bytes) -> None:
        self.status = status
        self.body = body

    def dump(self) -> bytes:
        return str(self.status).encode() + b"\n" + self.body

    @classmethod
    def load(cls, raw: bytes) -> Cached:
        status, _, body = raw.partition(b"\n")
        return cls(int(status), body)


Loader = Callable[[], Awaitable[UpstreamResponse]]
FlightKey = tuple[str, str, str, tuple[tuple[str, str], ...], bool]


class ReadEconomy:
    def __init__(self, store: Store, ttl_seconds: float) -> None:
        self._store = store
        self.ttl_seconds = ttl_seconds
        self._inflight: dict[FlightKey, asyncio.Future[UpstreamResponse]] = {}

    def cacheable(self, call: V2Request) -> bool:
        return (
            self.ttl_seconds > 0
            and call.method == "GET"
            and call.path.startswith(CACHED_PATH_PREFIXES)
        )

    async def _cache_key(self, v2_key: str, call: V2Request) -> str:
        kid = key_id(v2_key)
        generation = (await self._store.get(f"gen:{kid}") or b"0").decode()
        digest = hashlib.sha256(call.cache_key.encode()).hexdigest()[:32]
        return f"cache:{kid}:{generation}:{digest}"

    async def invalidate(self, v2_key: str) -> None:
        await self._store.incr(f"gen:{key_id(v2_key)}")

    async def read(
        self, v2_key: str, call: V2Request, load: Loader, *, fresh: bool = False
    ) -> tuple[UpstreamResponse, bool]:
        """The answer, and whether it came without an upstream call of its own."""
        cache_key = await self._cache_key(v2_key, call) if self.cacheable(call) else None
        if cache_key and not fresh:
            raw = await self._store.get(cache_key)
            if raw is not None:
                hit = Cached.load(raw)
                return cached_response(hit.status, hit.body), True
        # The call itself (not its text): two calls whose texts happen to be equal
        # never share an answer.
        flight_key = (key_id(v2_key), call.method, call.path, call.query, fresh)
        pending = self._inflight.get(flight_key)
        if pending is not None:
            return await asyncio.shield(pending), True
        future: asyncio.Future[UpstreamResponse] = asyncio.get_running_loop().create_future()
        self._inflight[flight_key] = future
        try:
            response = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # followers re-raise it; mark it retrieved for the leader
            raise
        else:
            future.set_result(response)
        finally:
            del self._inflight[flight_key]
        if cache_key and response.status == 200:
            await self._store.set(
                cache_key, Cached(response.status, response.body).dump(), self.ttl_seconds
            )
        return response, False

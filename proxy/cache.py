"""Read economy: a shared response cache for rarely-changing reads, and coalescing.

- Vacancies change rarely, and legacy careers sites list them on every page view:
  their v2 answers are cached in the store (shared by replicas) for a TTL, keyed by
  the v2 key and the exact v2 request. A client's ``Cache-Control: no-cache`` skips
  the cache; a successful write through the bridge makes every cached read of that
  key stale (a per-key generation number is part of the cache key).
- Identical GETs in flight at the same moment in one process share one upstream call.
  The shared call runs in a task of its own while anyone still waits for it: a waiter
  that is cancelled (its client left, or the other leg of a two-page read failed) only
  stops waiting; the call is abandoned when its last waiter leaves.

Store faults never fail a read: a cache the store cannot answer is bypassed (the read
goes through to v2). A generation bump that fails after a confirmed write is logged
and made locally instead (an in-process generation, also part of the cache key), so
this replica stops serving the stale entries at once; until the shared bump succeeds
(it is retried on the next read of the key) entries are kept only
``OUTAGE_TTL_SECONDS``, which bounds how long the other replicas' view stays stale.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final, TypeVar

import structlog
from pydantic import BaseModel

from mappings.memo import SizedMemo
from mappings.plan import V2Request
from proxy.ratelimit import key_id
from proxy.store import Store, StoreError
from proxy.upstream_response import UpstreamResponse, cached_response

CACHED_PATH_PREFIXES: Final = ("/vacancies",)
# Entries carry their expiry since the rendered answers (``Cached``); a bridge of before
# would fail on that line, so replicas of both versions sharing a Redis during a rolling
# deploy keep their entries apart (the generation, which drops both, stays shared).
CACHE_KEY_PREFIX: Final = "cache2:"
# How long an entry is kept while a generation bump is owed to the shared store.
OUTAGE_TTL_SECONDS: Final = 5.0

log = structlog.get_logger("homerun_bridge.cache")


class Cached:
    """A stored successful answer: status, body and until when the store keeps it (Unix
    time), so that what is made from it (``proxy.rendered``) lives no longer."""

    __slots__ = ("body", "kept_until", "status")

    def __init__(self, status: int, body: bytes, kept_until: float | None) -> None:
        self.status = status
        self.body = body
        self.kept_until = kept_until

    def dump(self) -> bytes:
        head = f"{self.status} {self.kept_until!r}" if self.kept_until else str(self.status)
        return head.encode() + b"\n" + self.body

    @classmethod
    def load(cls, raw: bytes) -> Cached:
        """An entry; one written without its expiry (an older bridge) has none."""
        head, _, body = raw.partition(b"\n")
        status, _, until = head.partition(b" ")
        return cls(int(status), body, float(until) if until else None)


Loader = Callable[[], Awaitable[UpstreamResponse]]
# Key id, method, path, query, fresh, the key's writes through this process when the read
# started, and its cache key (with the shared generation): a read started after a write
# never shares a flight that took off before it.
FlightKey = tuple[str, str, str, tuple[tuple[str, str], ...], bool, int, str | None]


class _Flight:
    """One shared upstream call and how many requests still wait for it."""

    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[UpstreamResponse]) -> None:
        self.task = task
        self.waiters = 0


class ReadEconomy:
    def __init__(self, store: Store, ttl_seconds: float) -> None:
        self._store = store
        self.ttl_seconds = ttl_seconds
        self._inflight: dict[FlightKey, _Flight] = {}
        # key id -> generation bumps made here because the store refused them
        self._local_generation: Counter[str] = Counter()
        self._owed: set[str] = set()
        # key id -> writes confirmed through this process (bumped before the store is)
        self._writes: Counter[str] = Counter()

    def cacheable(self, call: V2Request) -> bool:
        return (
            self.ttl_seconds > 0
            and call.method == "GET"
            and call.path.startswith(CACHED_PATH_PREFIXES)
        )

    async def generation(self, v2_key: str) -> str | None:
        """The key's cache generation (shared, then local): a write through any replica
        changes it. None when the store cannot say it (nothing cached is then used)."""
        kid = key_id(v2_key)
        try:
            if kid in self._owed:
                await self._store.incr(f"gen:{kid}")
                self._owed.discard(kid)
            generation = (await self._store.get(f"gen:{kid}") or b"0").decode()
        except StoreError:
            return None
        return f"{generation}.{self._local_generation[kid]}"

    async def _cache_key(self, v2_key: str, call: V2Request) -> str | None:
        """The entry's key, or None when the store cannot say the generation."""
        generation = await self.generation(v2_key)
        if generation is None:
            return None
        digest = hashlib.sha256(call.cache_key.encode()).hexdigest()[:32]
        return f"{CACHE_KEY_PREFIX}{key_id(v2_key)}:{generation}:{digest}"

    async def invalidate(self, v2_key: str) -> None:
        """A write through the bridge succeeded: cached reads of its key are stale.
        Never raises: the write is answered whatever the store does."""
        kid = key_id(v2_key)
        self._writes[kid] += 1  # reads from now on take off anew (see ``read``)
        try:
            await self._store.incr(f"gen:{kid}")
        except StoreError as exc:
            self._local_generation[kid] += 1
            self._owed.add(kid)
            log.error(
                "cache.generation_bump_failed",
                error=str(exc),
                hint=f"bumped locally; entries kept {OUTAGE_TTL_SECONDS:g} s until the store "
                "takes the bump",
            )

    async def read(
        self, v2_key: str, call: V2Request, load: Loader, *, fresh: bool = False
    ) -> tuple[UpstreamResponse, bool]:
        """The answer, and whether it came without an upstream call of its own."""
        cache_key = await self._cache_key(v2_key, call) if self.cacheable(call) else None
        if cache_key and not fresh:
            try:
                raw = await self._store.get(cache_key)
            except StoreError:
                raw = None
            if raw is not None:
                hit = Cached.load(raw)
                return cached_response(hit.status, hit.body, hit.kept_until), True
        # The call itself (not its text): two calls whose texts happen to be equal
        # never share an answer. Nor do reads on either side of a write of the key.
        kid = key_id(v2_key)
        flight_key = (kid, call.method, call.path, call.query, fresh, self._writes[kid], cache_key)
        flight = self._inflight.get(flight_key)
        shared = flight is not None
        if flight is None:
            flight = self._take_off(flight_key, self._load_and_keep(load, kid, cache_key))
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task), shared
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                # Nobody waits for the answer any more: a GET costs nothing to abandon.
                flight.task.cancel()
                if self._inflight.get(flight_key) is flight:
                    del self._inflight[flight_key]

    def _take_off(
        self, flight_key: FlightKey, call: Coroutine[Any, Any, UpstreamResponse]
    ) -> _Flight:
        flight = _Flight(asyncio.create_task(call))
        self._inflight[flight_key] = flight

        def landed(task: asyncio.Task[UpstreamResponse]) -> None:
            if self._inflight.get(flight_key) is flight:
                del self._inflight[flight_key]
            if not task.cancelled():
                task.exception()  # every waiter re-raises it; none left means none to tell

        flight.task.add_done_callback(landed)
        return flight

    async def _load_and_keep(
        self, load: Loader, kid: str, cache_key: str | None
    ) -> UpstreamResponse:
        """The call, and the answer kept when it may be (then it says until when)."""
        response = await load()
        if cache_key and response.status == 200:
            ttl = min(self.ttl_seconds, OUTAGE_TTL_SECONDS) if kid in self._owed else None
            kept_until = time.time() + (ttl or self.ttl_seconds)
            try:
                await self._store.set(
                    cache_key,
                    Cached(response.status, response.body, kept_until).dump(),
                    ttl or self.ttl_seconds,
                )
            except StoreError:
                return response  # the answer stands; it is only not kept
            return dataclasses.replace(response, kept_until=kept_until)
        return response


# The models of bodies served from a cache (vacancy reads, and the vacancies embedded
# in write answers: the same few bodies over and over), so that a hit is not validated
# again. The models are frozen, so sharing them changes no answer; a body that does not
# validate is not kept (it raises as before). Bounded by the body bytes kept.
_decoded_hits: Final = SizedMemo[tuple[type[BaseModel], bytes], BaseModel](max_size=1_000_000)
M = TypeVar("M", bound=BaseModel)


def decoded_hit(model: type[M], body: bytes, parse: Callable[[], M]) -> M:
    """The decoded model of a body served from a cache, parsed once per body."""
    return _decoded_hits.get((model, body), len(body), parse)  # type: ignore[return-value]

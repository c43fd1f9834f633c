"""The read cache through store faults: bypassed, never failing; a write's generation bump
that the store refuses is made locally, so this replica serves nothing stale, and it
reaches the shared store once it answers again.

The store is a real Redis of the test's own (killed and restarted empty) behind the
guard; the loader stands in for the v2 call and counts how often the cache let it through.
"""

from __future__ import annotations

from multidict import CIMultiDict, CIMultiDictProxy

from mappings.plan import V2Request
from proxy.cache import ReadEconomy
from proxy.redis_store import RedisStore
from proxy.store_guard import StoreGuard
from proxy.upstream_response import UpstreamResponse
from tests.store.own_redis import OwnRedis, redis_server

__all__ = ["redis_server"]

LISTING = V2Request("GET", "/vacancies", (("page", "1"),))


class CountingLoader:
    """The v2 call: a new body each time, so a stale answer is visible."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> UpstreamResponse:
        self.calls += 1
        return UpstreamResponse(200, b'{"n": %d}' % self.calls, CIMultiDictProxy(CIMultiDict()))


def _economy(server: OwnRedis) -> tuple[ReadEconomy, StoreGuard]:
    guard = StoreGuard(
        RedisStore(server.url, "cache-faults:", timeout_seconds=0.3),
        timeout_seconds=0.3,
        outage_share=0.5,
        probe_seconds=0.0,  # probe on every operation: the test decides when Redis is back
    )
    return ReadEconomy(guard, ttl_seconds=60), guard


async def test_reads_go_through_to_v2_while_the_store_is_down(redis_server: OwnRedis) -> None:
    economy, guard = _economy(redis_server)
    load = CountingLoader()
    first, _ = await economy.read("v2-key", LISTING, load)
    cached, hit = await economy.read("v2-key", LISTING, load)
    assert (hit, cached.body, load.calls) == (True, first.body, 1)
    redis_server.kill()
    answers = [(await economy.read("v2-key", LISTING, load))[0] for _ in range(3)]
    assert [a.status for a in answers] == [200, 200, 200]
    assert load.calls == 4, "with no store every read went to v2"
    await guard.close()


async def test_a_refused_generation_bump_is_made_locally_then_shared(
    redis_server: OwnRedis,
) -> None:
    economy, guard = _economy(redis_server)
    other_replica = ReadEconomy(
        StoreGuard(
            RedisStore(redis_server.url, "cache-faults:", timeout_seconds=0.3),
            timeout_seconds=0.3,
            outage_share=0.5,
            probe_seconds=0.0,
        ),
        ttl_seconds=60,
    )
    load = CountingLoader()
    await economy.read("v2-key", LISTING, load)
    redis_server.hang()  # the write's bump meets a hung store: it must not raise
    try:
        await economy.invalidate("v2-key")
    finally:
        redis_server.resume()
    # This replica no longer serves the entry cached before the write.
    after, hit = await economy.read("v2-key", LISTING, load)
    assert not hit and after.body == b'{"n": 2}'
    # The owed bump reached the shared store with that read: the other replica misses too.
    seen_by_other, other_hit = await other_replica.read("v2-key", LISTING, load)
    assert not other_hit and seen_by_other.body == b'{"n": 3}'
    await guard.close()

"""Usage counts survive a store outage: a flush the store refuses keeps them buffered (it
never raises into a request) and the next flush writes them, each counted once."""

from __future__ import annotations

from proxy.redis_store import RedisStore
from proxy.store_guard import StoreGuard
from proxy.usage import UsageBook, migration_report
from tests.store.own_redis import OwnRedis, redis_server

__all__ = ["redis_server"]


async def test_counts_are_kept_through_a_failed_flush(redis_server: OwnRedis) -> None:
    guard = StoreGuard(
        RedisStore(redis_server.url, "usage-faults:", timeout_seconds=0.3),
        timeout_seconds=0.3,
        outage_share=0.5,
        probe_seconds=0.0,
    )
    usage = UsageBook(guard)
    for _ in range(3):
        usage.record("careers", "GET /v1/jobs", [])
    assert await usage.flush()
    usage.record("careers", "GET /v1/jobs", ["content[shoe_size]"])
    usage.record("hr-sync", "POST /v1/applications", [])
    redis_server.kill()
    assert await usage.flush() is False  # refused, not raised
    assert await usage.flush() is False  # and still kept
    redis_server.start()  # a fresh, empty server: only what was never written is written
    usage.record("careers", "GET /v1/jobs", [])
    assert await usage.flush()
    report = await migration_report(guard)
    calls = {
        (integration["label"], route["route"]): (route["calls"], route["unknown_fields"])
        for integration in report["integrations"]
        for route in integration["routes"]
    }
    assert calls == {
        ("careers", "GET /v1/jobs"): (2, ["content[shoe_size]"]),
        ("hr-sync", "POST /v1/applications"): (1, []),
    }
    await guard.close()

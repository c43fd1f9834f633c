"""Dashboard fixtures: the end-to-end harness of ``tests/proxy`` (a real sandbox and a real
bridge on loopback), the real Redis prefix, and a usage store of either kind."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest

from proxy.redis_store import RedisStore
from proxy.store import MemoryStore, Store
from tests.dashboard.session import dashboard
from tests.proxy.conftest import bridge_env, harness, make_harness
from tests.redis_support import REDIS_URL, redis_prefix, redis_test_prefix

__all__ = ["bridge_env", "dashboard", "harness", "make_harness", "redis_prefix"]


@dataclass
class UsageStore:
    """A store for the usage series; ``prefix`` is its Redis key prefix (None in memory)."""

    store: Store
    kind: str
    prefix: str | None = None


@pytest.fixture(params=["memory", "redis"])
async def usage_store(request: pytest.FixtureRequest) -> AsyncIterator[UsageStore]:
    """A MemoryStore, then the real Redis at 127.0.0.1:6379 under a fresh prefix."""
    if request.param == "memory":
        yield UsageStore(MemoryStore(), "memory")
        return
    async with redis_test_prefix() as prefix:
        store = RedisStore(REDIS_URL, prefix, timeout_seconds=2.0)
        yield UsageStore(store, "redis", prefix)
        await store.close()

"""Redis for tests: the real server at 127.0.0.1:6379, or a visible skip.

With ``REQUIRE_REDIS=1`` (``.ci/run`` sets it) a missing Redis fails the test instead,
so CI can never skip the Redis tests silently.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


async def _reachable() -> bool:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        return bool(await client.ping())
    except Exception:
        return False
    finally:
        await client.aclose()


@contextlib.asynccontextmanager
async def redis_test_prefix() -> AsyncIterator[str]:
    """A fresh key prefix on the real Redis; its keys are deleted afterwards."""
    if not await _reachable():
        message = f"Redis is not reachable at {REDIS_URL}"
        if os.environ.get("REQUIRE_REDIS") == "1":
            pytest.fail(message + " and REQUIRE_REDIS=1", pytrace=False)
        pytest.skip(message + " (set REQUIRE_REDIS=1 to make this a failure)")
    prefix = f"test-{uuid.uuid4().hex[:12]}:"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    keys = [key async for key in client.scan_iter(match=prefix + "*")]
    if keys:
        await client.delete(*keys)
    await client.aclose()


@pytest.fixture
async def redis_prefix() -> AsyncIterator[str]:
    async with redis_test_prefix() as prefix:
        yield prefix

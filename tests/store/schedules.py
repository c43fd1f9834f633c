"""Test helper: a pacing schedule that has been idle, so its burst is available.

A schedule the store does not have counts as just spent (no burst; see
``proxy.store``). Tests that measure a burst seed the schedule as long idle first.
"""

from __future__ import annotations

import redis.asyncio as redis

from proxy.ratelimit import key_id
from proxy.store import SCHEDULE_KEEP_SECONDS


async def seed_idle_schedule(redis_url: str, prefix: str, v2_key: str) -> None:
    """Make ``v2_key``'s schedule under ``prefix`` exist and be long idle (tat = 0)."""
    client = redis.Redis.from_url(redis_url)
    try:
        await client.set(f"{prefix}gcra:{key_id(v2_key)}", 0, px=SCHEDULE_KEEP_SECONDS * 1000)
    finally:
        await client.aclose()

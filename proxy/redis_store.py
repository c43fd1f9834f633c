"""The Redis store: shared state for several bridge replicas.

Every key is prefixed (``homerun-bridge:`` by default) so the bridge can share a Redis
with other programs, and every key it writes expires. The GCRA reservation runs as
one Lua script on the server, with the server's clock, so replicas whose clocks
disagree still share one schedule.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from proxy.store import SCHEDULE_KEEP_SECONDS, Reservation, SlotRequest, StoreError

# KEYS[1]: the key's theoretical arrival time (ms). ARGV: interval_ms, burst, max_wait_ms,
# spent_for_ms (-1: none), keep_ms, lost_slots. Same arithmetic as proxy.store.gcra_reserve:
# a missing schedule (Redis restarted empty, flushed) is just spent, never a fresh burst.
_GCRA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local spent_for = tonumber(ARGV[4])
local spent = now + (burst - 1) * interval
local tat = tonumber(redis.call('GET', KEYS[1]) or (spent + tonumber(ARGV[6]) * interval))
if spent_for >= 0 and tat < spent + spent_for then tat = spent + spent_for end
if tat < now then tat = now end
local wait = tat - (burst - 1) * interval - now
if wait < 0 then wait = 0 end
if wait > max_wait then return {0, wait} end
local new_tat = tat + interval
redis.call('SET', KEYS[1], new_tat, 'PX', math.ceil(new_tat - now) + tonumber(ARGV[5]))
return {1, wait}
"""
# KEYS: the keys; ARGV: their values, then the TTL in ms. One script, one reply: a
# pipeline of 100 SETs costs redis-py 100 replies to parse (about 10 ms), this about 1 ms.
_SET_MANY = """
local px = ARGV[#ARGV]
for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[i], 'PX', px) end
return #KEYS
"""
_FOREVER_GUARD_SECONDS = 400 * 24 * 3600


def _error(operation: str, exc: Exception) -> StoreError:
    return StoreError(f"redis {operation} failed: {exc.__class__.__name__}")


class RedisStore:
    """Redis behind the store interface; a Redis error is a :class:`StoreError`.

    Each socket operation is bounded by ``timeout_seconds`` (a hung server, e.g. one
    stopped with SIGSTOP, costs that, not redis-py's default seconds), and a command
    that meets a dead pooled connection (the server restarted) is retried once on a
    fresh one, so a restart costs no request an error.
    """

    def __init__(
        self, url: str, prefix: str = "homerun-bridge:", *, timeout_seconds: float = 2.0
    ) -> None:
        self._client: Any = redis.Redis.from_url(
            url,
            socket_timeout=timeout_seconds,
            socket_connect_timeout=timeout_seconds,
            retry=Retry(ExponentialBackoff(cap=0.05, base=0.01), retries=1),
        )
        self._gcra = self._client.register_script(_GCRA)
        self._set_many = self._client.register_script(_SET_MANY)
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return self.prefix + key

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(self._key(key))
        except RedisError as exc:
            raise _error("get", exc) from exc
        if value is None or isinstance(value, bytes):
            return value
        return str(value).encode()

    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None:
        ttl = ttl_seconds or _FOREVER_GUARD_SECONDS
        try:
            await self._client.set(self._key(key), value, px=max(1, int(ttl * 1000)))
        except RedisError as exc:
            raise _error("set", exc) from exc

    async def set_many(self, items: dict[str, bytes], ttl_seconds: float) -> None:
        if not items:
            return
        keys = [self._key(key) for key in items]
        try:
            await self._set_many(keys=keys, args=[*items.values(), max(1, int(ttl_seconds * 1000))])
        except RedisError as exc:
            raise _error("set", exc) from exc

    async def delete(self, key: str) -> None:
        try:
            await self._client.delete(self._key(key))
        except RedisError as exc:
            raise _error("delete", exc) from exc

    async def incr(self, key: str) -> int:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incr(self._key(key))
                pipe.expire(self._key(key), _FOREVER_GUARD_SECONDS)
                value, _ = await pipe.execute()
        except RedisError as exc:
            raise _error("incr", exc) from exc
        return int(value)

    async def reserve(self, key: str, ask: SlotRequest) -> Reservation:
        spent_for = ask.spent_for
        try:
            granted, wait_ms = await self._gcra(
                keys=[self._key(key)],
                args=[
                    max(1, math.ceil(ask.interval * 1000)),
                    ask.burst,
                    int(ask.max_wait * 1000),
                    -1 if spent_for is None else max(0, math.ceil(spent_for * 1000)),
                    SCHEDULE_KEEP_SECONDS * 1000,
                    ask.lost_slots or 0,
                ],
            )
        except RedisError as exc:
            raise _error("reserve", exc) from exc
        return Reservation(bool(int(granted)), int(wait_ms) / 1000)

    async def hincr(self, key: str, fields: dict[str, int], ttl_seconds: float) -> None:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                for name, amount in fields.items():
                    pipe.hincrby(self._key(key), name, amount)
                pipe.expire(self._key(key), int(ttl_seconds))
                await pipe.execute()
        except RedisError as exc:
            raise _error("hincrby", exc) from exc

    async def hset(self, key: str, fields: dict[str, str], ttl_seconds: float) -> None:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.hset(self._key(key), mapping=fields)
                pipe.expire(self._key(key), int(ttl_seconds))
                await pipe.execute()
        except RedisError as exc:
            raise _error("hset", exc) from exc

    async def hgetall(self, key: str) -> dict[str, str]:
        try:
            raw = await self._client.hgetall(self._key(key))
        except RedisError as exc:
            raise _error("hgetall", exc) from exc
        return {_text(k): _text(v) for k, v in raw.items()}

    async def hdel(self, key: str, fields: Sequence[str]) -> None:
        if not fields:
            return
        try:
            await self._client.hdel(self._key(key), *fields)
        except RedisError as exc:
            raise _error("hdel", exc) from exc

    async def sadd(self, key: str, member: str, ttl_seconds: float) -> None:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.sadd(self._key(key), member)
                pipe.expire(self._key(key), int(ttl_seconds))
                await pipe.execute()
        except RedisError as exc:
            raise _error("sadd", exc) from exc

    async def smembers(self, key: str) -> builtins.set[str]:
        try:
            raw = await self._client.smembers(self._key(key))
        except RedisError as exc:
            raise _error("smembers", exc) from exc
        return {_text(m) for m in raw}

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except RedisError:
            return False

    async def close(self) -> None:
        await self._client.aclose()


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value

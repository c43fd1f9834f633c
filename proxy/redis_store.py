"""The Redis store: shared state for several bridge replicas.

Every key is prefixed (``homerun-bridge:`` by default) so the bridge can share a Redis
with other programs; every value written with a TTL expires on the server.
"""

from __future__ import annotations

import redis.asyncio as redis
from redis.exceptions import RedisError

from proxy.store import StoreError


class RedisStore:
    def __init__(self, url: str, prefix: str = "homerun-bridge:") -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.prefix = prefix

    def _key(self, key: str) -> str:
        return self.prefix + key

    async def get(self, key: str) -> bytes | None:
        try:
            value = await self._client.get(self._key(key))
        except RedisError as exc:
            raise StoreError(f"redis get failed: {exc.__class__.__name__}") from exc
        if value is None or isinstance(value, bytes):
            return value
        return str(value).encode()

    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None:
        try:
            if ttl_seconds:
                await self._client.set(self._key(key), value, px=max(1, int(ttl_seconds * 1000)))
            else:
                await self._client.set(self._key(key), value)
        except RedisError as exc:
            raise StoreError(f"redis set failed: {exc.__class__.__name__}") from exc

    async def delete(self, key: str) -> None:
        try:
            await self._client.delete(self._key(key))
        except RedisError as exc:
            raise StoreError(f"redis delete failed: {exc.__class__.__name__}") from exc

    async def ping(self) -> bool:
        try:
            return bool(await self._client.ping())
        except RedisError:
            return False

    async def close(self) -> None:
        await self._client.aclose()

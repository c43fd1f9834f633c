"""The one place for state that replicas share: drafts, caches, budgets, usage counts.

Two implementations behind one interface: :class:`MemoryStore` (the default, one
process) and the Redis store (many replicas; ``store_url = redis://…``). Keys are
namespaced by the caller's purpose (``draft:``, ``cache:``…) and by the store's
prefix, and every value written with a TTL expires.
"""

from __future__ import annotations

import time
from typing import Protocol


class StoreError(Exception):
    """The store did not answer (the Redis server is down, say)."""


class Store(Protocol):
    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


class MemoryStore:
    """A dict with expiry; enough for one process."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[bytes, float | None]] = {}

    def _live(self, key: str) -> tuple[bytes, float | None] | None:
        item = self._values.get(key)
        if item is None:
            return None
        expires = item[1]
        if expires is not None and expires <= time.monotonic():
            del self._values[key]
            return None
        return item

    async def get(self, key: str) -> bytes | None:
        item = self._live(key)
        return item[0] if item else None

    async def set(self, key: str, value: bytes, ttl_seconds: float | None = None) -> None:
        expires = time.monotonic() + ttl_seconds if ttl_seconds else None
        self._values[key] = (value, expires)

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._values.clear()


def open_store(url: str) -> Store:
    """``memory://`` or ``redis://…`` -> a store."""
    if url.startswith("memory:"):
        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        from proxy.redis_store import RedisStore

        return RedisStore(url)
    raise ValueError(f"store_url: unsupported scheme in {url!r} (use memory:// or redis://)")

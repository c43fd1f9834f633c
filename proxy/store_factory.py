"""The store a configuration names: ``memory://`` or ``redis://…``.

Its own module so that ``proxy.store`` (the protocol, the shared types and the memory
store) and ``proxy.redis_store`` (which imports those) do not import each other.
"""

from __future__ import annotations

from proxy.redis_store import RedisStore
from proxy.store import MemoryStore, Store


def open_store(url: str, prefix: str = "homerun-bridge:", timeout_seconds: float = 2.0) -> Store:
    """``memory://`` or ``redis://…`` -> a store (``timeout_seconds`` bounds Redis sockets)."""
    if url.startswith("memory:"):
        return MemoryStore()
    if url.startswith(("redis://", "rediss://", "unix://")):
        return RedisStore(url, prefix, timeout_seconds=timeout_seconds)
    raise ValueError(f"store_url: unsupported scheme in {url!r} (use memory:// or redis://)")

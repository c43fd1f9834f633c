"""Hashes expire their TTL after their last write in both stores (Redis's EXPIRE), so the
memory store does not keep, for the life of the process, the note-create marks of every
application ever noted through the bridge (``proxy.v1_routes.notes``, one field per note)
nor any other hash written with a TTL."""

from __future__ import annotations

import asyncio

from proxy.store import MemoryStore, Store
from tests.store.test_stores import store

__all__ = ["store"]


async def test_hashes_expire_after_their_last_write(store: Store) -> None:
    await store.hset("note-creates:ap_gone", {"t1": "A|1|x|2|", "t2": "A|3|y|4|"}, 1)
    await store.hincr("usage:gone", {"calls": 1}, 1)
    await store.hset("note-creates:ap_kept", {"t1": "A|1|x|2|"}, 60)
    await asyncio.sleep(0.5)
    await store.hincr("usage:gone", {"calls": 1}, 3)  # a write refreshes the expiry
    await asyncio.sleep(1.5)  # margins of a second or more on either side of an expiry
    assert await store.hgetall("note-creates:ap_gone") == {}
    assert await store.hgetall("usage:gone") == {"calls": "2"}
    assert await store.hgetall("note-creates:ap_kept") == {"t1": "A|1|x|2|"}
    await asyncio.sleep(2.5)
    assert await store.hgetall("usage:gone") == {}


async def test_the_memory_store_sweeps_hashes_nobody_reads_again() -> None:
    memory = MemoryStore()
    for n in range(500):
        await memory.hset(f"note-creates:ap_{n}", {"t": "A|1|x|2|"}, 0.05)
    await memory.hset("note-creates:ap_kept", {"t": "A|1|x|2|"}, 60)
    assert len(memory) == 501
    await asyncio.sleep(0.1)
    await memory.set("new", b"1", ttl_seconds=60)
    assert len(memory) == 2

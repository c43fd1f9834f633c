"""Candidate drafts: ``POST /v1/candidates`` before any application exists.

v2 has no candidates, so the person waits in the store (shared by all replicas) as a
v1 candidate object until ``POST /v1/applications`` uses it; the draft then lists the
applications made from it, in the order they were linked.

A link is one field of the draft's links hash (``draft-links:<id>``: application id ->
its place in a sequence shared by the replicas), never a read and write back of the whole
draft: two applications made at once from one draft (two replicas, or a slow store) would
otherwise keep only the one written last, and the draft's first application (whose person
it shows, whose notes and files its candidate routes reach) could change under a client.
"""

from __future__ import annotations

from typing import Any, Final

import orjson

from proxy.store import Store

LINK_SEQUENCE_KEY: Final = "draft-links:sequence"


class DraftBook:
    def __init__(self, store: Store, ttl_seconds: float) -> None:
        self._store = store
        self._ttl = ttl_seconds

    @staticmethod
    def _key(candidate_id: str) -> str:
        return f"draft:{candidate_id}"

    @staticmethod
    def _links_key(candidate_id: str) -> str:
        return f"draft-links:{candidate_id}"

    async def get(self, candidate_id: str) -> dict[str, Any] | None:
        raw = await self._store.get(self._key(candidate_id))
        if not raw:
            return None
        candidate: dict[str, Any] = orjson.loads(raw)
        links = await self._store.hgetall(self._links_key(candidate_id))
        linked = candidate["applications"]
        for application_id in sorted(links, key=lambda a: _place(links[a])):
            if application_id not in linked:
                linked.append(application_id)
        return candidate

    async def put(self, candidate: dict[str, Any]) -> None:
        await self._store.set(self._key(candidate["id"]), orjson.dumps(candidate), self._ttl)

    async def link(self, candidate_id: str, application_id: str) -> None:
        """Link an application to the draft (one hash field), and keep the draft as long
        again as a new one."""
        raw = await self._store.get(self._key(candidate_id))
        if not raw:
            return
        place = await self._store.incr(LINK_SEQUENCE_KEY)
        await self._store.hset(
            self._links_key(candidate_id), {application_id: str(place)}, self._ttl
        )
        await self._store.set(self._key(candidate_id), raw, self._ttl)


def _place(value: str) -> int:
    """A link's place in the sequence (one that does not read comes last)."""
    return int(value) if value.isdigit() else 1 << 62

"""Candidate drafts: ``POST /v1/candidates`` before any application exists.

v2 has no candidates, so the person waits in the store (shared by all replicas) as a
v1 candidate object until ``POST /v1/applications`` uses it; the draft then lists the
applications made from it.
"""

from __future__ import annotations

from typing import Any

import orjson

from proxy.store import Store


class DraftBook:
    def __init__(self, store: Store, ttl_seconds: float) -> None:
        self._store = store
        self._ttl = ttl_seconds

    @staticmethod
    def _key(candidate_id: str) -> str:
        return f"draft:{candidate_id}"

    async def get(self, candidate_id: str) -> dict[str, Any] | None:
        raw = await self._store.get(self._key(candidate_id))
        return orjson.loads(raw) if raw else None

    async def put(self, candidate: dict[str, Any]) -> None:
        await self._store.set(self._key(candidate["id"]), orjson.dumps(candidate), self._ttl)

    async def link(self, candidate_id: str, application_id: str) -> None:
        candidate = await self.get(candidate_id)
        if candidate is None:
            return
        if application_id not in candidate["applications"]:
            candidate["applications"].append(application_id)
        await self.put(candidate)

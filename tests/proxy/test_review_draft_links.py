"""Two applications made at once from one draft candidate both stay linked to it: the
link was a read, an append and a write back of the whole draft, so with a store that
takes its time (Redis under load, two replicas) the later write dropped the earlier
application, and the draft's first application (whose person ``GET /v1/candidates/{draft}``
shows, and whose notes and files its candidate routes reach) could change under a client.
Real sockets: the bridge in front of the sandbox, over a memory store whose draft reads
take half a second."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from proxy.app import create_app
from proxy.keys import build_key_map
from proxy.store import MemoryStore
from tests.proxy.conftest import Harness, bridge_settings
from tests.proxy.test_drafts_e2e import PERSON, _json

SLOW_SECONDS = 0.5


class SlowDraftReads(MemoryStore):
    """A memory store whose draft reads answer ``SLOW_SECONDS`` after they read (as a
    reply on its way back from Redis)."""

    async def get(self, key: str) -> bytes | None:
        value = await super().get(key)
        if key.startswith("draft:"):
            await asyncio.sleep(SLOW_SECONDS)
        return value


async def test_applications_made_at_once_from_one_draft_are_all_linked(
    make_harness: Callable[..., Any], aiohttp_server: Callable[..., Any]
) -> None:
    plain: Harness = await make_harness()
    settings = bridge_settings(plain.sandbox, store_timeout_seconds=5)
    app = create_app(settings, build_key_map(settings), store=SlowDraftReads())
    harness = Harness(await aiohttp_server(app), plain.sandbox, plain.http)
    draft, _ = await _json(harness, "POST", "/v1/candidates", 201, json=PERSON)
    made = await asyncio.gather(
        *(
            _json(harness, "POST", "/v1/applications", 201, json={"candidate": draft["id"]})
            for _ in range(2)
        )
    )
    candidate, _ = await _json(harness, "GET", f"/v1/candidates/{draft['id']}", 200)
    assert sorted(candidate["applications"]) == sorted(m[0]["id"] for m in made)

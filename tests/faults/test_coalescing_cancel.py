"""A read shared by coalescing survives its leader's departure (issue 11, item 1).

Identical GETs in flight share one upstream call. The request that started it (the
leader) may be cancelled: its client disconnects, or the other leg of its two-page read
failed. The followers must still get their answer: the shared call runs in its own task
while anyone waits for it. aiohttp's test server cancels the handler of a client that
left, so disconnecting the leader's client cancels the leader.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp

from proxy.app import BRIDGE, create_app
from proxy.keys import build_key_map
from tests.conftest_sandbox import StartSandbox
from tests.proxy.conftest import FULL, bridge_settings

LATENCY_MS = 1500


async def _wait_for(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    for _ in range(int(seconds / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


async def test_a_follower_gets_its_answer_when_the_leaders_client_leaves(
    bridge_env: None, start_sandbox: StartSandbox, aiohttp_server: Callable[..., Any]
) -> None:
    sandbox = await start_sandbox()
    settings = bridge_settings(sandbox, cache_ttl_seconds=0)
    app = create_app(settings, build_key_map(settings))
    bridge = await aiohttp_server(app)
    url = str(bridge.make_url("/v1/jobs"))
    stats = sandbox.state.stats
    async with aiohttp.ClientSession() as http:
        async with http.post(
            sandbox.url("/_sandbox/faults"),
            json={"method": "GET", "path": "^/v2/vacancies$", "action": "latency"}
            | {"latency_ms": LATENCY_MS},
        ) as response:
            assert response.status == 201

        async def read(session: aiohttp.ClientSession) -> tuple[int, dict[str, Any]]:
            async with session.get(url, auth=FULL) as response:
                return response.status, await response.json()

        leader_client = aiohttp.ClientSession()
        leader = asyncio.create_task(read(leader_client))
        await _wait_for(lambda: stats.faults_injected == 1, "the leader's call upstream")
        follower = asyncio.create_task(read(http))
        economy = app[BRIDGE].upstream.economy
        await _wait_for(
            lambda: any(f.waiters == 2 for f in economy._inflight.values()),
            "the follower to join the shared call",
        )
        # The leader's client gives up: its connection closes, its handler is cancelled.
        leader.cancel()
        await leader_client.close()
        await _wait_for(
            lambda: all(f.waiters == 1 for f in economy._inflight.values()),
            "the leader to stop waiting",
        )
        status, body = await asyncio.wait_for(follower, LATENCY_MS / 1000 + 10)
    assert status == 200, body
    assert body["total"] >= 1 and body["data"], body
    # One upstream call served both: the follower's answer is the leader's call.
    assert stats.requests_by_route["GET /v2/vacancies"] == 1

"""A 504 says what timed out: v2 not accepting a connection is not v2 being slow.

The stand-in is a listening socket that never accepts, its backlog filled: the kernel
drops the bridge's SYNs, so connecting hangs. Nothing was sent, so the call is retried
(a POST too), and the v1 504 names the connection, not an answer.
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp
import pytest

from tests.faults.endpoints import RETRIES, TIMEOUT
from tests.faults.standin import settings_for, start_bridge
from tests.proxy.conftest import FULL


@pytest.fixture
def silent_upstream() -> Iterator[str]:
    """A v2 base URL whose port takes no more connections (a full backlog)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):  # fill the accept queue; later SYNs are dropped, connects hang
        filler = socket.socket()
        filler.setblocking(False)
        try:
            filler.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(filler)
    try:
        yield f"http://127.0.0.1:{port}/v2"
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


async def test_a_connection_v2_never_accepts_is_a_504_that_says_so(
    bridge_env: None, aiohttp_server: Callable[..., Any], silent_upstream: str
) -> None:
    settings = settings_for(
        silent_upstream, upstream_timeout_seconds=TIMEOUT, upstream_retries=RETRIES
    )
    bridge = await start_bridge(aiohttp_server, settings)
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as http:
        async with http.get(bridge.make_url("/v1/jobs"), auth=FULL) as response:
            body = await response.json()
            assert response.status == 504, body
            assert "did not accept a connection" in body["message"]
            assert f"{TIMEOUT:g} s" in body["message"]
            # Never sent: retried like a refused connection, 1 + retries attempts.
            assert response.headers["X-Upstream-Calls"] == str(1 + RETRIES)

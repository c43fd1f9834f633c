"""A tiny stand-in for API v2, for answers the sandbox cannot give, and a bridge before it.

The stand-in is a real aiohttp server on loopback whose one route (``/v2/{tail}``) runs
the answer a test gives it and counts what it did: the calls, the bytes it wrote, and
whether the bridge hung up on it. The bridge is the real app (``create_app``) with the
end-to-end key map of ``tests.proxy.conftest``, served by a real ``TestServer`` (which
cancels a handler whose client disconnected, as the bridge's own runner does).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy.app import BRIDGE, create_app
from proxy.config import BridgeSettings
from proxy.keys import build_key_map, hash_key
from tests.proxy.conftest import KEYS

Answer = Callable[[web.Request, "StandIn"], Awaitable[web.StreamResponse]]

# One reusable chunk: a stand-in streaming 500 MB allocates 64 KiB, not 500 MB.
CHUNK = b"x" * 65536


@dataclass
class StandIn:
    """What the stand-in did, for the test to assert on."""

    answer: Answer
    calls: int = 0
    bytes_written: int = 0
    hung_up: int = 0  # answers the bridge stopped reading by closing the connection
    paths: list[str] = field(default_factory=list)
    server: TestServer | None = None

    @property
    def api_url(self) -> str:
        assert self.server is not None
        return str(self.server.make_url("/v2")).rstrip("/")

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.calls += 1
        self.paths.append(request.path)
        return await self.answer(request, self)

    async def stream(
        self,
        request: web.Request,
        total: int | None,
        *,
        content_length: int | None = None,
        status: int = 200,
    ) -> web.StreamResponse:
        """``total`` bytes (``None``: endless), lazily, with the given Content-Length (or
        chunked) and status; stops when the bridge closes the connection."""
        response = web.StreamResponse(status=status, headers={"Content-Type": "application/json"})
        if content_length is not None:
            response.content_length = content_length
        await response.prepare(request)
        sent = 0
        try:
            while total is None or sent < total:
                piece = CHUNK if total is None else CHUNK[: min(len(CHUNK), total - sent)]
                await response.write(piece)
                sent += len(piece)
                self.bytes_written += len(piece)
        except (ConnectionError, asyncio.CancelledError):
            self.hung_up += 1
            raise
        await response.write_eof()
        return response


@dataclass
class LyingStandIn:
    """A raw-socket upstream that announces ``Content-Length: announced`` and then
    writes without end (aiohttp's own server would cut the body at the length)."""

    announced: int
    calls: int = 0
    bytes_written: int = 0
    hung_up: int = 0
    server: asyncio.Server | None = None

    @property
    def api_url(self) -> str:
        assert self.server is not None
        port = self.server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}/v2"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")  # the bridge's GET: headers only
            self.calls += 1
            writer.write(
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: %d\r\n\r\n" % self.announced
            )
            while True:
                writer.write(CHUNK)
                await writer.drain()
                self.bytes_written += len(CHUNK)
        except (ConnectionError, asyncio.IncompleteReadError):
            self.hung_up += 1
        finally:
            writer.close()


async def start_lying_standin(announced: int) -> LyingStandIn:
    standin = LyingStandIn(announced)
    standin.server = await asyncio.start_server(standin.handle, "127.0.0.1", 0)
    return standin


async def start_standin(aiohttp_server: Callable[..., Any], answer: Answer) -> StandIn:
    standin = StandIn(answer)
    app = web.Application()
    app.router.add_route("*", "/v2/{tail:.*}", standin.handle)
    standin.server = await aiohttp_server(app)
    return standin


def settings_for(upstream_url: str, **overrides: Any) -> BridgeSettings:
    """The end-to-end settings (no budget, no cache) in front of any upstream."""
    keys = [
        {"label": label, "v1_key_sha256": hash_key(v1), "v2_key_env": env}
        for v1, (label, env, _) in KEYS.items()
    ]
    values: dict[str, Any] = {
        "upstream_url": upstream_url,
        "rate_limit_per_minute": 0,
        "cache_ttl_seconds": 0,
        "keys": keys,
        "upstream_timeout_seconds": 5,
        **overrides,
    }
    return BridgeSettings(**values)


def bridge_app(settings: BridgeSettings) -> web.Application:
    """``create_app``, with this round's upstream bounds applied from the settings even
    where ``create_app`` does not pass them to the upstream client yet."""
    app = create_app(settings, build_key_map(settings))
    upstream = app[BRIDGE].upstream
    upstream.max_body_bytes = settings.max_upstream_body_bytes
    upstream.slots.wait_seconds = settings.upstream_pool_wait_seconds
    return app


async def start_bridge(aiohttp_server: Callable[..., Any], settings: BridgeSettings) -> TestServer:
    server: TestServer = await aiohttp_server(bridge_app(settings))
    return server

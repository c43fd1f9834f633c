"""Helpers for the hostile-input suite: raw HTTP over a socket, v1 error checks, health.

Attacks go out as raw bytes (``exchange``) so that nothing on the client side fixes them
up: no path normalisation, no header validation, no re-encoding of the body.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import orjson

from mappings.errors import V1_STATUSES
from proxy.keys import hash_key
from tests.proxy.conftest import KEYS, Harness

# Every attack must be answered (or the connection closed) within this many seconds.
BOUND = 5.0
V1_JSON = "application/json; charset=utf-8"
V1_KEY = "demo-v1-key"
BASIC = "Basic " + base64.b64encode(f"{V1_KEY}:".encode()).decode()
# What must never come back in an answer: the v2 keys, and the configured digests.
SECRETS = tuple(v2 for _, _, v2 in KEYS.values()) + tuple(hash_key(v1) for v1 in KEYS)


@dataclass
class RawResponse:
    """One HTTP/1.1 answer read off a socket."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes
    elapsed: float
    raw_head: bytes = b""
    closed: bool = False

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def header_names(self) -> set[str]:
        return {key.lower() for key, _ in self.headers}

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Target:
    host: str
    port: int
    extra_headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, harness: Harness) -> Target:
        server = harness.bridge
        assert server.port is not None
        return cls(server.host, server.port)


def request_bytes(
    method: str,
    target: bytes | str,
    *,
    headers: dict[str, str] | None = None,
    raw_headers: bytes = b"",
    body: bytes = b"",
    auth: str | None = BASIC,
    content_length: bool = True,
) -> bytes:
    """A request with ``Connection: close``; ``raw_headers`` go in verbatim (CRLF-terminated)."""
    path = target.encode() if isinstance(target, str) else target
    lines = [method.encode() + b" " + path + b" HTTP/1.1", b"Host: bridge.test"]
    lines.append(b"Connection: close")
    if auth is not None:
        lines.append(b"Authorization: " + auth.encode())
    for name, value in (headers or {}).items():
        lines.append(f"{name}: {value}".encode())
    if content_length and body and "transfer-encoding" not in {h.lower() for h in headers or {}}:
        lines.append(b"Content-Length: " + str(len(body)).encode())
    head = b"\r\n".join(lines) + b"\r\n" + raw_headers + b"\r\n"
    return head + body


def _parse(data: bytes, elapsed: float, closed: bool) -> RawResponse:
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    _, status, *reason = status_line.decode("latin-1").split(" ", 2)
    headers = []
    for line in header_lines:
        name, _, value = line.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    return RawResponse(int(status), " ".join(reason), headers, body, elapsed, head, closed)


async def exchange(target: Target, data: bytes, *, bound: float = BOUND) -> RawResponse:
    """Send ``data`` (while reading: the server may answer and close before it is all sent),
    then read the answer until the server closes. Fails if that takes over ``bound`` seconds."""
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection(target.host, target.port)

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            for offset in range(0, len(data), 256 * 1024):
                writer.write(data[offset : offset + 256 * 1024])
                await writer.drain()

    sender = asyncio.create_task(send())
    try:
        received = await asyncio.wait_for(_read_all(reader), bound)
    finally:
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionError):
            await sender
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    assert received, "the bridge closed the connection without any answer"
    return _parse(received, time.perf_counter() - started, closed=True)


async def _read_all(reader: asyncio.StreamReader) -> bytes:
    chunks = []
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def leaked_secrets(body: bytes, sent: bytes = b"") -> list[str]:
    """The secrets in an answer body that the request (``sent``: its URL, headers and body,
    as sent) did not carry itself: a client's own text echoed back (a note saying
    ``demo-v2-key``) is not a leak; the bridge's own v2 key in any other answer is."""
    text = body.decode("utf-8", errors="replace")
    request_text = unquote(sent.decode("utf-8", errors="replace"))
    return [secret for secret in SECRETS if secret in text and secret not in request_text]


def assert_no_secrets(body: bytes, sent: bytes = b"") -> None:
    """No secret the request did not send itself comes back, and no traceback."""
    assert not leaked_secrets(body, sent), "a secret came back in an answer body"
    assert "Traceback" not in body.decode("utf-8", errors="replace")


def assert_v1_error(
    response: RawResponse, status: int | set[int], *, bound: float = BOUND
) -> dict[str, Any]:
    """A clear v1 error: the expected v1 status, JSON in UTF-8, the v1 body shape, the v1
    headers, in time, and no secret in it."""
    wanted = {status} if isinstance(status, int) else status
    assert response.status in wanted, (response.status, response.body[:300])
    assert response.status in V1_STATUSES
    assert response.elapsed < bound, f"answered after {response.elapsed:.2f}s"
    assert response.header("Content-Type") == V1_JSON, response.headers
    assert response.header("Deprecation") == "@1701388800"
    assert response.header("X-Request-Id")
    body = response.json()
    assert isinstance(body, dict)
    assert set(body) in ({"message", "status"}, {"message", "status", "errors"}), body
    assert body["status"] == response.status
    assert isinstance(body["message"], str) and body["message"]
    for error in body.get("errors", []):
        assert set(error) == {"param", "message"}, error
        assert isinstance(error["param"], str) and isinstance(error["message"], str)
    assert_no_secrets(response.body)
    return body


def assert_refused_by_aiohttp(response: RawResponse) -> None:
    """What aiohttp's HTTP parser answers before any middleware runs: a plain-text 400 on an
    HTTP/1.0 status line, then the connection is closed. Not v1-shaped: the bridge's code
    never sees the request. Documented here, not hidden."""
    assert response.status == 400, (response.status, response.body[:200])
    assert response.raw_head.startswith(b"HTTP/1.0 400")
    assert (response.header("Content-Type") or "").startswith("text/plain")
    assert response.closed
    assert response.elapsed < BOUND
    assert response.header("X-Upstream-Calls") is None  # the app never ran
    for secret in SECRETS:
        assert secret.encode() not in response.body


async def assert_healthy(target: Target) -> None:
    """After an attack: the process still serves ``/healthz`` and a normal ``GET /v1/jobs``."""
    health = await exchange(target, request_bytes("GET", "/healthz", auth=None))
    assert health.status == 200 and health.json() == {"status": "ok"}
    jobs = await exchange(target, request_bytes("GET", "/v1/jobs?per_page=2"))
    assert jobs.status == 200, jobs.body[:300]
    assert jobs.header("Content-Type") == V1_JSON
    assert len(jobs.json()["data"]) == 2


async def upstream_requests(harness: Harness) -> int:
    """How many requests the sandbox has answered so far."""
    return sum((await harness.stats())["requests"].values())

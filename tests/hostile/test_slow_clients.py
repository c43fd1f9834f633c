"""Slow senders (slow-loris): they must not hold up anyone else, and must not stay forever.

What aiohttp does: a request handler starts only once the request line and headers are
complete, and reading is asynchronous, so a connection that dribbles its headers costs a
socket and a little memory, never the event loop: other clients are served at full speed.
aiohttp has no separate header-read deadline; the only clock on a connection that has not
finished its first request is ``keepalive_timeout``, started when the connection opens
(dribbled bytes do not extend it). The bridge's CLI sets it from ``idle_timeout_seconds``
(aiohttp's default would let a slow-loris hold its connection for an hour).

A body that dribbles in after complete headers is bounded by
``client_body_timeout_seconds``: the whole of a small body, each pause of an upload.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.hostile.live import LiveBridge, live_bridge
from tests.hostile.support import (
    BASIC,
    Target,
    assert_healthy,
    exchange,
    request_bytes,
)
from tests.proxy.conftest import Harness

DRIBBLE_SECONDS = 0.2  # one byte every 200 ms
PROMPT = 1.0  # a normal request during the dribble answers within this


@contextlib.asynccontextmanager
async def _dribbling(
    target: Target, data: bytes, interval: float = DRIBBLE_SECONDS
) -> AsyncIterator[asyncio.StreamReader]:
    """A connection that sends ``data`` one byte per ``interval`` in the background."""
    reader, writer = await asyncio.open_connection(target.host, target.port)

    async def dribble() -> None:
        with contextlib.suppress(ConnectionError):
            for byte in data:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(interval)

    task = asyncio.create_task(dribble())
    try:
        yield reader
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _normal_requests_stay_prompt(target: Target, seconds: float) -> int:
    """Normal ``GET /v1/jobs`` one after another for ``seconds``; each within ``PROMPT``."""
    served = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        response = await exchange(target, request_bytes("GET", "/v1/jobs?per_page=1"), bound=PROMPT)
        assert response.status == 200
        served += 1
        await asyncio.sleep(0.2)
    return served


SLOW_HEADERS = (
    b"GET /v1/jobs?per_page=1 HTTP/1.1\r\nHost: bridge.test\r\nConnection: close\r\n"
    b"Authorization: " + BASIC.encode() + b"\r\nX-Pad: " + b"p" * 200
)


async def test_a_slow_loris_does_not_hold_up_other_clients(harness: Harness) -> None:
    target = Target.of(harness)
    async with _dribbling(target, SLOW_HEADERS) as slow:
        served = await _normal_requests_stay_prompt(target, 2.0)
        assert served >= 4
        # No header deadline (keepalive_timeout is 3630 s here): nothing answered yet.
        assert not slow.at_eof()
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(slow.read(1), 0.1)
    await assert_healthy(target)


async def test_a_slow_sender_that_finishes_is_answered(harness: Harness) -> None:
    """Slow is not wrong: a request that arrives in pieces over two seconds gets its answer."""
    target = Target.of(harness)
    head = request_bytes("GET", "/v1/jobs?per_page=1")
    reader, writer = await asyncio.open_connection(target.host, target.port)
    try:
        for offset in range(0, len(head), len(head) // 10 + 1):
            writer.write(head[offset : offset + len(head) // 10 + 1])
            await writer.drain()
            await asyncio.sleep(DRIBBLE_SECONDS)
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 200")


async def test_a_hundred_idle_half_requests_do_not_hold_up_other_clients(
    harness: Harness,
) -> None:
    target = Target.of(harness)
    connections = []
    try:
        for _ in range(100):
            _, writer = await asyncio.open_connection(target.host, target.port)
            writer.write(SLOW_HEADERS[:30])
            connections.append(writer)
        await asyncio.gather(*(w.drain() for w in connections))
        assert await _normal_requests_stay_prompt(target, 1.0) >= 3
    finally:
        for writer in connections:
            writer.close()
    await assert_healthy(target)


async def test_a_slow_body_does_not_hold_up_other_clients(harness: Harness) -> None:
    """Headers complete, body dribbling: the handler waits on the body without blocking
    anyone; when the body is complete (within the body timeout) the request is answered."""
    target = Target.of(harness)
    body = b'{"first_name":"Slow","last_name":"Loris","email":"slow@example.com"}'
    head = request_bytes(
        "POST", "/v1/candidates", headers={"Content-Type": "application/json"}, body=body
    )[: -len(body)]
    reader, writer = await asyncio.open_connection(target.host, target.port)
    try:
        writer.write(head)
        for offset in range(0, len(body), 8):
            writer.write(body[offset : offset + 8])
            await writer.drain()
            if offset % 32 == 0:
                await _normal_requests_stay_prompt(target, 0.01)
            await asyncio.sleep(DRIBBLE_SECONDS)
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
    await assert_healthy(target)


# --- with a connection deadline ---------------------------------------------------------------

KEEPALIVE_SECONDS = 2.0


@pytest.fixture(scope="module")
def bounded_bridge() -> Iterator[LiveBridge]:
    """The bridge served with ``keepalive_timeout`` set, as proposed for ``proxy/cli.py``."""
    with live_bridge(runner_options={"keepalive_timeout": KEEPALIVE_SECONDS}) as running:
        yield running


async def test_with_a_keepalive_timeout_a_slow_loris_is_closed_on_time(
    bounded_bridge: LiveBridge,
) -> None:
    target = Target(bounded_bridge.host, bounded_bridge.port)
    started = time.monotonic()
    async with _dribbling(target, SLOW_HEADERS) as slow:
        closing = asyncio.ensure_future(asyncio.wait_for(slow.read(), KEEPALIVE_SECONDS + 3))
        served = await _normal_requests_stay_prompt(target, KEEPALIVE_SECONDS - 0.5)
        assert served >= 3
        received = await closing
    took = time.monotonic() - started
    # Closed without an answer once the deadline passed, though bytes kept coming.
    assert received == b""
    assert KEEPALIVE_SECONDS - 0.5 < took < KEEPALIVE_SECONDS + 2, took
    await assert_healthy(target)


class _Captured(Exception):
    def __init__(self, options: dict[str, object]) -> None:
        super().__init__("captured")
        self.options = options


async def _runner_options(monkeypatch: pytest.MonkeyPatch, **serve: Any) -> dict[str, object]:
    """What ``proxy.cli._serve_until_stopped`` passes to ``web.AppRunner``."""
    from proxy import cli

    def capture(app: web.Application, **options: object) -> web.AppRunner:
        raise _Captured(options)

    monkeypatch.setattr(cli.web, "AppRunner", capture)
    with pytest.raises(_Captured) as captured:
        await cli._serve_until_stopped((web.Application(), "127.0.0.1", 0), **serve)
    return captured.value.options


async def test_the_cli_runner_bounds_how_long_a_connection_may_dribble(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keepalive = (await _runner_options(monkeypatch)).get("keepalive_timeout", 3630.0)
    assert isinstance(keepalive, int | float)
    assert 0 < keepalive <= 75, f"keepalive_timeout={keepalive}"


async def test_the_cli_runner_takes_the_idle_timeout_it_is_given(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = await _runner_options(monkeypatch, idle_timeout=7.5)
    assert options["keepalive_timeout"] == 7.5


# --- a body that stops arriving ---------------------------------------------------------------

BODY_TIMEOUT = 1.0


async def _read_answer(reader: asyncio.StreamReader) -> bytes:
    """One answer by its ``Content-Length``: with a body left unread, aiohttp keeps the
    connection open a while (lingering) to drain it, so reading to the close would wait."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head + await reader.readexactly(length)


async def _send_and_stall(target: Target, data: bytes, bound: float) -> tuple[bytes, float]:
    """Send ``data`` (a request whose body is cut short), then wait for the answer."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(target.host, target.port)
    try:
        writer.write(data)
        await writer.drain()
        answer = await asyncio.wait_for(_read_answer(reader), bound)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    return answer, time.monotonic() - started


def _v1_error(answer: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    assert b"content-type: application/json; charset=utf-8" in head.lower(), head
    return status, orjson.loads(body)


def _application_create(harness: Harness) -> tuple[str, bytes]:
    vacancy_id = next(iter(harness.sandbox.state.vacancies))
    body = orjson.dumps(
        {
            "job": vacancy_id,
            "candidate": {"first_name": "Stalled", "last_name": "Sender", "email": "s@example.com"},
        }
    )
    return "application/json", body


def _candidate_form(harness: Harness) -> tuple[str, bytes]:
    return "application/x-www-form-urlencoded", b"first_name=Stalled&last_name=S&email=s%40e.com"


def _candidate_multipart(harness: Harness) -> tuple[str, bytes]:
    return "multipart/form-data; boundary=b", (
        b'--b\r\nContent-Disposition: form-data; name="first_name"\r\n\r\nStalled\r\n'
        b'--b\r\nContent-Disposition: form-data; name="email"\r\n\r\ns@example.com\r\n--b--\r\n'
    )


@pytest.mark.parametrize(
    "path,make_body",
    [
        ("/v1/applications", _application_create),
        ("/v1/candidates", _candidate_form),
        ("/v1/candidates", _candidate_multipart),
    ],
    ids=["json application", "form candidate", "multipart candidate"],
)
async def test_a_body_that_stops_arriving_is_a_v1_400_after_the_body_timeout(
    make_harness: Callable[..., Awaitable[Harness]],
    path: str,
    make_body: Callable[[Harness], tuple[str, bytes]],
) -> None:
    harness = await make_harness(client_body_timeout_seconds=BODY_TIMEOUT)
    applications_before = len(harness.sandbox.state.applications)
    content_type, body = make_body(harness)
    request = request_bytes("POST", path, headers={"Content-Type": content_type}, body=body)
    answer, took = await _send_and_stall(
        Target.of(harness), request[: -len(body) // 2], BODY_TIMEOUT + 4
    )
    status, error = _v1_error(answer)
    assert status == 400
    assert error == {
        "message": f"Unreadable body: the body did not arrive within {BODY_TIMEOUT:g} s",
        "status": 400,
        "errors": [
            {"param": "body", "message": f"the body did not arrive within {BODY_TIMEOUT:g} s"}
        ],
    }
    assert BODY_TIMEOUT - 0.1 <= took < BODY_TIMEOUT + 3, took
    assert len(harness.sandbox.state.applications) == applications_before  # nothing written
    await assert_healthy(Target.of(harness))


def _upload_request(application_id: str, filename: bytes, content: bytes) -> bytes:
    """``POST /v1/applications/{id}/files`` with one file part, as raw bytes."""
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="'
        + filename
        + b'"\r\nContent-Type: application/pdf\r\n\r\n'
        + content
        + b"\r\n--b--\r\n"
    )
    return request_bytes(
        "POST",
        f"/v1/applications/{application_id}/files",
        headers={"Content-Type": "multipart/form-data; boundary=b"},
        body=body,
    )


async def test_an_upload_that_stalls_is_a_v1_400_and_creates_no_file(
    make_harness: Callable[..., Awaitable[Harness]],
) -> None:
    harness = await make_harness(client_body_timeout_seconds=BODY_TIMEOUT)
    application_id = next(iter(harness.sandbox.state.applications))
    files_before = len(harness.sandbox.state.applications[application_id].files)
    request = _upload_request(application_id, b"cv.pdf", b"%PDF-1.4 " + b"x" * 200_000)
    answer, took = await _send_and_stall(Target.of(harness), request[:-50_000], BODY_TIMEOUT + 4)
    status, error = _v1_error(answer)
    assert status == 400
    assert error["errors"] == [
        {"param": "file", "message": f"the upload stalled: nothing arrived for {BODY_TIMEOUT:g} s"}
    ]
    assert BODY_TIMEOUT - 0.1 <= took < BODY_TIMEOUT + 3, took
    await asyncio.sleep(0.2)  # let the sandbox see the aborted upstream request end
    assert len(harness.sandbox.state.applications[application_id].files) == files_before
    await assert_healthy(Target.of(harness))


async def test_a_slow_upload_that_keeps_coming_outlasts_the_upstream_timeout(
    make_harness: Callable[..., Awaitable[Harness]],
) -> None:
    """The upstream timeout bounds v2's answer, not the client's pace: an upload that
    takes three times as long to arrive, with no pause over the body timeout, succeeds."""
    harness = await make_harness(upstream_timeout_seconds=1, client_body_timeout_seconds=1)
    application_id = next(iter(harness.sandbox.state.applications))
    files_before = len(harness.sandbox.state.applications[application_id].files)
    request = _upload_request(application_id, b"slow.pdf", b"%PDF-1.4 " + b"y" * 300_000)
    target = Target.of(harness)
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(target.host, target.port)
    try:
        pieces = 12
        step = len(request) // pieces + 1
        for offset in range(0, len(request), step):
            writer.write(request[offset : offset + step])
            await writer.drain()
            await asyncio.sleep(0.25)
        answer = await asyncio.wait_for(reader.read(), 5)
    finally:
        writer.close()
    assert time.monotonic() - started > 3 * 1
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
    assert len(harness.sandbox.state.applications[application_id].files) == files_before + 1

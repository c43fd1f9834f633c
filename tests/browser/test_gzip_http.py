"""gzip through real sockets: large v1 answers compressed when the client accepts gzip,
small ones and clients that do not accept it served as they are, lengths always right."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import Callable
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from proxy.browsers import SYNC_GZIP_MAX_BYTES, BrowserAnswers, accepts_gzip
from proxy.config import BridgeSettings
from tests.proxy.conftest import FULL, Harness

PAGE = "/v1/applications?per_page=100"


async def _raw(
    harness: Harness, path: str, accept_encoding: str | None, method: str = "GET"
) -> tuple[aiohttp.ClientResponse, bytes]:
    """The answer's bytes as they crossed the socket (no decompression on the client)."""
    headers = {} if accept_encoding is None else {"Accept-Encoding": accept_encoding}
    async with aiohttp.ClientSession(
        auto_decompress=False, skip_auto_headers=("Accept-Encoding",)
    ) as http:
        async with http.request(method, harness.url(path), auth=FULL, headers=headers) as response:
            return response, await response.read()


def _vary(response: aiohttp.ClientResponse) -> set[str]:
    return {t.strip().lower() for t in response.headers.get("Vary", "").split(",") if t.strip()}


async def test_a_large_page_is_gzipped_with_the_right_length(harness: Harness) -> None:
    plain, plain_bytes = await _raw(harness, PAGE, None)
    zipped, zipped_bytes = await _raw(harness, PAGE, "gzip, deflate, br, zstd")
    assert plain.status == zipped.status == 200
    assert len(plain_bytes) > 1024
    assert "Content-Encoding" not in plain.headers
    assert int(plain.headers["Content-Length"]) == len(plain_bytes)
    # gzip, not deflate, though the browser lists deflate first.
    assert zipped.headers["Content-Encoding"] == "gzip"
    assert int(zipped.headers["Content-Length"]) == len(zipped_bytes)
    assert len(zipped_bytes) < len(plain_bytes) / 3
    assert orjson.loads(gzip.decompress(zipped_bytes)) == orjson.loads(plain_bytes)
    assert zipped.headers["X-Upstream-Calls"] == plain.headers["X-Upstream-Calls"] == "1"
    assert zipped.headers["Content-Type"] == "application/json; charset=utf-8"
    # Both say the answer depends on Accept-Encoding, so a cache keeps them apart.
    assert "accept-encoding" in _vary(plain) and "accept-encoding" in _vary(zipped)


@pytest.mark.parametrize(
    ("accept_encoding", "compressed"),
    [
        ("gzip", True),
        ("GZIP;q=0.5", True),
        ("*", True),
        ("br, *;q=0.1", True),
        ("x-gzip", True),
        ("gzip;q=0", False),
        ("*;q=0", False),
        ("gzip;q=0, *", False),
        ("identity", False),
        ("br, zstd", False),
        ("deflate", False),
        ("", False),
    ],
)
async def test_accept_encoding_decides(
    harness: Harness, accept_encoding: str, compressed: bool
) -> None:
    assert accepts_gzip(accept_encoding) is compressed
    response, body = await _raw(harness, PAGE, accept_encoding)
    assert response.status == 200
    assert response.headers.get("Content-Encoding") == ("gzip" if compressed else None)
    assert int(response.headers["Content-Length"]) == len(body)
    decoded = gzip.decompress(body) if compressed else body
    assert len(orjson.loads(decoded)["data"]) > 0


async def test_small_answers_are_sent_as_they_are(harness: Harness) -> None:
    for path in ("/v1/no-such-thing", "/v1/applications?per_page=1"):
        response, body = await _raw(harness, path, "gzip")
        assert len(body) < 1024, path
        assert "Content-Encoding" not in response.headers
        assert "accept-encoding" not in _vary(response)
        assert int(response.headers["Content-Length"]) == len(body)
        orjson.loads(body)


async def test_errors_above_the_threshold_are_gzipped_too(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(gzip_min_bytes=32)
    response, body = await _raw(harness, "/v1/no-such-thing", "gzip")
    assert response.status == 404
    assert response.headers["Content-Encoding"] == "gzip"
    assert orjson.loads(gzip.decompress(body))["status"] == 404


async def test_gzip_level_trades_size_for_time(
    harness: Harness, make_harness: Callable[..., Any]
) -> None:
    _, fast = await _raw(harness, PAGE, "gzip")  # level 1, the default
    smallest: Harness = await make_harness(gzip_level=9)
    _, small = await _raw(smallest, PAGE, "gzip")
    assert gzip.decompress(small) == gzip.decompress(fast)
    assert len(small) < len(fast)


async def test_gzip_off(make_harness: Callable[..., Any]) -> None:
    harness: Harness = await make_harness(gzip_min_bytes=0)
    response, body = await _raw(harness, PAGE, "gzip")
    assert len(body) > 1024
    assert "Content-Encoding" not in response.headers
    assert "accept-encoding" not in _vary(response)


async def test_the_operator_surface_is_not_compressed(harness: Harness) -> None:
    response, body = await _raw(harness, "/metrics", "gzip")
    assert response.status == 200 and len(body) > 1024
    assert "Content-Encoding" not in response.headers


async def test_an_ordinary_client_reads_the_gzipped_page(harness: Harness) -> None:
    # aiohttp's client asks for gzip by itself and decompresses, as browsers and requests do.
    async with await harness.get(PAGE) as response:
        assert response.headers["Content-Encoding"] == "gzip"
        assert len((await response.json())["data"]) > 1


async def _raw_exchange(port: int, method: str, path: str) -> tuple[dict[str, str], bytes]:
    """One request on a fresh socket, the answer's head parsed and its body as sent."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(
        f"{method} {path} HTTP/1.1\r\nHost: bridge\r\nAccept-Encoding: gzip\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    data = await asyncio.wait_for(reader.read(), 30)
    writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")[1:]
    return {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}, body


async def _serving(aiohttp_server: Callable[..., Any], page: bytes) -> int:
    """The middleware alone in front of a GET route answering ``page`` (and HEAD, as
    aiohttp's add_get does); its port."""

    async def jobs(_request: web.Request) -> web.Response:
        return web.Response(body=page, content_type="application/json")

    app = web.Application(middlewares=[BrowserAnswers(BridgeSettings())])
    app.router.add_get("/v1/jobs", jobs)
    server = await aiohttp_server(app)
    return int(server.port)


async def test_head_answers_the_headers_get_would(aiohttp_server: Callable[..., Any]) -> None:
    page = orjson.dumps({"data": [{"id": f"job_{n}", "title": "Designer"} for n in range(100)]})
    port = await _serving(aiohttp_server, page)
    got, got_body = await _raw_exchange(port, "GET", "/v1/jobs")
    head, head_body = await _raw_exchange(port, "HEAD", "/v1/jobs")
    assert got["content-encoding"] == head["content-encoding"] == "gzip"
    assert int(got["content-length"]) == len(got_body) == int(head["content-length"])
    assert head_body == b""
    assert gzip.decompress(got_body) == page


@pytest.mark.parametrize("size", [5_000, SYNC_GZIP_MAX_BYTES + 5_000])
async def test_in_turn_and_threaded_gzip_send_the_same_page(
    aiohttp_server: Callable[..., Any], size: int
) -> None:
    # Up to SYNC_GZIP_MAX_BYTES the middleware compresses in the request's turn, larger
    # answers go to aiohttp's thread: either way a client gets the page, lengths right.
    rows = [{"id": f"job_{n}", "title": f"Designer {n}"} for n in range(size // 30)]
    page = orjson.dumps({"data": rows})[:size]
    got, got_body = await _raw_exchange(await _serving(aiohttp_server, page), "GET", "/v1/jobs")
    assert got["content-encoding"] == "gzip"
    assert int(got["content-length"]) == len(got_body) < len(page) / 3
    assert gzip.decompress(got_body) == page
    assert "accept-encoding" in got["vary"].lower()

"""Hostile request lines and headers: path ids, oversized and injected headers, smuggling.

Path ids are checked against ``^[A-Za-z0-9_-]{1,64}$`` before any upstream call (contract
§5): every odd id is a v1 404 with ``X-Upstream-Calls: 0`` and the sandbox sees nothing.

Some requests never reach the bridge's code: aiohttp's HTTP parser refuses them first
(raw non-ASCII or NUL bytes in the request line, a header line over 8190 bytes, more than
128 headers, a bare CR, Content-Length together with Transfer-Encoding). aiohttp answers
those itself with a plain-text ``HTTP/1.0 400`` and closes the connection; no v1 status
fits better (there is no 431 in v1) and no v1 body can be given without replacing
aiohttp's error handler. The tests pin that down and check the process stays healthy.
"""

from __future__ import annotations

from typing import Final

import pytest

from mappings.v1_endpoints import ENDPOINTS
from tests.hostile.support import (
    BASIC,
    Target,
    assert_healthy,
    assert_refused_by_aiohttp,
    assert_v1_error,
    exchange,
    request_bytes,
    upstream_requests,
)
from tests.proxy.conftest import Harness

ODD_IDS = {
    "dot dot": b"..",
    "encoded dot dot": b"%2e%2e",
    "encoded slash": b"a%2fb",
    "traversal": b"..%2f..%2fhealthz",
    "backslash traversal": b"..%5c..%5cetc",
    "encoded NUL": b"job_a%00b",
    "only NUL": b"%00",
    "encoded CRLF": b"job_%0d%0aX-Evil:%201",
    "space": b"a%20b",
    "semicolon": b"a;b",
    "dot": b"a.b",
    "encoded question mark": b"a%3fb",
    "encoded hash": b"a%23b",
    "percent-encoded unicode": b"caf%C3%A9",
    "right-to-left override": b"ap_%E2%80%AEx",
    "fullwidth letters": b"%EF%BD%81%EF%BD%90",
    "invalid UTF-8 escape": b"%ff%fe",
    "65 characters": b"a" * 65,
    "4000 characters": b"b" * 4000,
}
# Each row of the v1 table with an id, once per id in its path (the others well formed): a
# 404 must come from the id check.
_WELL_FORMED: Final = {"id": "ap_x", "file_id": "fi_0123456789abcdef0123"}
ID_ROUTES = [
    (
        entry.method,
        entry.path.format(**{**_WELL_FORMED, odd.name: "{}"}).encode(),
    )
    for entry in ENDPOINTS
    for odd in entry.parameters
    if odd.location == "path"
]


@pytest.mark.parametrize("odd_id", ODD_IDS.values(), ids=ODD_IDS.keys())
async def test_odd_path_ids_are_404_with_no_upstream_call(harness: Harness, odd_id: bytes) -> None:
    target = Target.of(harness)
    before = await upstream_requests(harness)
    for method, template in ID_ROUTES:
        path = template.replace(b"{}", odd_id)
        body = b"body=x" if method != "GET" and method != "DELETE" else b""
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        response = await exchange(target, request_bytes(method, path, headers=headers, body=body))
        assert_v1_error(response, 404)
        assert response.header("X-Upstream-Calls") == "0", (method, path)
    assert await upstream_requests(harness) == before
    await assert_healthy(target)


async def test_dot_segments_never_escape_the_route(harness: Harness) -> None:
    """aiohttp routes the path as sent, without resolving ``..``: a path with literal dot
    segments matches no route and is a v1 404 (never ``/healthz`` or the admin report)."""
    target = Target.of(harness)
    for path in (b"/v1/jobs/../../healthz", b"/v1/../_bridge/report", b"/v1/candidates/ca_../x"):
        response = await exchange(target, request_bytes("GET", path, auth=None))
        assert response.status == 404, (path, response.status)
        assert response.header("Content-Type") == "application/json; charset=utf-8"


@pytest.mark.parametrize(
    "request_line",
    [
        b"GET /v1/jobs/caf\xc3\xa9 HTTP/1.1",
        b"GET /v1/jobs/a\x00b HTTP/1.1",
        b"GET /v1/applications/ap_\xff/notes HTTP/1.1",
        b"GET /v1/jobs/a\tb HTTP/1.1",
        b"GET * HTTP/1.1",
    ],
    ids=["raw UTF-8", "raw NUL", "raw 0xff", "tab", "asterisk"],
)
async def test_raw_bytes_in_the_request_line_are_refused_by_aiohttp(
    harness: Harness, request_line: bytes
) -> None:
    target = Target.of(harness)
    before = await upstream_requests(harness)
    raw = request_line + b"\r\nHost: x\r\nConnection: close\r\nAuthorization: " + BASIC.encode()
    response = await exchange(target, raw + b"\r\n\r\n")
    assert_refused_by_aiohttp(response)
    assert await upstream_requests(harness) == before
    await assert_healthy(target)


# --- oversized headers ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw_headers",
    [
        b"X-Big: " + b"a" * 9000 + b"\r\n",
        b"X-" + b"n" * 9000 + b": 1\r\n",
        b"".join(b"X-H%d: 1\r\n" % i for i in range(200)),
        b"Cookie: " + b"c=1; " * 20_000 + b"\r\n",
    ],
    ids=["value over 8190 bytes", "name over 8190 bytes", "200 headers", "100 KB cookie"],
)
async def test_oversized_headers_are_refused_cleanly(harness: Harness, raw_headers: bytes) -> None:
    """aiohttp's limits (8190-byte lines, 128 headers) answer a plain 400 and close."""
    target = Target.of(harness)
    response = await exchange(target, request_bytes("GET", "/v1/jobs", raw_headers=raw_headers))
    assert_refused_by_aiohttp(response)
    await assert_healthy(target)


async def test_headers_just_under_the_limits_are_served(harness: Harness) -> None:
    target = Target.of(harness)
    raw_headers = (
        b"X-Big: " + b"a" * 8000 + b"\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(100))
    )
    response = await exchange(
        target, request_bytes("GET", "/v1/jobs?per_page=1", raw_headers=raw_headers)
    )
    assert response.status == 200


# --- header injection and smuggling ----------------------------------------------------------


@pytest.mark.parametrize(
    "raw_headers",
    [
        b"X-Request-Id: a\r\nInjected: x\r\n",
        b"X-Request-Id: a%0d%0aInjected:%20x\r\n",
        b"X-Request-Id: a\\r\\nInjected: x\r\n",
        b"X-Request-Id: " + "é\r\nInjected: x".encode() + b"\r\n",
        b"X-Request-Id: " + b"r" * 5000 + b"\r\n",
    ],
    ids=["CRLF", "percent-encoded CRLF", "escaped CRLF", "non-ASCII", "5000 chars"],
)
async def test_crlf_in_a_request_id_is_never_reflected_as_a_header(
    harness: Harness, raw_headers: bytes
) -> None:
    target = Target.of(harness)
    response = await exchange(
        target, request_bytes("GET", "/v1/jobs?per_page=1", raw_headers=raw_headers)
    )
    assert response.status == 200
    assert "injected" not in response.header_names()
    request_id = response.header("X-Request-Id") or ""
    assert request_id == "a" or (len(request_id) == 32 and request_id.isalnum()), request_id
    for line in response.raw_head.split(b"\r\n"):
        assert b"\n" not in line and b"\r" not in line
    await assert_healthy(target)


@pytest.mark.parametrize(
    "raw_headers",
    [
        b"X-Request-Id: a\rInjected: x\r\n",
        b"X-Request-Id: a\x00b\r\n",
        b"Authorization: Bearer demo-v1-key\x01\r\n",
        b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n",
        b"Content-Length: 2\r\nContent-Length: 3\r\n",
        b"Content-Length: -1\r\n",
        b"Transfer-Encoding: chunked, identity\r\n",
        b" folded: continuation\r\n",
    ],
    ids=[
        "bare CR",
        "NUL",
        "control char",
        "CL and TE",
        "two CL",
        "negative CL",
        "bad TE",
        "obs-fold",
    ],
)
async def test_smuggling_and_broken_header_framing_is_refused(
    harness: Harness, raw_headers: bytes
) -> None:
    target = Target.of(harness)
    before = await upstream_requests(harness)
    response = await exchange(
        target, request_bytes("POST", "/v1/candidates", raw_headers=raw_headers, auth=None) + b"{}"
    )
    assert_refused_by_aiohttp(response)
    assert await upstream_requests(harness) == before
    await assert_healthy(target)


async def test_a_pipelined_second_request_is_answered_on_its_own(harness: Harness) -> None:
    """A body that smuggles a second request is read as exactly Content-Length bytes."""
    target = Target.of(harness)
    smuggled = request_bytes("GET", "/v1/jobs/../_bridge/report", auth=None)
    first = request_bytes(
        "POST",
        "/v1/candidates",
        headers={"Content-Type": "application/json"},
        body=b'{"first_name":"A","last_name":"B","email":"a@b.co"}',
    ).replace(b"Connection: close\r\n", b"")
    response = await exchange(target, first + smuggled)
    assert response.status == 201
    assert b"HTTP/1.1 401" in response.body or b"HTTP/1.1 404" in response.body

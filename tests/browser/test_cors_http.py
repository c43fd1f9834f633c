"""CORS through real sockets, with a plain HTTP client playing the browser's part.

What a careers widget's browser sees: the preflight answered by the bridge at no upstream
cost, the CORS headers on every answer to an allowed origin (errors included), none for
any other origin, and none at all while CORS is off or outside /v1.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from multidict import CIMultiDictProxy

from tests.proxy.conftest import FULL, Harness

WIDGET = "http://careers.example.test:8000"
BEARER = {"Authorization": "Bearer demo-v1-key"}
EXPOSED = {"X-Request-Id", "X-Upstream-Calls", "Deprecation", "Link", "Sunset", "Retry-After"}
REQUESTED = {"Authorization", "Content-Type", "Cache-Control", "X-Request-Id"}


def _preflight(origin: str, method: str = "POST") -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": "authorization,content-type",
    }


def _tokens(value: str | None) -> set[str]:
    return {t.strip().lower() for t in (value or "").split(",") if t.strip()}


def _cors_headers(headers: CIMultiDictProxy[str]) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower().startswith("access-control-")}


async def _upstream_requests(harness: Harness) -> int:
    return sum((await harness.stats())["requests"].values())


@pytest.fixture
async def widget_harness(make_harness: Callable[..., Any]) -> Harness:
    built: Harness = await make_harness(cors_allowed_origins=[WIDGET])
    return built


async def _options(harness: Harness, path: str, headers: dict[str, str]) -> tuple[int, Any]:
    async with harness.http.options(harness.url(path), headers=headers) as response:
        await response.read()
        return response.status, response.headers


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/applications", "/v1/applications/ap_x/notes/"])
async def test_preflight_is_answered_by_the_bridge_without_upstream_or_key(
    widget_harness: Harness, path: str
) -> None:
    before = await _upstream_requests(widget_harness)
    status, headers = await _options(widget_harness, path, _preflight(WIDGET))
    assert status == 204
    assert headers["Access-Control-Allow-Origin"] == WIDGET
    assert {"get", "post", "put", "patch", "delete"} <= _tokens(
        headers["Access-Control-Allow-Methods"]
    )
    assert {h.lower() for h in REQUESTED} <= _tokens(headers["Access-Control-Allow-Headers"])
    assert int(headers["Access-Control-Max-Age"]) > 0
    assert "origin" in _tokens(headers.get("Vary"))
    # Still a v1 answer: request id, deprecation headers, and what it cost upstream.
    assert headers["X-Request-Id"] and headers["Deprecation"] == "@1701388800"
    assert headers["X-Upstream-Calls"] == "0"
    assert await _upstream_requests(widget_harness) == before
    async with await widget_harness.get("/metrics", auth=None) as response:
        counted = 'homerun_bridge_v1_requests_total{key_label="-",method="OPTIONS",'
        assert counted + 'route="cors-preflight",status="204"} 1.0' in await response.text()


async def test_preflights_spend_no_budget(make_harness: Callable[..., Any]) -> None:
    # One call a minute and no waiting: had a preflight spent it, the read would be a 429.
    harness: Harness = await make_harness(
        cors_allowed_origins=[WIDGET],
        rate_limit_per_minute=1,
        rate_limit_burst=1,
        rate_limit_deadline_seconds=0,
    )
    for _ in range(5):
        status, _headers = await _options(harness, "/v1/jobs", _preflight(WIDGET, "GET"))
        assert status == 204
    async with await harness.get("/v1/jobs", headers={"Origin": WIDGET}) as response:
        assert response.status == 200, await response.text()
        assert response.headers["X-Upstream-Calls"] == "1"
        assert response.headers["Access-Control-Allow-Origin"] == WIDGET


async def test_an_answer_to_the_allowed_origin_carries_the_cors_headers(
    widget_harness: Harness,
) -> None:
    async with await widget_harness.get(
        "/v1/jobs", auth=None, headers={**BEARER, "Origin": WIDGET}
    ) as response:
        assert response.status == 200
        assert len((await response.json())["data"]) > 0
        headers = response.headers
    assert headers["Access-Control-Allow-Origin"] == WIDGET
    assert _tokens(headers["Access-Control-Expose-Headers"]) == {h.lower() for h in EXPOSED}
    assert "origin" in _tokens(headers.get("Vary"))
    assert headers["X-Upstream-Calls"] == "1"


ERRORS: dict[str, tuple[int, str, str, dict[str, Any] | None, dict[str, Any] | None]] = {
    # name: (status, method, path, the caller's auth, a sandbox fault to arm first)
    "unauthenticated": (401, "GET", "/v1/jobs", None, None),
    "unknown path": (404, "GET", "/v1/no-such-thing", {}, None),
    "bad id": (404, "GET", "/v1/jobs/not%20an%20id", {}, None),
    "wrong method": (405, "DELETE", "/v1/jobs", {}, None),
    "upstream garbage": (502, "GET", "/v1/jobs", {}, {"action": "malformed", "count": 5}),
    "upstream refuses": (
        429,
        "GET",
        "/v1/jobs",
        {},
        {"action": "status", "status": 429, "count": 20, "path": "^/v2/vacancies"},
    ),
}


@pytest.mark.parametrize("case", ERRORS)
async def test_errors_to_the_allowed_origin_carry_the_cors_headers(
    make_harness: Callable[..., Any], case: str
) -> None:
    status, method, path, auth, fault = ERRORS[case]
    harness: Harness = await make_harness(
        cors_allowed_origins=[WIDGET], rate_limit_deadline_seconds=0, upstream_retries=0
    )
    if fault is not None:
        await harness.faults(**fault)
    headers = {"Origin": WIDGET, **(BEARER if auth is not None else {})}
    async with harness.http.request(method, harness.url(path), headers=headers) as response:
        body = await response.json()
        assert response.status == status, body
        assert body["status"] == status  # the v1 error shape, not a bare aiohttp page
        assert response.headers["Access-Control-Allow-Origin"] == WIDGET
        assert _tokens(response.headers["Access-Control-Expose-Headers"]) == {
            h.lower() for h in EXPOSED
        }


@pytest.mark.parametrize(
    "origin",
    [
        "http://evil.example.test:8000",
        "http://careers.example.test:8001",  # another port is another origin
        "https://careers.example.test:8000",  # another scheme too
        "null",
    ],
)
async def test_another_origin_gets_no_cors_headers(widget_harness: Harness, origin: str) -> None:
    async with await widget_harness.get("/v1/jobs", headers={"Origin": origin}) as response:
        assert response.status == 200
        assert _cors_headers(response.headers) == {}
        assert "origin" in _tokens(response.headers.get("Vary"))
    async with await widget_harness.get("/v1/no-such-thing", headers={"Origin": origin}) as r:
        assert r.status == 404 and _cors_headers(r.headers) == {}


async def test_a_preflight_from_another_origin_is_any_options_and_costs_nothing(
    widget_harness: Harness,
) -> None:
    before = await _upstream_requests(widget_harness)
    plain_status, plain = await _options(widget_harness, "/v1/applications", {})
    status, headers = await _options(
        widget_harness, "/v1/applications", _preflight("http://evil.example.test")
    )
    assert _cors_headers(headers) == {}
    # Answered as an OPTIONS without CORS is: same status, same Allow.
    assert status == plain_status and headers.get("Allow") == plain.get("Allow")
    assert await _upstream_requests(widget_harness) == before


async def test_localhost_and_127_0_0_1_are_different_origins(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(cors_allowed_origins=["http://127.0.0.1:5000"])
    status, headers = await _options(harness, "/v1/jobs", _preflight("http://127.0.0.1:5000"))
    assert status == 204 and headers["Access-Control-Allow-Origin"] == "http://127.0.0.1:5000"
    for other in ("http://localhost:5000", "http://127.0.0.1:5001"):
        _status, headers = await _options(harness, "/v1/jobs", _preflight(other))
        assert _cors_headers(headers) == {}


async def test_any_origin_with_a_star(make_harness: Callable[..., Any]) -> None:
    harness: Harness = await make_harness(cors_allowed_origins=["*"])
    for origin in ("http://a.example.test", "http://localhost:3000"):
        status, headers = await _options(harness, "/v1/jobs", _preflight(origin, "GET"))
        assert status == 204 and headers["Access-Control-Allow-Origin"] == "*"
        async with await harness.get("/v1/jobs", headers={"Origin": origin}) as response:
            assert response.status == 200
            assert response.headers["Access-Control-Allow-Origin"] == "*"
            assert "X-Upstream-Calls" in response.headers["Access-Control-Expose-Headers"]
    async with await harness.get("/v1/jobs") as response:  # no Origin: not a CORS request
        assert "Access-Control-Allow-Origin" not in response.headers


async def test_cors_off_by_default(harness: Harness) -> None:
    async with await harness.get("/v1/jobs", headers={"Origin": WIDGET}) as response:
        assert response.status == 200
        assert _cors_headers(response.headers) == {}
        assert "origin" not in _tokens(response.headers.get("Vary"))
    plain_status, plain = await _options(harness, "/v1/jobs", {})
    status, headers = await _options(harness, "/v1/jobs", _preflight(WIDGET))
    assert _cors_headers(headers) == {}
    assert status == plain_status and headers.get("Allow") == plain.get("Allow")


async def test_the_operator_surface_speaks_no_cors(widget_harness: Harness) -> None:
    for path in ("/healthz", "/metrics"):
        async with await widget_harness.get(path, auth=None, headers={"Origin": WIDGET}) as r:
            assert r.status == 200
            assert _cors_headers(r.headers) == {}
    status, headers = await _options(widget_harness, "/healthz", _preflight(WIDGET, "GET"))
    assert _cors_headers(headers) == {} and status != 204


async def test_the_sunset_header_is_exposed_and_sent_on_preflights(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(
        cors_allowed_origins=[WIDGET], sunset="2027-06-30T00:00:00Z"
    )
    _status, headers = await _options(harness, "/v1/jobs", _preflight(WIDGET, "GET"))
    assert headers["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
    async with await harness.get("/v1/jobs", auth=FULL, headers={"Origin": WIDGET}) as r:
        assert r.headers["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
        assert "sunset" in _tokens(r.headers["Access-Control-Expose-Headers"])

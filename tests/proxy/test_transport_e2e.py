"""The v1 transport: headers, unknown paths and methods, bodies, upstream failures."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.proxy.conftest import FULL, Harness


@pytest.mark.sandbox_modes
async def test_every_v1_answer_carries_the_deprecation_headers(harness: Harness) -> None:
    async with await harness.get("/v1/jobs", headers={"X-Request-Id": "trace-123"}) as response:
        assert response.headers["Deprecation"] == "@1701388800"
        assert 'rel="deprecation"' in response.headers["Link"]
        assert response.headers["X-Request-Id"] == "trace-123"
        assert "Sunset" not in response.headers
    async with await harness.get("/v1/nope", auth=None) as response:
        assert response.headers["Deprecation"] == "@1701388800"
        assert len(response.headers["X-Request-Id"]) == 32


async def test_sunset_when_configured(make_harness: Callable[..., Any]) -> None:
    for configured in ("2027-06-30T00:00:00Z", "2027-06-30T02:00:00+02:00", "2027-06-30"):
        harness = await make_harness(sunset=configured)
        async with await harness.get("/v1/jobs") as response:
            assert response.status == 200
            assert response.headers["Sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"


@pytest.mark.sandbox_modes
async def test_unknown_path_and_wrong_method(harness: Harness) -> None:
    async with await harness.get("/v1/vacancies") as response:
        assert response.status == 404
        assert await response.json() == {"message": "No such endpoint", "status": 404}
    async with harness.http.delete(harness.url("/v1/jobs"), auth=FULL) as response:
        assert response.status == 405
        assert response.headers["Allow"] == "GET, HEAD"
        assert (await response.json())["status"] == 405


@pytest.mark.sandbox_modes
async def test_malformed_bodies_are_400(harness: Harness) -> None:
    for data, content_type in (
        (b"{not json", "application/json"),
        (b"[1, 2]", "application/json"),
        (b"candidate=1&candidate[x]=2", "application/x-www-form-urlencoded"),
        (b"\xff\xfe", "text/plain"),
    ):
        async with await harness.post(
            "/v1/applications", data=data, headers={"Content-Type": content_type}
        ) as response:
            assert response.status == 400, data
            assert (await response.json())["status"] == 400


async def test_upstream_down_is_502(make_harness: Callable[..., Any]) -> None:
    harness = await make_harness(upstream_url="http://127.0.0.1:9/v2")
    async with await harness.get("/v1/jobs") as response:
        assert response.status == 502
        assert "could not be reached" in (await response.json())["message"]


async def test_upstream_too_slow_is_504(make_harness: Callable[..., Any]) -> None:
    harness = await make_harness(upstream_timeout_seconds=0.3)
    # Every attempt is slow: the retries of this GET cannot rescue it.
    await harness.faults(path="^/v2/vacancies", action="latency", latency_ms=1500, count=10)
    async with await harness.get("/v1/jobs") as response:
        assert response.status == 504
        assert (await response.json())["status"] == 504


async def test_upstream_not_v2_is_502(harness: Harness) -> None:
    await harness.faults(path="^/v2/vacancies", action="malformed")
    async with await harness.get("/v1/jobs") as response:
        assert response.status == 502
    await harness.faults(path="^/v2/vacancies", action="schema_mismatch")
    async with await harness.get("/v1/jobs") as response:
        assert response.status == 502
        assert "cannot read" in (await response.json())["message"]


async def test_upstream_500_is_502_and_503_is_503(harness: Harness) -> None:
    await harness.faults(path="^/v2/vacancies", action="status", status=500, count=3)
    async with await harness.get("/v1/jobs") as response:
        assert response.status == 502
        assert response.headers["X-Upstream-Calls"] == "3", "one call and two retries"
    await harness.faults(path="^/v2/vacancies", action="status", status=503, count=3)
    async with await harness.get("/v1/jobs") as response:
        assert response.status == 503


async def test_a_get_is_retried_to_success(harness: Harness) -> None:
    await harness.faults(path="^/v2/vacancies", action="status", status=502, count=1)
    await harness.faults(path="^/v2/job-applications", action="drop_before", count=1)
    async with await harness.get("/v1/jobs") as response:
        assert response.status == 200
        assert response.headers["X-Upstream-Calls"] == "2"
    async with await harness.get("/v1/applications?per_page=2") as response:
        assert response.status == 200
        assert len((await response.json())["data"]) == 2


async def test_health_and_readiness(harness: Harness) -> None:
    async with harness.http.get(harness.url("/healthz")) as response:
        assert response.status == 200
    async with harness.http.get(harness.url("/readyz")) as response:
        assert response.status == 200
        assert (await response.json())["checks"] == {"upstream": "ok", "store": "ok"}


async def test_readiness_reports_the_upstream_down(make_harness: Callable[..., Any]) -> None:
    harness = await make_harness(upstream_url="http://127.0.0.1:9/v2")
    async with harness.http.get(harness.url("/readyz")) as response:
        assert response.status == 503
        assert (await response.json())["checks"]["upstream"].startswith("unreachable")


@pytest.mark.sandbox_modes
async def test_oversized_body_is_413(harness: Harness) -> None:
    big = {"candidate[first_name]": "x" * (2 * 1024 * 1024)}
    async with await harness.post("/v1/applications", data=big) as response:
        assert response.status == 413
        assert (await response.json())["status"] == 413


@pytest.mark.sandbox_modes
async def test_no_traceback_ever(harness: Harness) -> None:
    weird = aiohttp.FormData()
    weird.add_field("candidate", "ca_" + "x" * 80)
    async with await harness.post("/v1/applications", data=weird) as response:
        assert response.status == 400
        assert "Traceback" not in await response.text()


async def test_every_get_route_answers_head_alike(harness: Harness) -> None:
    # Full mode only: a sparse sandbox thins each answer anew, so lengths would differ.
    async with await harness.get("/v1/applications?per_page=3") as response:
        application_id = (await response.json())["data"][0]["id"]
    for path in ("/v1/jobs?per_page=5", f"/v1/applications/{application_id}", "/v1/nope"):
        async with await harness.get(path) as got:
            await got.read()
        async with harness.http.head(harness.url(path), auth=FULL) as head:
            assert head.status == got.status
            assert await head.read() == b""
            assert head.headers["Content-Length"] == got.headers["Content-Length"]
            assert head.headers["X-Upstream-Calls"] == got.headers["X-Upstream-Calls"]
            assert head.headers["Deprecation"] == got.headers["Deprecation"]

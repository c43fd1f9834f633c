"""Fault injection, the admin API (/_sandbox/...) and statistics."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import orjson
import pytest

from sandbox.faults import SCHEMA_MISMATCH_BODY
from tests.conftest_sandbox import RunningSandbox, StartSandbox
from tests.sandbox.support import bearer, call, status_of
from tests.spec_validation import load_spec_validator

NEW_APPLICANT = {"first_name": "Drop", "last_name": "Test", "email": "drop@example.com"}
CONNECTION_LOST = (
    aiohttp.ServerDisconnectedError,
    aiohttp.ClientOSError,
    aiohttp.ClientPayloadError,
)


async def add_fault(client: Any, **spec: Any) -> dict[str, Any]:
    status, body = await call(client, "POST", "/_sandbox/faults", json=spec)
    assert status == 201, body
    return dict(body)


async def test_fault_api_is_absent_unless_enabled(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    sandbox = await start_sandbox(faults_enabled=False)
    client = await aiohttp_client(sandbox.server)
    assert await status_of(client, "POST", "/_sandbox/faults", json={"action": "latency"}) == 404
    assert await status_of(client, "GET", "/_sandbox/faults") == 404
    assert await status_of(client, "POST", "/_sandbox/reset") == 404
    assert await status_of(client, "GET", "/_sandbox/stats") == 200


async def test_latency_delays_then_answers_normally(sandbox_client: Any) -> None:
    await add_fault(
        sandbox_client, method="GET", path="^/v2/ping$", action="latency", latency_ms=300
    )
    started = time.monotonic()
    assert await call(sandbox_client, "GET", "/v2/ping") == (200, {"pong": True})
    assert time.monotonic() - started >= 0.3
    started = time.monotonic()
    await call(sandbox_client, "GET", "/v2/ping")  # count 1: consumed
    assert time.monotonic() - started < 0.3


async def test_status_fault_answers_without_handling(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    before = len(sandbox_server.state.applications)
    await add_fault(
        sandbox_client, method="POST", path="^/v2/job-applications$", action="status", status=503
    )
    status, body = await call(sandbox_client, "POST", "/v2/job-applications", json=NEW_APPLICANT)
    assert (status, body) == (503, {"code": 503, "error": True, "message": "Service Unavailable"})
    assert len(sandbox_server.state.applications) == before

    await add_fault(sandbox_client, path="^/v2/", action="status", status=502, html=True)
    async with sandbox_client.get("/v2/vacancies") as response:
        assert response.status == 502 and response.content_type == "text/html"
        assert "502 Bad Gateway" in await response.text()

    await add_fault(sandbox_client, path="^/v2/", action="status", status=429)
    async with sandbox_client.get("/v2/vacancies") as response:
        assert response.status == 429 and response.headers["Retry-After"] == "1"
        assert await response.json() == {
            "code": 429,
            "error": True,
            "message": "Too Many Attempts.",
        }


async def test_drop_before_closes_the_connection_and_changes_nothing(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    before = len(sandbox_server.state.applications)
    await add_fault(
        sandbox_client, method="POST", path="^/v2/job-applications$", action="drop_before"
    )
    with pytest.raises(CONNECTION_LOST):
        await call(sandbox_client, "POST", "/v2/job-applications", json=NEW_APPLICANT)
    assert len(sandbox_server.state.applications) == before
    assert (
        await status_of(sandbox_client, "POST", "/v2/job-applications", json=NEW_APPLICANT) == 201
    )


async def test_drop_after_creates_although_the_client_got_no_answer(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    before = set(sandbox_server.state.applications)
    await add_fault(
        sandbox_client, method="POST", path="^/v2/job-applications$", action="drop_after"
    )
    with pytest.raises(CONNECTION_LOST):
        await call(sandbox_client, "POST", "/v2/job-applications", json=NEW_APPLICANT)
    created = set(sandbox_server.state.applications) - before
    assert len(created) == 1
    (new_id,) = created
    status, body = await call(sandbox_client, "GET", f"/v2/job-applications/{new_id}")
    assert status == 200 and body["data"]["personal_info"]["email"] == "drop@example.com"


async def test_malformed_and_schema_mismatch_bodies(sandbox_client: Any) -> None:
    await add_fault(sandbox_client, path="^/v2/vacancies$", action="malformed")
    async with sandbox_client.get("/v2/vacancies") as response:
        assert response.status == 200 and response.content_type == "application/json"
        raw = await response.read()
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)

    await add_fault(sandbox_client, path="^/v2/vacancies$", action="schema_mismatch")
    async with sandbox_client.get("/v2/vacancies") as response:
        assert response.status == 200
        body = await response.json()
    assert body == SCHEMA_MISMATCH_BODY
    headers = {"Content-Type": "application/json"}
    assert load_spec_validator().validate("GET", "/vacancies", 200, headers, orjson.dumps(body))


def operations_answering_json() -> list[tuple[str, str, int]]:
    """(method, template, success status) of every implemented operation with a JSON body."""
    spec = load_spec_validator().spec
    found = []
    for method, template in load_spec_validator().operations():
        operation = spec["paths"][template][method]
        if "Later additions" in operation.get("tags", []):
            continue
        status = next(int(code) for code in operation["responses"] if code.startswith("2"))
        if status != 204:
            found.append((method, template, status))
    return found


@pytest.mark.parametrize(("method", "template", "status"), operations_answering_json())
def test_the_default_mismatch_body_breaks_every_operation_schema(
    method: str, template: str, status: int
) -> None:
    body = orjson.dumps(SCHEMA_MISMATCH_BODY)
    headers = {"Content-Type": "application/json"}
    violations = load_spec_validator().validate(method, template, status, headers, body)
    assert violations, f"{method} {template} accepted the mismatch body"


async def test_slow_drip_sends_the_real_body_in_small_pieces(sandbox_client: Any) -> None:
    await add_fault(
        sandbox_client,
        path="^/v2/ping$",
        action="slow_drip",
        drip_interval_ms=40,
        drip_chunk_bytes=4,
    )
    started = time.monotonic()
    async with sandbox_client.get("/v2/ping") as response:
        pieces = [chunk async for chunk in response.content.iter_any()]
    assert b"".join(pieces) == b'{"pong":true}'
    assert time.monotonic() - started >= 3 * 0.04
    assert len(pieces) >= 2


async def test_count_method_filter_list_and_clear(sandbox_client: Any) -> None:
    fault = await add_fault(
        sandbox_client,
        method="post",
        path="^/v2/job-applications$",
        action="status",
        status=500,
        count=2,
    )
    assert fault["method"] == "POST" and fault["count"] == 2
    assert await status_of(sandbox_client, "GET", "/v2/job-applications") == 200  # other method
    assert (
        await status_of(sandbox_client, "POST", "/v2/job-applications", json=NEW_APPLICANT) == 500
    )
    _, listing = await call(sandbox_client, "GET", "/_sandbox/faults")
    assert [(f["id"], f["count"]) for f in listing["faults"]] == [(fault["id"], 1)]
    assert (
        await status_of(sandbox_client, "POST", "/v2/job-applications", json=NEW_APPLICANT) == 500
    )
    assert (
        await status_of(sandbox_client, "POST", "/v2/job-applications", json=NEW_APPLICANT) == 201
    )
    assert (await call(sandbox_client, "GET", "/_sandbox/faults"))[1] == {"faults": []}

    first = await add_fault(
        sandbox_client, path="^/v2/ping", action="latency", latency_ms=1, count=5
    )
    await add_fault(sandbox_client, path="^/v2/ping", action="latency", latency_ms=1, count=5)
    async with sandbox_client.delete(f"/_sandbox/faults/{first['id']}") as response:
        assert response.status == 204
    assert len((await call(sandbox_client, "GET", "/_sandbox/faults"))[1]["faults"]) == 1
    assert await call(sandbox_client, "DELETE", "/_sandbox/faults") == (200, {"cleared": 1})


@pytest.mark.parametrize(
    "spec",
    [
        {"action": "explode"},
        {"action": "latency", "path": "(unclosed"},
        {"action": "status", "status": 42},
        {"action": "latency", "count": 0},
        {"action": "latency", "method": "FETCH"},
        ["not", "an", "object"],
    ],
)
async def test_bad_fault_specs_are_refused(sandbox_client: Any, spec: Any) -> None:
    status, body = await call(sandbox_client, "POST", "/_sandbox/faults", json=spec)
    assert status == 400 and body["details"]


async def test_faults_do_not_touch_the_admin_api(sandbox_client: Any) -> None:
    await add_fault(sandbox_client, path="", action="status", status=500)
    assert await status_of(sandbox_client, "GET", "/_sandbox/stats") == 200
    assert await status_of(sandbox_client, "GET", "/v2/ping") == 500


async def test_reset_restores_the_seed(sandbox_client: Any, sandbox_server: RunningSandbox) -> None:
    seeded = set(sandbox_server.state.applications)
    victim = next(iter(seeded))
    await call(sandbox_client, "DELETE", f"/v2/job-applications/{victim}")
    await call(sandbox_client, "POST", "/v2/job-applications", json=NEW_APPLICANT)
    status, body = await call(sandbox_client, "POST", "/_sandbox/reset")
    assert status == 200 and body["applications"] == len(seeded)
    assert set(sandbox_server.state.applications) == seeded
    assert await status_of(sandbox_client, "GET", f"/v2/job-applications/{victim}") == 200
    assert (await call(sandbox_client, "GET", "/_sandbox/stats"))[1]["requests"] == {
        "demo-v2-key": 1
    }


async def test_stats_count_keys_routes_and_refusals(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    sandbox = await start_sandbox(rate_limit_per_minute=2)
    client = await aiohttp_client(sandbox.server)
    application_id = next(iter(sandbox.state.applications))
    await call(client, "GET", "/v2/vacancies", headers=bearer("demo-v2-key"))
    await call(
        client, "GET", f"/v2/job-applications/{application_id}", headers=bearer("demo-v2-key")
    )
    await call(client, "GET", "/v2/ping", headers=bearer("demo-v2-key"))
    await call(client, "GET", "/v2/ping", headers=bearer("demo-readonly-v2-key"))
    await call(client, "GET", "/v2/nowhere", headers=bearer("wrong"))
    status, stats = await call(client, "GET", "/_sandbox/stats")
    assert status == 200
    assert stats["requests"] == {"demo-v2-key": 3, "demo-readonly-v2-key": 1}
    assert stats["rate_limited"] == {"demo-v2-key": 1}
    assert stats["requests_by_route"] == {
        "GET /v2/vacancies": 1,
        "GET /v2/job-applications/{job_application_id}": 1,
        "GET /v2/ping": 2,
        "GET (unmatched)": 1,
    }
    assert stats["unauthenticated"] == 1
    assert stats["applications"] == len(sandbox.state.applications)

"""Authentication, plan, routing and scope checks, their order (spec §10.1), and the 500 body."""

from __future__ import annotations

from typing import Any

import pytest

from sandbox import KeySpec
from tests.conftest_sandbox import RunningSandbox, StartSandbox
from tests.sandbox.support import NONOTES_KEY, NOPLAN_KEY, READONLY_KEY, bearer, call, status_of

UNAUTHENTICATED = {"code": 401, "error": True, "message": "Unauthenticated"}
NO_PLAN = {"code": 402, "error": True, "message": "Your plan does not include public api access"}
FORBIDDEN = {"code": 403, "error": True, "message": "Forbidden"}
NOT_FOUND = {"code": 404, "error": True, "message": "Not found"}
APP = "/v2/job-applications/ap_doesNotMatterHere0000"

# (method, path, scope needed); ids in paths need not exist: scope comes before lookup.
ENDPOINTS: list[tuple[str, str, str | None]] = [
    ("GET", "/v2/ping", None),
    ("GET", "/v2/vacancies", "vacancies:read"),
    ("GET", "/v2/vacancies/job_unknown", "vacancies:read"),
    ("GET", "/v2/job-applications", "job-applications:read"),
    ("POST", "/v2/job-applications", "job-applications:write"),
    ("GET", APP, "job-applications:read"),
    ("PATCH", APP, "job-applications:write"),
    ("DELETE", APP, "job-applications:write"),
    ("POST", f"{APP}/notes", "job-application-notes:write"),
    ("POST", f"{APP}/files", "job-application-files:write"),
    ("POST", f"{APP}/photo", "job-application-files:write"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
async def test_every_endpoint_needs_a_valid_key(
    sandbox_client: Any, method: str, path: str, scope: str | None
) -> None:
    assert await call(sandbox_client, method, path, headers={"Authorization": ""}) == (
        401,
        UNAUTHENTICATED,
    )
    assert await call(sandbox_client, method, path, headers=bearer("wrong")) == (
        401,
        UNAUTHENTICATED,
    )
    assert await call(
        sandbox_client, method, path, headers={"Authorization": "Basic ZGVtbzo="}
    ) == (
        401,
        UNAUTHENTICATED,
    )


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
async def test_every_endpoint_answers_402_without_the_api_plan(
    sandbox_client: Any, method: str, path: str, scope: str | None
) -> None:
    assert await call(sandbox_client, method, path, headers=bearer(NOPLAN_KEY)) == (402, NO_PLAN)


@pytest.mark.parametrize(("method", "path", "scope"), ENDPOINTS)
async def test_a_key_without_the_scope_gets_403_before_any_validation(
    start_sandbox: StartSandbox, aiohttp_client: Any, method: str, path: str, scope: str | None
) -> None:
    sandbox = await start_sandbox(
        keys={
            "scopeless": KeySpec(frozenset()),
            "full": KeySpec(frozenset({scope}) if scope else frozenset()),
        }
    )
    client = await aiohttp_client(sandbox.server)
    # An invalid JSON body: scope (403) must win over validation (400).
    status, body = await call(client, method, path, headers=bearer("scopeless"), data=b"[not json")
    if scope is None:
        assert (status, body) == (200, {"pong": True})
    else:
        assert (status, body) == (403, FORBIDDEN)
        # With just that one scope the same request gets past the scope check.
        status, _ = await call(client, method, path, headers=bearer("full"), data=b"[not json")
        assert status in (200, 400, 404)


async def test_readonly_key_reads_but_cannot_write(sandbox_client: Any) -> None:
    headers = bearer(READONLY_KEY)
    assert await status_of(sandbox_client, "GET", "/v2/vacancies", headers=headers) == 200
    assert await status_of(sandbox_client, "GET", "/v2/job-applications", headers=headers) == 200
    body = {"first_name": "A", "last_name": "B", "email": "a@example.com"}
    assert await call(
        sandbox_client, "POST", "/v2/job-applications", headers=headers, json=body
    ) == (403, FORBIDDEN)


async def test_include_notes_needs_the_notes_read_scope(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    application_id = next(iter(sandbox_server.state.applications))
    path = f"/v2/job-applications/{application_id}?include[]=notes"
    assert await call(sandbox_client, "GET", path, headers=bearer(NONOTES_KEY)) == (403, FORBIDDEN)
    status, body = await call(sandbox_client, "GET", path, headers=bearer(READONLY_KEY))
    assert status == 200 and "notes" in body["data"]
    # Without the include the same key reads the application.
    status, body = await call(
        sandbox_client, "GET", path.split("?")[0], headers=bearer(NONOTES_KEY)
    )
    assert status == 200 and "notes" not in body["data"]
    # And it cannot write notes either.
    note = {"note": "x", "display_name": "Ted"}
    status, _ = await call(
        sandbox_client,
        "POST",
        f"/v2/job-applications/{application_id}/notes",
        headers=bearer(NONOTES_KEY),
        json=note,
    )
    assert status == 403


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v2"),
        ("GET", "/v2/"),
        ("GET", "/v2/candidates"),
        ("GET", "/v2/vacancies/job_x/stages"),
        ("PUT", "/v2/vacancies"),
        ("POST", "/v2/ping"),
        ("DELETE", "/v2/vacancies/job_x"),
        ("PUT", "/v2/job-applications/ap_x"),
        ("GET", "/v2//ping"),
    ],
)
async def test_unknown_routes_and_wrong_methods_are_404_after_the_key_checks(
    sandbox_client: Any, method: str, path: str
) -> None:
    assert await call(sandbox_client, method, path, headers={"Authorization": ""}) == (
        401,
        UNAUTHENTICATED,
    )
    assert await call(sandbox_client, method, path, headers=bearer(NOPLAN_KEY)) == (402, NO_PLAN)
    assert await call(sandbox_client, method, path) == (404, NOT_FOUND)


async def test_scheme_is_case_insensitive_and_trailing_slashes_are_ignored(
    sandbox_client: Any,
) -> None:
    assert await call(
        sandbox_client, "GET", "/v2/ping", headers={"Authorization": "bearer demo-v2-key"}
    ) == (
        200,
        {"pong": True},
    )
    status, body = await call(sandbox_client, "GET", "/v2/vacancies/")
    assert status == 200 and body["meta"]["current_page"] == 1


async def test_validation_comes_before_lookup(sandbox_client: Any) -> None:
    status, body = await call(sandbox_client, "PATCH", APP, json={"email": "not-an-email"})
    assert status == 400 and body["details"][0]["param"] == "email"
    assert await call(sandbox_client, "PATCH", APP, json={"email": "ok@example.com"}) == (
        404,
        NOT_FOUND,
    )


async def test_unexpected_exceptions_become_a_500_without_a_traceback(
    start_sandbox: StartSandbox, aiohttp_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A 500 is outside the spec, so this sandbox is not reported to the spec recorder.
    sandbox = await start_sandbox(on_response=None)

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(sandbox.state, "list_vacancies", explode)
    client = await aiohttp_client(sandbox.server, headers=bearer("demo-v2-key"))
    async with client.get("/v2/vacancies") as response:
        raw = await response.read()
        assert response.status == 500
        assert response.content_type == "application/json"
    assert raw == b'{"code":500,"error":true,"message":"Server Error"}'


async def test_a_failing_observer_does_not_break_responses(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    seen: list[int] = []

    def observer(
        method: str, path: str, template: str, status: int, headers: Any, body: bytes
    ) -> None:
        seen.append(status)
        raise ValueError("observer bug")

    sandbox = await start_sandbox(on_response=observer)
    client = await aiohttp_client(sandbox.server, headers=bearer("demo-v2-key"))
    assert await call(client, "GET", "/v2/ping") == (200, {"pong": True})
    assert seen == [200]


async def test_observer_sees_every_v2_response_with_its_route_template(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    seen: list[tuple[str, str, str, int, bool]] = []

    def observer(
        method: str, path: str, template: str, status: int, headers: Any, body: bytes
    ) -> None:
        seen.append((method, path, template, status, bool(body)))

    sandbox = await start_sandbox(on_response=observer)
    client = await aiohttp_client(sandbox.server)
    application_id = next(iter(sandbox.state.applications))
    await call(client, "GET", "/v2/vacancies")
    await call(
        client, "GET", f"/v2/job-applications/{application_id}", headers=bearer("demo-v2-key")
    )
    await call(
        client, "DELETE", f"/v2/job-applications/{application_id}", headers=bearer("demo-v2-key")
    )
    await call(client, "GET", "/v2/nothing-here", headers=bearer("demo-v2-key"))
    await call(client, "GET", "/_sandbox/stats")
    assert seen == [
        ("GET", "/v2/vacancies", "/vacancies", 401, True),
        (
            "GET",
            f"/v2/job-applications/{application_id}",
            "/job-applications/{job_application_id}",
            200,
            True,
        ),
        (
            "DELETE",
            f"/v2/job-applications/{application_id}",
            "/job-applications/{job_application_id}",
            204,
            False,
        ),
        ("GET", "/v2/nothing-here", "", 404, True),
    ]

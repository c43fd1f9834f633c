"""The spec validator itself: it must accept conforming answers and catch the rest."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from tests.spec_validation import SPEC_PATH, load_spec_validator

JSON = {"Content-Type": "application/json"}
ERROR_404 = {"code": 404, "error": True, "message": "Not found"}


def check(
    method: str, template: str, status: int, body: Any, headers: dict[str, str] | None = None
) -> list[str]:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    return load_spec_validator().validate(method, template, status, headers or JSON, raw)


def test_spec_is_found_beside_the_project() -> None:
    assert SPEC_PATH.is_file()
    assert ("get", "/vacancies") in load_spec_validator().operations()


@pytest.mark.parametrize(
    ("method", "template", "status", "body", "headers"),
    [
        ("GET", "/ping", 200, {"pong": True}, None),
        (
            "GET",
            "/v2/ping",
            429,
            {"code": 429, "error": True, "message": "Too Many Attempts."},
            {**JSON, "Retry-After": "3"},
        ),
        ("GET", "/job-applications/{job_application_id}", 404, ERROR_404, None),
        (
            "GET",
            "/vacancies/{vacancy_id}",
            400,
            {
                "code": 400,
                "error": True,
                "message": "m",
                "details": [{"param": "include", "message": "x"}],
            },
            None,
        ),
        ("DELETE", "/job-applications/{job_application_id}", 204, b"", {}),
        ("GET", "", 404, ERROR_404, None),
        ("HEAD", "/ping", 200, {"pong": True}, None),
        # "What an answer guarantees": only `data` and the ids; `meta` may be absent.
        ("GET", "/vacancies", 200, {"data": []}, None),
        ("GET", "/job-applications/{job_application_id}", 200, {"data": {"id": "ap_x"}}, None),
    ],
)
def test_conforming_answers_pass(
    method: str, template: str, status: int, body: Any, headers: dict[str, str] | None
) -> None:
    assert check(method, template, status, body, headers) == []


@pytest.mark.parametrize(
    ("method", "template", "status", "body", "headers", "fragment"),
    [
        ("GET", "/ping", 201, {"pong": True}, None, "not declared"),
        ("GET", "/ping", 200, {"pong": True}, {"Content-Type": "text/plain"}, "content type"),
        ("GET", "/ping", 200, b"{nope", None, "not JSON"),
        ("GET", "/ping", 200, {"pong": "yes"}, None, "pong"),
        (
            "GET",
            "/vacancies/{vacancy_id}",
            404,
            {"code": 403, "error": True, "message": "Not found"},
            None,
            "differs",
        ),
        (
            "GET",
            "/ping",
            401,
            {"code": 401, "error": True, "message": "x", "details": []},
            None,
            "details",
        ),
        ("GET", "/ping", 429, {"code": 429, "error": True, "message": "x"}, None, "Retry-After"),
        ("GET", "/ping", 200, {"pong": True}, {**JSON, "X-RateLimit-Remaining": "many"}, "integer"),
        ("DELETE", "/job-applications/{job_application_id}", 204, b"{}", {}, "no body"),
        ("GET", "", 200, {"pong": True}, None, "unknown route"),
        ("GET", "/candidates", 200, {}, None, "not an operation"),
        (
            "GET",
            "/job-applications",
            400,
            {"code": 400, "error": True, "message": "m"},
            None,
            "details",
        ),
        # The revised spec guarantees only `data` and the ids: those are still required.
        ("GET", "/vacancies", 200, {"meta": None}, None, "data"),
        ("GET", "/vacancies", 200, {"data": [{"title": "Designer"}]}, None, "id"),
        (
            "GET",
            "/job-applications/{job_application_id}",
            200,
            {"data": {"rating": 4}},
            None,
            "required",
        ),
    ],
)
def test_departures_are_reported(
    method: str,
    template: str,
    status: int,
    body: Any,
    headers: dict[str, str] | None,
    fragment: str,
) -> None:
    violations = check(method, template, status, body, headers)
    assert violations and any(fragment in violation for violation in violations), violations


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("created_at", "2023-09-21 10:15:00"),
        ("created_at", "2023-02-30T10:15:00Z"),
        ("homerun_url", "not a url"),
        ("hired_at", 1695291300),
    ],
)
def test_formats_are_checked(field: str, value: Any) -> None:
    item = {
        "id": "ap_x", "rating": 0, "retention_period_ends_at": "2025-10-01T00:00:00Z",
        "sourced": False, "total_votes": 0, "homerun_url": "https://app.homerun.co/candidates/ap_x",
        "created_at": "2023-10-01T08:12:44Z", "disqualified": False, "hired_at": None,
        "first_reply_at": None, "vacancy_id": None,
        "personal_info": {"first_name": "A", "last_name": "B", "email": "a@example.com"},
    }  # fmt: skip
    assert check("POST", "/job-applications/{job_application_id}/photo", 200, {"data": item}) == []
    item[field] = value
    assert check("POST", "/job-applications/{job_application_id}/photo", 200, {"data": item})

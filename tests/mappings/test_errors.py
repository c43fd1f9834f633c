"""Errors: v1 error bodies, and what each upstream v2 error means to a v1 client."""

from __future__ import annotations

from typing import Any

import pytest

from mappings import v1_models
from mappings.applications import create_application_request, update_application_request
from mappings.errors import (
    ParamError,
    ScopeMissing,
    V1Error,
    V1ValidationError,
    v1_error_body,
    v1_param_for,
    v2_error_to_v1,
)
from mappings.notes import create_note_request
from mappings.plan import V2Request
from mappings.v1_endpoints import endpoint_for

V2_INVALID = "The given input was invalid"

# The plan of a create with a candidate object, content and `job` (see test_applications).
CREATE_WITH_JOB = create_application_request(
    {
        "job": "job_SnhUsAg1QwTRFIRNUfM6",
        "candidate": {"first_name": "Sanne", "last_name": "de Vries", "email": "sanne@example"},
        "content": {"education": "MSc", "driving_licence": "yes"},
    },
    None,
)
CREATE_WITH_JOB_ID = create_application_request(
    {
        "job_id": "job_SnhUsAg1QwTRFIRNUfM6",
        "candidate": {"first_name": "Sanne", "last_name": "de Vries", "email": "s@example.com"},
    },
    None,
)
MOVE_STAGE = update_application_request("ap_D3kCkoClbG6n6KlqD0ob", {"stage": "Hired"})
GET_WITH_NOTES = V2Request(
    "GET",
    "/job-applications/ap_D3kCkoClbG6n6KlqD0ob",
    (("include[]", "vacancy"), ("include[]", "notes")),
)


def _v2_400(*details: tuple[str, str]) -> dict[str, Any]:
    return {
        "code": 400,
        "error": True,
        "message": V2_INVALID,
        "details": [{"param": param, "message": message} for param, message in details],
    }


def test_400_renames_v2_params_and_messages_to_what_the_client_sent() -> None:
    error = v2_error_to_v1(
        400,
        _v2_400(
            ("email", "The email field must be a valid email address."),
            ("first_name", "first_name is not a valid value"),
            ("custom_data.driving_licence", "custom_data.driving_licence is not a valid value"),
            ("education", "The education field must be a string."),
            ("vacancy_id", "The selected vacancy id is invalid."),
            ("perPage", "perPage is not a valid value"),
        ),
        CREATE_WITH_JOB,
    )
    assert error.status == 400
    assert error.headers == {}
    assert error.body() == {
        "message": "The request was invalid",
        "status": 400,
        "errors": [
            {
                "param": "candidate[email]",
                "message": "The candidate[email] field must be a valid email address.",
            },
            {
                "param": "candidate[first_name]",
                "message": "candidate[first_name] is not a valid value",
            },
            {
                "param": "content[driving_licence]",
                "message": "content[driving_licence] is not a valid value",
            },
            {
                "param": "content[education]",
                "message": "The content[education] field must be a string.",
            },
            {"param": "job", "message": "The selected job is invalid."},
            {"param": "perPage", "message": "perPage is not a valid value"},
        ],
    }


def test_400_names_job_id_when_the_client_sent_job_id() -> None:
    error = v2_error_to_v1(
        400, _v2_400(("vacancy_id", "vacancy_id is not a valid value")), CREATE_WITH_JOB_ID
    )
    assert error.body()["errors"] == [{"param": "job_id", "message": "job_id is not a valid value"}]


def test_400_laravel_labels_with_spaces_are_renamed_too() -> None:
    error = v2_error_to_v1(
        400,
        _v2_400(
            ("first_name", "The first name field is required."),
            ("stage.name", "The stage.name field is required."),
        ),
        V2Request(
            "PATCH",
            "/job-applications/ap_X",
            json={"first_name": "", "stage": {"name": ""}},
            v1_params={
                "first_name": "candidate[first_name]",
                "stage": "stage",
                "stage.name": "stage",
            },
        ),
    )
    assert error.body()["errors"] == [
        {
            "param": "candidate[first_name]",
            "message": "The candidate[first_name] field is required.",
        },
        {"param": "stage", "message": "The stage field is required."},
    ]


def test_400_for_a_stage_names_stage() -> None:
    assert MOVE_STAGE is not None
    error = v2_error_to_v1(
        400, _v2_400(("stage.name", "stage.name is not a valid value")), MOVE_STAGE
    )
    assert error.body()["errors"] == [{"param": "stage", "message": "stage is not a valid value"}]


def test_400_for_a_note_names_body_and_name() -> None:
    request = create_note_request("ap_X", {"body": "x", "name": "Ted"})
    error = v2_error_to_v1(
        400,
        _v2_400(
            ("note", "The note field is required."), ("display_name", "display_name is too long")
        ),
        request,
    )
    assert error.body()["errors"] == [
        {"param": "body", "message": "The body field is required."},
        {"param": "name", "message": "name is too long"},
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"code": 400, "error": True, "message": V2_INVALID},
        {"code": 400, "error": True, "message": V2_INVALID, "details": "oops"},
        "not json at all",
        None,
    ],
)
def test_400_without_usable_details_is_still_a_plain_400(body: Any) -> None:
    error = v2_error_to_v1(400, body, CREATE_WITH_JOB)
    assert error.body() == {"message": "The request was invalid", "status": 400}


def test_400_detail_without_message_gets_a_generic_one_and_junk_items_are_skipped() -> None:
    body = {"details": [{"param": "email"}, "junk", {"message": "no param"}]}
    error = v2_error_to_v1(400, body, CREATE_WITH_JOB)
    assert error.body()["errors"] == [{"param": "candidate[email]", "message": "is invalid"}]


def test_401_says_the_bridge_key_was_rejected_and_asks_for_basic_auth() -> None:
    error = v2_error_to_v1(
        401, {"code": 401, "error": True, "message": "Unauthenticated"}, GET_WITH_NOTES
    )
    assert error.status == 401
    assert error.headers == {"WWW-Authenticate": 'Basic realm="Homerun API v1"'}
    assert error.body() == {
        "message": "Homerun rejected the bridge's API v2 key (revoked or expired); "
        "ask the operator of this bridge to renew it",
        "status": 401,
    }


def test_402_becomes_403_with_the_plan_reason() -> None:
    error = v2_error_to_v1(
        402,
        {"code": 402, "error": True, "message": "Your plan does not include public api access"},
        GET_WITH_NOTES,
    )
    assert error.body() == {
        "message": "Homerun refused the call: the account's plan does not include API access",
        "status": 403,
    }


def test_403_is_a_missing_scope_the_shell_names_from_the_row() -> None:
    # The core does not know the endpoint: it says "a scope", and proxy.app words the
    # answer with the scopes the endpoint's row declares (tests/proxy/test_scopes_e2e.py).
    error = v2_error_to_v1(
        403, {"code": 403, "error": True, "message": "Forbidden"}, GET_WITH_NOTES
    )
    assert isinstance(error, ScopeMissing)
    assert error.body() == {
        "message": "The bridge's API v2 key lacks a scope needed for this call",
        "status": 403,
    }


def test_a_missing_scope_names_every_scope_of_the_row() -> None:
    entry = endpoint_for("POST /v1/applications/{id}/notes")
    assert entry is not None
    error = ScopeMissing.needing(entry.scopes)
    assert error.body() == {
        "message": "The bridge's API v2 key lacks the scope job-application-notes:write and "
        "job-applications:read and job-application-notes:read needed for this call",
        "status": 403,
    }


def test_404_carries_the_message_the_route_chose() -> None:
    error = v2_error_to_v1(
        404,
        {"code": 403, "error": True, "message": "Not found"},  # v2's schema slip: code 403
        GET_WITH_NOTES,
        not_found="No application with id ap_D3kCkoClbG6n6KlqD0ob",
    )
    assert error.body() == {
        "message": "No application with id ap_D3kCkoClbG6n6KlqD0ob",
        "status": 404,
    }


def test_404_default_message() -> None:
    assert v2_error_to_v1(404, None, GET_WITH_NOTES).body() == {
        "message": "Not found",
        "status": 404,
    }


def test_429_passes_retry_after_on() -> None:
    error = v2_error_to_v1(
        429,
        {"code": 429, "error": True, "message": "Too Many Attempts."},
        GET_WITH_NOTES,
        retry_after="17",
    )
    assert error.headers == {"Retry-After": "17"}
    assert error.body() == {
        "message": "Too many requests: Homerun's rate limit is spent; retry later",
        "status": 429,
    }


def test_429_without_retry_after_sends_no_header() -> None:
    error = v2_error_to_v1(429, None, GET_WITH_NOTES)
    assert error.status == 429
    assert error.headers == {}


@pytest.mark.parametrize(
    ("status", "v1_status", "message"),
    [
        (503, 503, "Homerun API v2 is unavailable; retry later"),
        (500, 502, "Homerun API v2 answered with an unexpected status 500; retry later"),
        (504, 504, "Homerun API v2 did not answer in time"),
        (405, 502, "Homerun API v2 answered with an unexpected status 405; retry later"),
        (418, 502, "Homerun API v2 answered with an unexpected status 418; retry later"),
    ],
)
def test_server_faults(status: int, v1_status: int, message: str) -> None:
    error = v2_error_to_v1(status, None, GET_WITH_NOTES)
    assert error.body() == {"message": message, "status": v1_status}


@pytest.mark.parametrize(
    ("v2_param", "v1_params", "expected"),
    [
        ("first_name", {"first_name": "candidate[first_name]"}, "candidate[first_name]"),
        ("custom_data.shoe_size", {}, "content[shoe_size]"),
        ("custom_data.x", {"custom_data.x": "content[x]"}, "content[x]"),
        ("custom_data", {"custom_data": "content"}, "content"),
        ("stage.name", {"stage": "stage"}, "stage"),
        ("vacancy_id", {"vacancy_id": "job_id"}, "job_id"),
        ("perPage", {}, "perPage"),
    ],
)
def test_v1_param_for(v2_param: str, v1_params: dict[str, str], expected: str) -> None:
    assert v1_param_for(v2_param, v1_params) == expected


def test_v1_error_body_shapes() -> None:
    assert v1_error_body(410, "Gone") == {"message": "Gone", "status": 410}
    assert V1Error(405, "Method not allowed", headers={"Allow": "GET"}).body() == {
        "message": "Method not allowed",
        "status": 405,
    }
    assert V1ValidationError([ParamError("page", "must be an integer")]).body() == {
        "message": "page: must be an integer",
        "status": 400,
        "errors": [{"param": "page", "message": "must be an integer"}],
    }
    assert V1ValidationError(
        [ParamError("a", "x"), ParamError("b", "y")], message="Two problems"
    ).body() == {
        "message": "Two problems",
        "status": 400,
        "errors": [{"param": "a", "message": "x"}, {"param": "b", "message": "y"}],
    }
    assert V1ValidationError([]).body() == {"message": "The request was invalid", "status": 400}


@pytest.mark.parametrize("status", [200, 201, 422, 599])
def test_a_status_v1_never_used_becomes_502(status: int) -> None:
    error = V1Error(status, "odd")
    assert error.status == 502
    assert error.body() == {"message": "odd", "status": 502}


def test_every_error_body_fits_the_published_v1_error_model() -> None:
    errors = [
        v2_error_to_v1(status, _v2_400(("email", "bad")), CREATE_WITH_JOB, retry_after="1")
        for status in (400, 401, 402, 403, 404, 429, 500, 503)
    ]
    for error in errors:
        body = error.body()
        assert v1_models.Error.model_validate(body).model_dump(exclude_none=True) == body

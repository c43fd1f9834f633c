"""v1 request bodies against the v1 request models: every problem at once, v1 names,
lenient input kept (contract §3 rev 2)."""

from __future__ import annotations

from typing import Any

import pytest

from mappings import applications, candidates, notes
from mappings.errors import V1ValidationError
from mappings.v1_requests import (
    ApplicationCreate,
    ApplicationUpdate,
    CandidateCreate,
    NoteCreate,
    check_request,
    request_problems,
)


def _named(model: Any, body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(p.param, p.message) for p in request_problems(model, body)]


def test_a_create_with_four_mistakes_names_all_four() -> None:
    body = {
        "job": "not a job id!",
        "candidate": {
            "first_name": "  ",
            "last_name": "Lovelace",
            "email": "ada.example.com",
            "date_of_birth": "1815-13-10",
        },
    }
    assert _named(ApplicationCreate, body) == [
        ("job", "is not a job id"),
        ("candidate[first_name]", "is required"),
        ("candidate[email]", "must be an email address"),
        ("candidate[date_of_birth]", "must be a date as YYYY-MM-DD"),
    ]
    with pytest.raises(V1ValidationError) as raised:
        check_request(ApplicationCreate, body)
    assert raised.value.status == 400
    assert [e.param for e in raised.value.errors] == [
        "job",
        "candidate[first_name]",
        "candidate[email]",
        "candidate[date_of_birth]",
    ]


def test_top_level_candidate_fields_are_named_as_sent() -> None:
    body = {"first_name": "Ada", "email": "nope", "sourced": "maybe", "content": {"github": 7}}
    assert _named(ApplicationCreate, body) == [
        ("sourced", "must be true or false"),
        ("last_name", "is required"),
        ("email", "must be an email address"),
        ("content[github]", "must be text"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        {"job": "job_1", "candidate": "ca_abc"},
        {"job_id": "job_1", "candidate": {"first_name": "A", "last_name": "B", "email": "a@b"}},
        {"first_name": "A", "last_name": "B", "email": "a@b", "sourced": "1", "unknown": [1]},
        {
            "candidate": {"first_name": "A", "last_name": "B", "email": "a@b", "phone": 612},
            "content": [{"key": "education", "value": "MSc"}, {"name": "x", "value": 1}],
            "sourced": "true",
            "sources": "LinkedIn",
            "job": {"id": "job_1"},
        },
    ],
)
def test_lenient_create_bodies_pass_and_plan_as_before(body: dict[str, Any]) -> None:
    assert request_problems(ApplicationCreate, body) == []
    reference = applications.candidate_reference(body)
    person = {"first_name": "A", "last_name": "B", "email": "a@b"} if reference else None
    assert applications.create_application_request(body, person).method == "POST"


def test_the_candidate_must_be_an_id_or_fields() -> None:
    assert _named(ApplicationCreate, {"job": "job_1"}) == [
        ("candidate", "is required: a candidate id or candidate fields")
    ]
    assert _named(ApplicationCreate, {"candidate": 5}) == [
        ("candidate", "must be a candidate id or object")
    ]
    assert _named(ApplicationCreate, {"candidate": "../x"}) == [
        ("candidate", "is not a candidate id")
    ]


def test_an_update_checks_only_what_is_sent() -> None:
    assert request_problems(ApplicationUpdate, {}) == []
    assert request_problems(ApplicationUpdate, {"candidate": {"email": None}, "rating": 4}) == []
    assert _named(
        ApplicationUpdate,
        {"stage": 3, "job": "bad id!", "candidate": {"date_of_birth": "x", "city": ["y"]}},
    ) == [
        ("job", "is not a job id"),
        ("stage", "must be a stage name"),
        ("candidate[city]", "must be text"),
        ("candidate[date_of_birth]", "must be a date as YYYY-MM-DD"),
    ]


def test_a_candidate_create_names_every_missing_field() -> None:
    assert _named(CandidateCreate, {"email": "x"}) == [
        ("first_name", "is required"),
        ("last_name", "is required"),
        ("email", "must be an email address"),
    ]
    good = {"candidate": {"first_name": "A", "last_name": "B", "email": "a@b"}}
    assert request_problems(CandidateCreate, good) == []
    assert candidates.draft_candidate(good, "ca_x", 0)["first_name"] == "A"


def test_a_note_with_two_mistakes_names_both_and_aliases_count() -> None:
    assert _named(NoteCreate, {"name": 5, "is_sensitive": "perhaps"}) == [
        ("body", "is required"),
        ("name", "must be text"),
        ("is_sensitive", "must be true or false"),
    ]
    aliased = {"note": "Called back", "display_name": "HR", "is_sensitive": "0"}
    assert request_problems(NoteCreate, aliased) == []
    assert notes.create_note_request("ap_1", aliased).json == {
        "note": "Called back",
        "display_name": "HR",
        "is_sensitive": False,
    }

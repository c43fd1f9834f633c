"""Candidates: the person on a v2 job application, and drafts from POST /v1/candidates."""

from __future__ import annotations

from typing import Any

import pytest

from mappings import v1_models
from mappings.candidates import (
    application_to_candidate,
    draft_candidate,
    personal_fields_of_application,
    personal_fields_of_candidate,
)
from mappings.errors import V1ValidationError
from mappings.forms import decode_bracket_pairs
from mappings.v2_models import OneApplication
from tests.mappings.golden import Golden, params
from tests.mappings.payloads import APPLICATION_DETAIL, SANNE_CANDIDATE

# A short-form item (no includes) of an application whose id is not of the ap_ shape.
ODD_ID_ITEM: dict[str, Any] = {
    "id": "D3kCkoClbG6n6KlqD0ob",
    "rating": None,
    "sourced": False,
    "homerun_url": "https://app.homerun.co/candidates/D3kCkoClbG6n6KlqD0ob",
    "created_at": "2024-02-29T12:00:00.999999Z",
    "disqualified": False,
    "hired_at": None,
    "first_reply_at": None,
    "personal_info": {"first_name": "Mo", "last_name": "Ali", "email": "mo@example.com"},
    "vacancy_id": None,
}


def _application(payload: dict[str, Any]) -> Any:
    return OneApplication.model_validate({"data": payload}).data


DRAFT_SANNE: dict[str, Any] = {
    "id": "ca_Dr4ftCandidate000001",
    "first_name": "Sanne",
    "last_name": "de Vries",
    "email": "sanne@example.com",
    "phone_number": "012-34567890",
    "city": None,
    "country": None,
    "date_of_birth": "1990-04-12",
    "photo": None,
    "created_at": 1700000000,
    "applications": [],
}

CANDIDATE_GOLDENS: list[Golden] = [
    Golden(
        "person on an application: ca_ id from the ap_ id",
        lambda: application_to_candidate(_application(APPLICATION_DETAIL)),
        SANNE_CANDIDATE,
        v1_models.Candidate,
    ),
    Golden(
        "missing personal fields are null; an odd id gets the prefix; fraction truncated",
        lambda: application_to_candidate(_application(ODD_ID_ITEM)),
        {
            "id": "ca_D3kCkoClbG6n6KlqD0ob",
            "first_name": "Mo",
            "last_name": "Ali",
            "email": "mo@example.com",
            "phone_number": None,
            "city": None,
            "country": None,
            "date_of_birth": None,
            "photo": None,
            "created_at": 1709208000,
            "applications": ["D3kCkoClbG6n6KlqD0ob"],
        },
        v1_models.Candidate,
    ),
    Golden(
        "draft from a candidate object (POST /v1/candidates)",
        lambda: draft_candidate(
            {
                "candidate": {
                    "first_name": "Sanne",
                    "last_name": "de Vries",
                    "email": "sanne@example.com",
                    "phone": "012-34567890",
                    "date_of_birth": "1990-04-12",
                    "applications": ["ap_ignored"],
                }
            },
            "ca_Dr4ftCandidate000001",
            1700000000,
        ),
        DRAFT_SANNE,
        v1_models.Candidate,
    ),
    Golden(
        "draft from flat form pairs",
        lambda: draft_candidate(
            decode_bracket_pairs(
                [
                    ("first_name", "Sanne"),
                    ("last_name", "de Vries"),
                    ("email", "sanne@example.com"),
                    ("phone_number", "012-34567890"),
                    ("date_of_birth", "1990-04-12"),
                    ("expand[]", "applications"),
                ]
            ),
            "ca_Dr4ftCandidate000001",
            1700000000,
        ),
        DRAFT_SANNE,
        v1_models.Candidate,
    ),
]


@pytest.mark.parametrize("case", params(CANDIDATE_GOLDENS))
def test_candidate_is_the_exact_v1_candidate(case: Golden) -> None:
    assert case.produce() == case.expected


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        (
            {"email": "sanne@example.com"},
            [
                {"param": "first_name", "message": "is required"},
                {"param": "last_name", "message": "is required"},
            ],
        ),
        (
            {"candidate": {"first_name": "A", "last_name": "B", "email": "nope"}},
            [{"param": "email", "message": "must be an email address"}],
        ),
        (
            {"first_name": "A", "last_name": "B", "email": "a@b.c", "birth_date": "2023-02-30"},
            [{"param": "birth_date", "message": "must be a date as YYYY-MM-DD"}],
        ),
        (
            {"first_name": "A", "last_name": "B", "email": "a@b.c", "city": True},
            [{"param": "city", "message": "must be text"}],
        ),
    ],
)
def test_draft_candidate_is_validated_up_front(
    body: dict[str, Any], errors: list[dict[str, str]]
) -> None:
    with pytest.raises(V1ValidationError) as raised:
        draft_candidate(body, "ca_Dr4ftCandidate000001", 1700000000)
    assert raised.value.status == 400
    assert raised.value.body()["errors"] == errors


def test_a_stored_draft_gives_back_its_personal_fields_without_nulls() -> None:
    assert personal_fields_of_candidate(DRAFT_SANNE) == {
        "first_name": "Sanne",
        "last_name": "de Vries",
        "email": "sanne@example.com",
        "phone_number": "012-34567890",
        "date_of_birth": "1990-04-12",
    }


def test_an_existing_application_gives_back_its_person_as_flat_v2_fields() -> None:
    assert personal_fields_of_application(_application(APPLICATION_DETAIL)) == {
        "first_name": "Sanne",
        "last_name": "de Vries",
        "email": "sanne@example.com",
        "phone_number": "012-34567890",
        "city": "Rotterdam",
        "country": "The Netherlands",
        "date_of_birth": "1990-04-12",
    }

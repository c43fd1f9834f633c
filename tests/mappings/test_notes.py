"""Notes: v2 notes (no id, ``note``/``display_name``) as v1 notes, and note creation."""

from __future__ import annotations

from typing import Any

import pytest

from mappings import v1_models
from mappings.errors import V1ValidationError
from mappings.forms import decode_bracket_pairs
from mappings.notes import create_note_request, note_to_v1, notes_to_v1
from mappings.plan import V2Request
from mappings.v2_models import OneApplication, OneNote
from tests.mappings.golden import Golden, params
from tests.mappings.payloads import APPLICATION_DETAIL, NOTE_TED_ID, SANNE_NOTES

NOTE_PARAMS = {"note": "body", "display_name": "name", "is_sensitive": "is_sensitive"}


def _notes() -> Any:
    return OneApplication.model_validate({"data": APPLICATION_DETAIL}).data.notes


NOTE_GOLDENS: list[Golden] = [
    Golden(
        "notes of an application: body, name, stable ids, occurrence of a shared instant",
        lambda: notes_to_v1("ap_D3kCkoClbG6n6KlqD0ob", _notes()),
        SANNE_NOTES,
        list[v1_models.Note],
    ),
    Golden(
        "the 201 answer of POST .../notes as the v1 note",
        lambda: note_to_v1(
            "ap_D3kCkoClbG6n6KlqD0ob",
            OneNote.model_validate(
                {
                    "data": {
                        "display_name": "Ted",
                        "is_sensitive": False,
                        "note": "Excellent candidate, interview scheduled for Monday.",
                        "created_at": "2023-10-02T10:00:00Z",
                        "updated_at": "2023-10-02T10:00:00Z",
                    }
                }
            ).data,
        ),
        {
            "id": NOTE_TED_ID,
            "body": "Excellent candidate, interview scheduled for Monday.",
            "name": "Ted",
            "is_sensitive": False,
            "created_at": 1696240800,
            "updated_at": 1696240800,
        },
        v1_models.Note,
    ),
]


@pytest.mark.parametrize("case", params(NOTE_GOLDENS))
def test_note_is_the_exact_v1_note(case: Golden) -> None:
    assert case.produce() == case.expected


def test_note_ids_are_stable_and_distinct_per_application() -> None:
    first = notes_to_v1("ap_D3kCkoClbG6n6KlqD0ob", _notes())
    again = notes_to_v1("ap_D3kCkoClbG6n6KlqD0ob", _notes())
    other = notes_to_v1("ap_Q8mZr1xYtB4nL0pKc7Vd", _notes())
    assert [n["id"] for n in first] == [n["id"] for n in again]
    assert len({n["id"] for n in first + other}) == 6


def test_note_without_dates_has_null_dates() -> None:
    note = OneNote.model_validate({"data": {"note": "x", "display_name": None}}).data
    body = note_to_v1("ap_X", note)
    assert body["created_at"] is None
    assert body["updated_at"] is None
    assert body["name"] is None
    assert body["is_sensitive"] is False
    assert body["id"].startswith("no_")


def test_create_note_maps_body_name_and_sensitivity() -> None:
    body = {"body": "Great call today.", "name": " Ted ", "is_sensitive": "true"}
    assert create_note_request("ap_D3kCkoClbG6n6KlqD0ob", body) == V2Request(
        "POST",
        "/job-applications/ap_D3kCkoClbG6n6KlqD0ob/notes",
        (),
        json={"note": "Great call today.", "display_name": "Ted", "is_sensitive": True},
        scopes=("job-application-notes:write",),
        v1_params=NOTE_PARAMS,
    )


def test_create_note_from_form_pairs_without_author_uses_the_default() -> None:
    body = decode_bracket_pairs([("body", "Called back."), ("is_sensitive", "0")])
    assert create_note_request("ap_X", body) == V2Request(
        "POST",
        "/job-applications/ap_X/notes",
        json={"note": "Called back.", "display_name": "API v1", "is_sensitive": False},
        scopes=("job-application-notes:write",),
        v1_params=NOTE_PARAMS,
    )


def test_create_note_with_the_operator_default_author_and_blank_name() -> None:
    request = create_note_request("ap_X", {"body": "Hi", "name": "  "}, "Zapier sync")
    assert request.json == {"note": "Hi", "display_name": "Zapier sync", "is_sensitive": False}


def test_create_note_accepts_the_v2_member_names_too() -> None:
    request = create_note_request(
        "ap_X", {"note": "Hi", "display_name": "Ted", "is_sensitive": True}
    )
    assert request.json == {"note": "Hi", "display_name": "Ted", "is_sensitive": True}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("true", True), ("1", True), ("on", True), ("0", False), ("false", False), (False, False)],
)
def test_create_note_coerces_is_sensitive(raw: Any, expected: bool) -> None:
    request = create_note_request("ap_X", {"body": "Hi", "is_sensitive": raw})
    assert request.json is not None
    assert request.json["is_sensitive"] is expected


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        ({"body": "Hi", "is_sensitive": "maybe"}, "is_sensitive", "must be true or false"),
        ({"name": "Ted"}, "body", "is required"),
        ({"body": "   "}, "body", "is required"),
        ({"body": 12}, "body", "is required"),
        ({"body": "Hi", "name": ["Ted"]}, "name", "must be text"),
    ],
)
def test_create_note_rejects_bad_input_naming_the_parameter(
    body: dict[str, Any], param: str, message: str
) -> None:
    with pytest.raises(V1ValidationError) as raised:
        create_note_request("ap_X", body)
    assert raised.value.body() == {
        "message": f"{param}: {message}",
        "status": 400,
        "errors": [{"param": param, "message": message}],
    }


def test_a_note_keeps_its_id_whatever_offset_v2_renders() -> None:
    from mappings.notes import note_to_v1
    from mappings.v2_models import Note

    def rendered(stamp: str) -> str:
        note = Note.model_validate({"note": "x", "created_at": stamp, "updated_at": stamp})
        return str(note_to_v1("ap_D3kCkoClbG6n6KlqD0ob", note)["id"])

    assert rendered("2023-10-04T12:00:00+02:00") == rendered("2023-10-04T10:00:00Z")
    assert rendered("2023-10-04T10:00:00.000000Z") == "no_ed717e979ba490cc5e8c"


def test_a_null_is_sensitive_means_not_sensitive() -> None:
    from mappings.notes import create_note_request

    call = create_note_request("ap_x", {"body": "Hi", "is_sensitive": None})
    assert call.json == {"note": "Hi", "display_name": "API v1", "is_sensitive": False}

"""Notes: v2 notes (no id, ``note``/``display_name``) as v1 notes, and note creation."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings import v1_models
from mappings.errors import V1ValidationError
from mappings.forms import decode_bracket_pairs
from mappings.notes import (
    answered_mark,
    create_note_request,
    fingerprint,
    instant_of,
    listed_note,
    note_to_v1,
    notes_to_v1,
    position_among,
    refused_mark,
    sending_mark,
)
from mappings.plan import V2Request
from mappings.v2_models import Note, OneApplication, OneNote
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
        v1_params=NOTE_PARAMS,
    )


def test_create_note_from_form_pairs_without_author_uses_the_default() -> None:
    body = decode_bracket_pairs([("body", "Called back."), ("is_sensitive", "0")])
    assert create_note_request("ap_X", body) == V2Request(
        "POST",
        "/job-applications/ap_X/notes",
        json={"note": "Called back.", "display_name": "API v1", "is_sensitive": False},
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


# --- the id a create answers is the one the listing gives (contract §5 rev 2) ---------

ONE_SECOND = "2026-10-09T08:26:40Z"


def _v2_note(text: str, author: str = "Ted") -> Note:
    return Note.model_validate(
        {"note": text, "display_name": author, "created_at": ONE_SECOND, "updated_at": ONE_SECOND}
    )


OTHER_SECOND = "2026-10-09T08:26:41+00:00"
NOW = 1_760_000_000


def _marks(*creates: tuple[str, int, int | None, str]) -> dict[str, str]:
    """Marks of creates (token, sent, answered or None while in flight, text), all at the
    instant of ``_v2_note`` unless the text says ``later``."""
    marks = {}
    for token, sent, answered, text in creates:
        print_ = fingerprint({"note": text, "display_name": "Ted"})
        if answered is None:
            marks[token] = sending_mark(sent, print_, NOW)
        else:
            instant = OTHER_SECOND if text == "later" else instant_of(_v2_note(text))
            marks[token] = answered_mark(sent, print_, answered, instant)
    return marks


@settings(max_examples=100, deadline=None)
@given(texts=st.lists(st.sampled_from(["Called", "Called", "Met", "later"]), max_size=6))
def test_notes_created_one_after_another_in_one_second_get_their_listed_ids(
    texts: list[str],
) -> None:
    # Each create is answered before the next is sent: the marks give every position
    # (notes of another second count for nothing), with no v2 read.
    application = "ap_D3kCkoClbG6n6KlqD0ob"
    created = [_v2_note(text) for text in texts if text != "later"]
    creates = [(f"t{n}", 2 * n + 1, 2 * n + 2, text) for n, text in enumerate(texts)]
    answered: list[dict[str, Any]] = []
    for n, text in enumerate(texts):
        if text == "later":
            continue
        position, _ = position_among(_marks(*creates[: n + 1]), f"t{n}", NOW, 120)
        assert position == len(answered)
        answered.append(note_to_v1(application, _v2_note(text), position))
    assert answered == notes_to_v1(application, created)


def test_creates_that_overlapped_leave_the_position_to_a_listing() -> None:
    overlapped = _marks(("a", 1, 3, "A"), ("b", 2, 4, "B"))
    assert position_among(overlapped, "a", NOW, 120) == (None, 0)
    assert position_among(overlapped, "b", NOW, 120) == (None, 0)
    in_flight = _marks(("a", 1, 3, "A"), ("b", 2, None, "B"))
    assert position_among(in_flight, "a", NOW, 120) == (None, 0)
    # Sent once "a" was answered: after it, whatever its instant turns out to be.
    after = _marks(("a", 1, 2, "A"), ("b", 3, None, "B"))
    assert position_among(after, "a", NOW, 120) == (0, 0)
    # A mark still in flight past the bound belongs to a create that failed.
    assert position_among(in_flight, "a", NOW + 121, 120) == (0, 0)


def test_a_create_v2_refused_counts_for_nothing() -> None:
    marks = _marks(("a", 1, None, "A"), ("b", 2, 3, "B"))
    marks["a"] = refused_mark(1, fingerprint({"note": "A"}))
    assert position_among(marks, "b", NOW, 120) == (0, 0)


def test_a_mark_that_does_not_read_leaves_the_position_to_a_listing() -> None:
    marks = _marks(("a", 1, 2, "A"))
    for odd in ("", "S|x|y|z", "A|1", "Z"):
        assert position_among({**marks, "b": odd}, "a", NOW, 120) == (None, 0)


def test_identical_notes_of_one_instant_rank_by_when_they_were_sent() -> None:
    # "b" reads while "a" (sent first, the same note) is still recorded as in flight.
    racing = _marks(("a", 1, None, "Same"), ("b", 2, 4, "Same"), ("c", 3, 5, "Other"))
    assert position_among(racing, "b", NOW, 120) == (None, 1)
    settled = _marks(("a", 1, 6, "Same"), ("b", 2, 4, "Same"), ("c", 3, 5, "Other"))
    assert position_among(settled, "a", NOW, 120) == (None, 0)
    assert position_among(settled, "c", NOW, 120) == (None, 0)
    assert fingerprint({"note": "x", "is_sensitive": None}) == fingerprint({"note": "x"})
    assert fingerprint({"note": "x"}) != fingerprint({"note": "x", "is_sensitive": True})


def test_the_listed_twin_is_the_ranked_one_of_its_instant_and_content() -> None:
    application = "ap_D3kCkoClbG6n6KlqD0ob"
    listed = notes_to_v1(
        application, [_v2_note("Same"), _v2_note("Other"), _v2_note("Same"), _v2_note("Same")]
    )
    created = note_to_v1(application, _v2_note("Same"))
    assert listed_note(listed, created, 0) == listed[0]
    assert listed_note(listed, created, 1) == listed[2]
    assert listed_note(listed, created, 9) == listed[3]  # past the end: the newest
    assert listed_note(listed, created, None) == listed[3]
    assert listed_note(listed, {**created, "created_at": 1}, 0) is None
    undated = {**created, "created_at": None}  # the create's answer had no date
    assert listed_note(listed, undated, None) == listed[3]

"""Identifiers: candidate <-> application ids, path id checks, stable note/file ids, and
the person a used draft candidate id names."""

from __future__ import annotations

import hashlib
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.candidates import used_draft_candidate
from mappings.ids import (
    application_id_for_candidate,
    candidate_id_for_application,
    file_id,
    is_valid_path_id,
    new_draft_candidate_id,
    note_id,
    occurrences,
)
from mappings.v2_models import OneApplication
from tests.mappings import payloads


def documented_hash_id(prefix: str, *parts: str) -> str:
    """The id scheme of v1-contract.md §5, written out independently of ``mappings.ids``:
    prefix + hex BLAKE2b (10 bytes) of the parts joined by the unit separator."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=10).hexdigest()
    return prefix + digest


@pytest.mark.parametrize(
    ("literal", "prefix", "parts"),
    [
        (payloads.NOTE_TED_ID, "no_", ("2023-10-02T10:00:00+00:00", "0")),
        (payloads.NOTE_MARIA_ID, "no_", ("2023-10-02T10:00:00+00:00", "1")),
        (payloads.NOTE_IMPORT_ID, "no_", ("2023-10-04T10:00:00+00:00", "0")),
        (payloads.FILE_CV_ID, "fi_", ("cv-sanne-de-vries.pdf", "0")),
        (payloads.FILE_CASE_ID, "fi_", ("case-study.pdf", "0")),
        (payloads.FILE_CV_AGAIN_ID, "fi_", ("cv-sanne-de-vries.pdf", "1")),
    ],
)
def test_golden_hashed_ids_follow_the_documented_formula(
    literal: str, prefix: str, parts: tuple[str, str]
) -> None:
    assert documented_hash_id(prefix, "ap_D3kCkoClbG6n6KlqD0ob", *parts) == literal


def test_note_and_file_ids_are_the_golden_literals() -> None:
    assert note_id("ap_D3kCkoClbG6n6KlqD0ob", "2023-10-02T10:00:00+00:00", 1) == (
        "no_39b4748890416a64da84"
    )
    assert file_id("ap_D3kCkoClbG6n6KlqD0ob", "case-study.pdf", 0) == "fi_6221dd4e1530fed8867b"


@settings(max_examples=100, deadline=None)
@given(
    application=st.from_regex(r"ap_[A-Za-z0-9]{20}", fullmatch=True),
    key=st.text(max_size=40),
    occurrence=st.integers(min_value=0, max_value=50),
)
def test_hashed_ids_have_a_fixed_shape_and_are_stable(
    application: str, key: str, occurrence: int
) -> None:
    note = note_id(application, key, occurrence)
    file = file_id(application, key, occurrence)
    assert re.fullmatch(r"no_[0-9a-f]{20}", note)
    assert re.fullmatch(r"fi_[0-9a-f]{20}", file)
    assert note == note_id(application, key, occurrence)
    assert note != note_id(application, key, occurrence + 1)
    assert file != file_id(application + "x", key, occurrence)
    assert is_valid_path_id(note) and is_valid_path_id(file)


def test_occurrences_count_earlier_equal_keys() -> None:
    assert occurrences(["a", "b", "a", "a", "c", "b"]) == [0, 0, 1, 2, 0, 1]
    assert occurrences([]) == []


@pytest.mark.parametrize(
    ("application", "candidate"),
    [
        ("ap_D3kCkoClbG6n6KlqD0ob", "ca_D3kCkoClbG6n6KlqD0ob"),
        ("ap_x", "ca_x"),
    ],
)
def test_candidate_id_is_the_application_id_with_another_prefix(
    application: str, candidate: str
) -> None:
    assert candidate_id_for_application(application) == candidate
    assert application_id_for_candidate(candidate) == application


def test_an_application_id_of_another_shape_gets_the_prefix_prepended() -> None:
    assert candidate_id_for_application("D3kC") == "ca_D3kC"


@pytest.mark.parametrize("value", ["ca_", "ap_D3kC", "job_x", "", "CA_D3kC"])
def test_non_candidate_ids_name_no_application(value: str) -> None:
    assert application_id_for_candidate(value) is None


@settings(max_examples=100, deadline=None)
@given(suffix=st.from_regex(r"[A-Za-z0-9_-]{1,61}", fullmatch=True))
def test_candidate_and_application_ids_round_trip(suffix: str) -> None:
    candidate = candidate_id_for_application("ap_" + suffix)
    assert candidate == "ca_" + suffix
    assert application_id_for_candidate(candidate) == "ap_" + suffix


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        ("ap_D3kCkoClbG6n6KlqD0ob", True),
        ("job_SnhUsAg1QwTRFIRNUfM6", True),
        ("a-b_C9", True),
        ("x" * 64, True),
        ("x" * 65, False),
        ("", False),
        ("ap_../secret", False),
        ("ap x", False),
        ("ap_%2F", False),
        ("ap_D3kC\n", False),
        ("ap_é", False),
    ],
)
def test_path_ids_are_checked_against_the_contract_pattern(value: str, valid: bool) -> None:
    assert is_valid_path_id(value) is valid


def test_draft_candidate_ids_are_fresh_and_shaped_like_v2_ids() -> None:
    ids = {new_draft_candidate_id() for _ in range(50)}
    assert len(ids) == 50
    assert all(re.fullmatch(r"ca_[A-Za-z0-9]{20}", value) for value in ids)


DRAFT = {
    "id": "ca_Dr4ftDr4ftDr4ftDr4f",
    "first_name": "Sanne",
    "last_name": "Vries",
    "email": "old@example.com",
    "phone_number": None,
    "city": None,
    "country": None,
    "date_of_birth": None,
    "photo": "https://example.com/kept.png",
    "created_at": 1696000000,
    "applications": ["ap_D3kCkoClbG6n6KlqD0ob"],
}


def test_a_used_draft_keeps_its_id_and_reads_its_person_from_the_application() -> None:
    application = OneApplication.model_validate({"data": payloads.APPLICATION_DETAIL}).data
    assert used_draft_candidate(DRAFT, application) == {
        **payloads.SANNE_CANDIDATE,  # the person as the application holds it now
        # v2 has no photo for it: left out and cleared look the same, the draft's is kept.
        "photo": "https://example.com/kept.png",
        **{k: DRAFT[k] for k in ("id", "created_at", "applications")},
    }


def test_a_used_draft_whose_application_shows_no_person_answers_the_draft() -> None:
    sparse = OneApplication.model_validate({"data": {"id": "ap_D3kCkoClbG6n6KlqD0ob"}}).data
    assert used_draft_candidate(DRAFT, sparse) == DRAFT

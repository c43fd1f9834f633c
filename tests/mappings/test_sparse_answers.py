"""v2 answers that carry only ``data`` and the ids: each missing member's defined v1 result.

The revised spec ("What an answer guarantees") makes every other member optional; these
pin what the bridge then answers, case by case (module docstrings of mappings.* say why).
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from mappings.applications import (
    application_summary_to_v1,
    application_to_v1,
    sent_as_answer,
    written_application_to_v1,
)
from mappings.candidates import application_to_candidate
from mappings.files import file_to_v1, files_to_v1
from mappings.ids import file_id, note_id
from mappings.jobs import vacancy_to_job
from mappings.notes import listed_note, note_to_v1, notes_to_v1
from mappings.pagination import PageCall, Window, envelope, shown_count
from mappings.v1_models import Application, File, Job, Note, WrittenApplication
from mappings.v2_models import (
    File as V2File,
)
from mappings.v2_models import (
    JobApplication,
    OneApplication,
    OneVacancy,
    VacancyPage,
)
from mappings.v2_models import (
    Note as V2Note,
)
from mappings.write_answers import read_write_answer
from tests.mappings.payloads import APPLICATION_DETAIL, ISSUED_AT, SANNE_APPLICATION


def test_a_vacancy_with_only_an_id_is_a_job_of_nulls() -> None:
    job = vacancy_to_job(OneVacancy.model_validate({"data": {"id": "job_1"}}).data)
    # Every member of the v1 job null, but its id and the two never sent as null.
    assert job == {
        **dict.fromkeys(Job.model_fields),
        "id": "job_1",
        "seo_content": {"title": None, "description": "", "image": None},
        "active_time": [],
    }
    Job.model_validate(job)


def test_nulls_where_the_spec_types_no_null_read_like_absence() -> None:
    vacancy = {"id": "job_1", "title": None, "status": None, "created_at": None, "stages": [None]}
    assert vacancy_to_job(OneVacancy.model_validate({"data": vacancy}).data)["title"] is None


def test_an_application_with_only_an_id() -> None:
    application = OneApplication.model_validate({"data": {"id": "ap_X"}}).data
    body = application_to_v1(application, issued_at=ISSUED_AT, with_notes=True)
    assert body["candidate"] == {
        "id": "ca_X",
        "first_name": None,
        "last_name": None,
        "email": None,
        "phone_number": None,
        "city": None,
        "country": None,
        "date_of_birth": None,
        "photo": None,
        "created_at": None,
        "applications": ["ap_X"],
    }
    assert body["job"] is None and body["stage"] is None and body["created_at"] is None
    assert (body["sourced"], body["disqualified"]) == (False, False)
    assert (body["content"], body["files"], body["notes"]) == ({}, [], [])
    Application.model_validate(body)


def test_null_items_in_notes_and_files_are_dropped_without_moving_the_other_ids() -> None:
    full = OneApplication.model_validate({"data": APPLICATION_DETAIL}).data
    holey = OneApplication.model_validate(
        {
            "data": {
                **APPLICATION_DETAIL,
                "notes": [None, *APPLICATION_DETAIL["notes"], None],
                "files": [APPLICATION_DETAIL["files"][0], None, *APPLICATION_DETAIL["files"][1:]],
            }
        }
    ).data
    app_id = APPLICATION_DETAIL["id"]
    assert notes_to_v1(app_id, holey.notes or []) == notes_to_v1(app_id, full.notes or [])
    assert files_to_v1(app_id, holey.files or [], 1) == files_to_v1(app_id, full.files or [], 1)


def test_undated_notes_and_unnamed_files_get_stable_ids_by_position_among_them() -> None:
    notes = [V2Note(note="a"), V2Note(note="b", created_at=None), V2Note()]
    bodies = notes_to_v1("ap_X", notes)
    assert [b["id"] for b in bodies] == [note_id("ap_X", "", n) for n in range(3)]
    assert bodies[2]["body"] is None and bodies[2]["is_sensitive"] is False
    for body in bodies:
        Note.model_validate(body)
    files = files_to_v1("ap_X", [V2File(), V2File(name="cv.pdf"), V2File(type="resume")], 7)
    assert [f["id"] for f in files] == [
        file_id("ap_X", "", 0),
        file_id("ap_X", "cv.pdf", 0),
        file_id("ap_X", "", 1),
    ]
    assert files[0] == {
        "id": file_id("ap_X", "", 0),
        "name": None,
        "type": None,
        "url": None,
        "url_expires_at": 307,
    }
    for file in files:
        File.model_validate(file)


def test_a_list_without_meta_counts_what_the_pages_show() -> None:
    page = VacancyPage.model_validate({"data": [{"id": f"job_{n}"} for n in range(3)]})
    assert page.meta is None
    window = Window(offset=0, limit=3)
    calls = (PageCall(1, 3),)
    total, has_more = shown_count(window, calls, [3], 3)
    assert (total, has_more) == (3, True)  # a full page: v2 may have more
    assert envelope(window, [1, 2, 3], total, has_more)["has_more"] is True
    # A short page ends the list: the total is exact.
    assert shown_count(Window(offset=10, limit=5), (PageCall(3, 5),), [2], 2) == (12, False)
    # Two pages, the window cut from the middle: an item past the window was seen.
    assert shown_count(Window(5, 10), (PageCall(1, 10), PageCall(2, 10)), [10, 7], 10) == (
        17,
        True,
    )


def test_without_meta_envelope_keeps_its_shape() -> None:
    body = envelope(Window(0, 2), ["a"], *shown_count(Window(0, 2), (PageCall(1, 2),), [1], 1))
    assert body == {"data": ["a"], "has_more": False, "page": 1, "per_page": 2, "total": 1}


# --- answers to writes ---------------------------------------------------------------

SENT = {
    "first_name": "Sanne",
    "last_name": "de Vries",
    "email": "sanne@example.com",
    "vacancy_id": "job_SnhUsAg1QwTRFIRNUfM6",
    "education": "MSc",
    "custom_data": {"internal_id": "hr-1"},
    "sources": ["Homerun Career Page"],
}


def test_a_full_answer_to_a_write_reads_as_before() -> None:
    raw = orjson.dumps({"data": APPLICATION_DETAIL})
    answer = read_write_answer(raw, JobApplication, sent_as_answer(SENT))
    assert answer.missing == () and answer.id_known
    body = written_application_to_v1(answer, issued_at=ISSUED_AT)
    expected = application_to_v1(
        OneApplication.model_validate({"data": APPLICATION_DETAIL}).data, issued_at=ISSUED_AT
    )
    assert body == expected
    assert {k: v for k, v in body.items() if k != "job"} == {
        k: v for k, v in SANNE_APPLICATION.items() if k != "job"
    }


def test_a_sparse_answer_is_not_degraded_and_takes_what_was_sent() -> None:
    answer = read_write_answer(b'{"data": {"id": "ap_N"}}', JobApplication, sent_as_answer(SENT))
    assert answer.missing == ()
    body = written_application_to_v1(answer, issued_at=ISSUED_AT)
    assert body["id"] == "ap_N"
    assert body["candidate"]["email"] == "sanne@example.com"
    assert body["content"] == {"education": "MSc", "internal_id": "hr-1"}
    assert body["job"] is not None and body["job"]["id"] == "job_SnhUsAg1QwTRFIRNUfM6"


@pytest.mark.parametrize(
    ("raw", "missing"),
    [
        (b"<html>502 Bad Gateway</html>", ("body", "data.id")),
        (b"[" * 100_000, ("body", "data.id")),  # deeper than Python's parser goes
        (b"\xff\xfe", ("body", "data.id")),
        (b"", ("data", "data.id")),
        (b'{"data": [{"id": "job_'[:14], ("body", "data.id")),
        (b'{"data": null}', ("data", "data.id")),
        (b'{"data": {"rating": 4}}', ("data.id",)),
        (b'{"data": {"id": 42}}', ("data.id",)),
    ],
)
def test_an_unreadable_answer_without_an_id_is_still_an_answer(
    raw: bytes, missing: tuple[str, ...]
) -> None:
    answer = read_write_answer(raw, JobApplication, sent_as_answer(SENT))
    assert answer.missing == missing
    assert not answer.id_known
    body = written_application_to_v1(answer, issued_at=ISSUED_AT)
    assert body["id"] is None and body["candidate"]["id"] is None
    assert body["candidate"]["applications"] == []
    assert body["candidate"]["first_name"] == "Sanne"
    WrittenApplication.model_validate(body)


def test_a_known_id_stands_in_for_a_missing_one() -> None:
    answer = read_write_answer(
        b"not json", JobApplication, {"stage": {"name": "Offer"}}, known_id="ap_K"
    )
    assert answer.id_known and answer.missing == ("body", "data.id")
    assert application_summary_to_v1(answer.data)["stage"] == "Offer"


def test_unreadable_members_are_dropped_and_named_the_rest_is_kept() -> None:
    data: dict[str, Any] = {
        **APPLICATION_DETAIL,
        "created_at": "yesterday",
        "personal_info": {**APPLICATION_DETAIL["personal_info"], "email": 42},
        "notes": [{"note": 1}, APPLICATION_DETAIL["notes"][0]],
        "rating": "great",
    }
    answer = read_write_answer(orjson.dumps({"data": data}), JobApplication)
    assert set(answer.missing) == {
        "data.created_at",
        "data.personal_info.email",
        "data.notes.0.note",
        "data.rating",
    }
    body = application_to_v1(answer.data, issued_at=ISSUED_AT, with_notes=True)
    assert body["created_at"] is None and body["rating"] is None
    assert body["candidate"]["email"] is None and body["candidate"]["first_name"] == "Sanne"
    assert [n["body"] for n in body["notes"]] == [None, APPLICATION_DETAIL["notes"][0]["note"]]


def test_a_note_answer_without_anything_is_the_note_that_was_sent() -> None:
    sent = {"note": "Great call", "display_name": "Ted", "is_sensitive": True}
    answer = read_write_answer(b"{}", V2Note, sent)
    assert answer.missing == ("data",)
    body = note_to_v1("ap_X", answer.data)
    assert body == {
        "id": note_id("ap_X", "", 0),
        "body": "Great call",
        "name": "Ted",
        "is_sensitive": True,
        "created_at": None,
        "updated_at": None,
    }


def test_an_upload_answer_without_a_name_is_named_as_uploaded() -> None:
    answer = read_write_answer(b'{"data": {"type": "resume"}}', V2File, {"name": "cv.pdf"})
    assert answer.missing == ()
    body = file_to_v1("ap_X", answer.data, 0, 100)
    # The same id the later listing of that (named) file gives.
    assert body["id"] == files_to_v1("ap_X", [V2File(name="cv.pdf")], 100)[0]["id"]
    assert body["name"] == "cv.pdf"


def test_candidate_of_an_application_without_person() -> None:
    application = JobApplication(id="ap_Y")
    assert application_to_candidate(application)["first_name"] is None


def test_an_embedded_object_without_its_id_is_dropped_whole() -> None:
    data = {**APPLICATION_DETAIL, "vacancy": {"title": "No id"}, "stage": {"name": 5}}
    answer = read_write_answer(orjson.dumps({"data": data}), JobApplication)
    assert set(answer.missing) == {"data.vacancy", "data.stage.name"}
    assert answer.data.vacancy is None and answer.data.stage is not None
    assert (
        answer.data.personal_info
        == OneApplication.model_validate({"data": APPLICATION_DETAIL}).data.personal_info
    )


def test_a_created_note_is_found_in_the_listing_newest_first() -> None:
    listed = notes_to_v1(
        "ap_X",
        [
            V2Note(note="a", display_name="Ted"),
            V2Note(note="b"),
            V2Note(note="a", display_name="Ted"),
        ],
    )
    created = note_to_v1("ap_X", V2Note(note="a", display_name="Ted"))
    assert listed_note(listed, created) is listed[2]
    assert listed_note(listed, {**created, "is_sensitive": True}) is None

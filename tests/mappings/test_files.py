"""Files: the ``files`` of a v2 application detail as v1 files, and uploads."""

from __future__ import annotations

from typing import Any

import pytest

from mappings import v1_models
from mappings.errors import V1ValidationError
from mappings.files import file_to_v1, file_type, files_to_v1, listed_upload, upload_request
from mappings.plan import V2Request
from mappings.v2_models import OneApplication, OneFile
from tests.mappings.golden import Golden, params
from tests.mappings.payloads import (
    APPLICATION_DETAIL,
    FILE_CV_AGAIN_ID,
    FILE_CV_ID,
    ISSUED_AT,
    SANNE_FILES,
)


def _files() -> Any:
    return OneApplication.model_validate({"data": APPLICATION_DETAIL}).data.files


FILE_GOLDENS: list[Golden] = [
    Golden(
        "files of an application: stable ids, url expires 300 s after issue",
        lambda: files_to_v1("ap_D3kCkoClbG6n6KlqD0ob", _files(), ISSUED_AT),
        SANNE_FILES,
        list[v1_models.File],
    ),
    Golden(
        "the 200 answer of an upload as the v1 file; unknown type and url are null",
        lambda: file_to_v1(
            "ap_D3kCkoClbG6n6KlqD0ob",
            OneFile.model_validate(
                {"data": {"name": "cv-sanne-de-vries.pdf", "type": "photo"}}
            ).data,
            0,
            1696240800,
        ),
        {
            "id": FILE_CV_ID,
            "name": "cv-sanne-de-vries.pdf",
            "type": None,
            "url": None,
            "url_expires_at": 1696241100,
        },
        v1_models.File,
    ),
]


@pytest.mark.parametrize("case", params(FILE_GOLDENS))
def test_file_is_the_exact_v1_file(case: Golden) -> None:
    assert case.produce() == case.expected


def test_file_ids_do_not_depend_on_when_the_list_was_fetched() -> None:
    now = files_to_v1("ap_D3kCkoClbG6n6KlqD0ob", _files(), ISSUED_AT)
    later = files_to_v1("ap_D3kCkoClbG6n6KlqD0ob", _files(), ISSUED_AT + 3600)
    assert [f["id"] for f in now] == [f["id"] for f in later]
    assert [f["url_expires_at"] for f in later] == [1700003900, 1700003900, 1700003900]


def test_no_files_is_an_empty_list() -> None:
    assert files_to_v1("ap_X", [], ISSUED_AT) == []


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (None, "resume"),
        ("", "resume"),
        ("  ", "resume"),
        ("Assignment ", "assignment"),
        ("resume", "resume"),
    ],
)
def test_upload_type_defaults_to_resume(raw: str | None, expected: str) -> None:
    assert file_type(raw) == expected


def test_upload_type_outside_resume_and_assignment_is_a_400_naming_type() -> None:
    with pytest.raises(V1ValidationError) as raised:
        file_type("photo")
    assert raised.value.body() == {
        "message": "type: must be resume or assignment",
        "status": 400,
        "errors": [{"param": "type", "message": "must be resume or assignment"}],
    }


def test_upload_is_a_post_to_the_application_files() -> None:
    request = upload_request("ap_D3kCkoClbG6n6KlqD0ob")
    assert request == V2Request(
        "POST",
        "/job-applications/ap_D3kCkoClbG6n6KlqD0ob/files",
        (),
        None,
        {"file": "file", "type": "type"},
    )
    assert not request.is_idempotent


def test_the_upload_is_the_newest_file_of_its_name_in_the_listing_read_after_it() -> None:
    # The seeded Sanne has two cv-sanne-de-vries.pdf: an upload of that name is the second.
    listed = files_to_v1("ap_D3kCkoClbG6n6KlqD0ob", _files(), ISSUED_AT)
    twin = listed_upload(listed, "cv-sanne-de-vries.pdf")
    assert twin == listed[2] and twin["id"] == FILE_CV_AGAIN_ID
    assert listed_upload(listed, "case-study.pdf") == listed[1]
    assert listed_upload(listed, "never-listed.pdf") is None
    assert listed_upload([], "cv.pdf") is None


def test_an_upload_whose_listing_leaves_the_names_out_is_the_newest_file() -> None:
    unnamed = OneApplication.model_validate(
        {"data": {"id": "ap_X", "files": [{"type": "resume"}, {"type": "assignment"}]}}
    ).data.files
    listed = files_to_v1("ap_X", unnamed or [], ISSUED_AT)
    assert listed_upload(listed, "cv.pdf") == listed[1]

"""Applications: v2 job applications become v1 applications; v1 writes become v2 calls."""

from __future__ import annotations

from typing import Any

import pytest

from mappings import v1_models
from mappings.applications import (
    application_filters,
    application_summary_to_v1,
    application_to_v1,
    applications_page_to_v1,
    candidate_reference,
    create_application_request,
    get_application_request,
    held_vacancy,
    list_applications_request,
    unknown_members,
    update_application_request,
    vacancy_ids_of,
)
from mappings.errors import V1ValidationError
from mappings.forms import decode_bracket_pairs
from mappings.pagination import PageCall
from mappings.plan import V2Request
from mappings.v2_models import ApplicationPage, OneApplication, OneVacancy
from tests.mappings.golden import Golden, params
from tests.mappings.payloads import (
    APPLICATION_DETAIL,
    ISSUED_AT,
    PUBLIC_JOB,
    PUBLIC_VACANCY,
    SANNE_APPLICATION,
    SANNE_CANDIDATE,
    SANNE_CONTENT,
    SANNE_NOTES,
)

WRITE = ("job-applications:write",)
READ = ("job-applications:read",)

# --- v2 payloads --------------------------------------------------------------------------

# A talent-pool application (no vacancy, so no stage), detail form with nulls everywhere.
TALENT_POOL_DETAIL: dict[str, Any] = {
    "id": "ap_T4lentPoolApplic0001",
    "rating": None,
    "retention_period_ends_at": "2025-10-01T00:00:00Z",
    "sourced": True,
    "total_votes": 0,
    "homerun_url": "https://app.homerun.co/candidates/ap_T4lentPoolApplic0001",
    "created_at": "2023-06-12T07:05:09+00:00",
    "disqualified": True,
    "hired_at": "2024-01-15T16:45:00.250000Z",
    "first_reply_at": None,
    "personal_info": {
        "first_name": "Joost",
        "last_name": "Jansen",
        "email": "joost@example.org",
        "city": None,
        "country": None,
        "date_of_birth": None,
        "phone_number": None,
        "photo": "https://cdn.homerun.example/photos/joost.jpg",
    },
    "vacancy_id": None,
    "stage": None,
    "education": None,
    "experience": None,
    "pronouns": None,
    "skype": "joost.jansen",
    "facebook": None,
    "twitter": None,
    "linkedin": None,
    "github": "https://github.com/joostj",
    "website": None,
    "assignment": "See the attached repository.",
    "files": None,
    "custom_data": None,
}

# A list item (§8.4, short form) fetched with include[]=vacancy&include[]=stage.
LIST_ITEM: dict[str, Any] = {
    "id": "ap_Q8mZr1xYtB4nL0pKc7Vd",
    "rating": 0,
    "retention_period_ends_at": "2025-10-01T08:12:44Z",
    "sourced": False,
    "total_votes": 0,
    "homerun_url": "https://app.homerun.co/candidates/ap_Q8mZr1xYtB4nL0pKc7Vd",
    "created_at": "2023-10-02T10:00:00Z",
    "disqualified": False,
    "hired_at": None,
    "first_reply_at": None,
    "personal_info": {
        "first_name": "Priya",
        "last_name": "Raman",
        "email": "priya@example.com",
        "city": "Utrecht",
        "country": "NL",
        "date_of_birth": None,
        "phone_number": "+31 6 1234 5678",
        "photo": None,
    },
    "vacancy_id": "job_SnhUsAg1QwTRFIRNUfM6",
    "stage": {"name": "New"},
    "vacancy": PUBLIC_VACANCY,
}

PRIYA_CANDIDATE: dict[str, Any] = {
    "id": "ca_Q8mZr1xYtB4nL0pKc7Vd",
    "first_name": "Priya",
    "last_name": "Raman",
    "email": "priya@example.com",
    "phone_number": "+31 6 1234 5678",
    "city": "Utrecht",
    "country": "NL",
    "date_of_birth": None,
    "photo": None,
    "created_at": 1696240800,
    "applications": ["ap_Q8mZr1xYtB4nL0pKc7Vd"],
}


def _detail(payload: dict[str, Any], **changes: Any) -> Any:
    return OneApplication.model_validate({"data": {**payload, **changes}}).data


def _item(payload: dict[str, Any]) -> Any:
    page = ApplicationPage.model_validate(
        {
            "data": [payload],
            "meta": {
                "current_page": 1,
                "from": 1,
                "last_page": 1,
                "per_page": 15,
                "to": 1,
                "total": 1,
                "path": "http://api.homerun.co/v2/job-applications",
                "links": [],
            },
        }
    )
    return page.data[0]


# What v2's include[]=vacancy embeds: the vacancy's base fields only, none of its own
# includes (so no location, department, stages or candidate count).
EMBEDDED_VACANCY: dict[str, Any] = {
    k: v
    for k, v in PUBLIC_VACANCY.items()
    if k not in ("location", "department", "stages", "total_candidate_count")
}
# The job that embed becomes: what the bridge shows when it holds no whole vacancy.
EMBEDDED_JOB: dict[str, Any] = {
    **PUBLIC_JOB,
    "tmp_location": None,
    "tmp_department": None,
    "total_candidate_count": None,
}
PRIYA_SUMMARY: dict[str, Any] = {
    "id": "ap_Q8mZr1xYtB4nL0pKc7Vd",
    "candidate": PRIYA_CANDIDATE,
    "job": PUBLIC_JOB,
    "stage": "New",
    "rating": 0.0,
    "sourced": False,
    "disqualified": False,
    "created_at": 1696240800,
    "hired_at": None,
    "first_reply_at": None,
    "homerun_url": "https://app.homerun.co/candidates/ap_Q8mZr1xYtB4nL0pKc7Vd",
}


def _held(*vacancies: dict[str, Any]) -> dict[str, Any]:
    """Whole vacancies (read with the job includes) by id, as the shell holds them."""
    return {v["id"]: OneVacancy.model_validate({"data": v}).data for v in vacancies}


APPLICATION_GOLDENS: list[Golden] = [
    Golden(
        "detail without expand: content order, stage name, job from vacancy, files, no notes",
        lambda: application_to_v1(_detail(APPLICATION_DETAIL), issued_at=ISSUED_AT),
        SANNE_APPLICATION,
        v1_models.Application,
    ),
    Golden(
        "detail with expand[]=notes",
        lambda: application_to_v1(
            _detail(APPLICATION_DETAIL), issued_at=ISSUED_AT, with_notes=True
        ),
        {**SANNE_APPLICATION, "notes": SANNE_NOTES},
        v1_models.Application,
    ),
    Golden(
        "detail with expand[]=notes but no notes member: empty list",
        lambda: application_to_v1(
            _detail(APPLICATION_DETAIL, notes=None), issued_at=ISSUED_AT, with_notes=True
        ),
        {**SANNE_APPLICATION, "notes": []},
        v1_models.Application,
    ),
    Golden(
        "talent pool detail: job null, stage null, files null -> [], fractional hired_at",
        lambda: application_to_v1(_detail(TALENT_POOL_DETAIL), issued_at=ISSUED_AT),
        {
            "id": "ap_T4lentPoolApplic0001",
            "candidate": {
                "id": "ca_T4lentPoolApplic0001",
                "first_name": "Joost",
                "last_name": "Jansen",
                "email": "joost@example.org",
                "phone_number": None,
                "city": None,
                "country": None,
                "date_of_birth": None,
                "photo": "https://cdn.homerun.example/photos/joost.jpg",
                "created_at": 1686553509,
                "applications": ["ap_T4lentPoolApplic0001"],
            },
            "job": None,
            "stage": None,
            "rating": None,
            "sourced": True,
            "disqualified": True,
            "created_at": 1686553509,
            "hired_at": 1705337100,
            "first_reply_at": None,
            "homerun_url": "https://app.homerun.co/candidates/ap_T4lentPoolApplic0001",
            "content": {
                "assignment": "See the attached repository.",
                "skype": "joost.jansen",
                "github": "https://github.com/joostj",
            },
            "files": [],
        },
        v1_models.Application,
    ),
    Golden(
        "detail without include[]=vacancy: the vacancy passed in is embedded",
        lambda: application_to_v1(
            _detail(APPLICATION_DETAIL, vacancy=None),
            issued_at=ISSUED_AT,
            vacancy=OneVacancy.model_validate({"data": PUBLIC_VACANCY}).data,
        ),
        SANNE_APPLICATION,
        v1_models.Application,
    ),
    Golden(
        "vacancy id known but vacancy unreadable: a closed stub job keeps the id",
        lambda: application_to_v1(
            _detail(APPLICATION_DETAIL, vacancy=None, files=[], custom_data={}),
            issued_at=ISSUED_AT,
        ),
        {
            **SANNE_APPLICATION,
            "job": {
                "id": "job_SnhUsAg1QwTRFIRNUfM6",
                "title": "",
                "status": "closed",
                "type": None,
                "tmp_location": None,
                "tmp_department": None,
                "total_candidate_count": None,
                "application_form_url": None,
                "job_url": None,
                "seo_content": {"title": "", "description": "", "image": None},
                "created_at": 1696147964,
                "active_time": [],
            },
            "content": {
                "education": "MSc Interaction Design, TU Delft",
                "experience": "6 years at design agencies",
                "pronouns": "she/her",
                "linkedin": "https://linkedin.com/in/sannedevries",
                "website": "https://sanne.design",
            },
            "files": [],
        },
        v1_models.Application,
    ),
    Golden(
        "list item: summary without content and files",
        lambda: application_summary_to_v1(_item(LIST_ITEM)),
        PRIYA_SUMMARY,
        v1_models.ApplicationSummary,
    ),
    Golden(
        "list item, its vacancy held whole: the job GET /v1/jobs/{id} answers (§6 rev 2)",
        lambda: applications_page_to_v1(
            [_item({**LIST_ITEM, "vacancy": EMBEDDED_VACANCY})], _held(PUBLIC_VACANCY)
        )[0],
        PRIYA_SUMMARY,
        v1_models.ApplicationSummary,
    ),
    Golden(
        "list item, its vacancy not held: v2's embed (no location, department, count)",
        lambda: applications_page_to_v1([_item({**LIST_ITEM, "vacancy": EMBEDDED_VACANCY})])[0],
        {**PRIYA_SUMMARY, "job": EMBEDDED_JOB},
        v1_models.ApplicationSummary,
    ),
    Golden(
        "detail, its vacancy held whole: the whole job",
        lambda: application_to_v1(
            _detail(APPLICATION_DETAIL, vacancy=EMBEDDED_VACANCY),
            issued_at=ISSUED_AT,
            vacancy=held_vacancy(
                _detail(APPLICATION_DETAIL, vacancy=EMBEDDED_VACANCY), _held(PUBLIC_VACANCY)
            ),
        ),
        SANNE_APPLICATION,
        v1_models.Application,
    ),
    Golden(
        "detail, its vacancy not held: v2's embed",
        lambda: application_to_v1(
            _detail(APPLICATION_DETAIL, vacancy=EMBEDDED_VACANCY), issued_at=ISSUED_AT
        ),
        {**SANNE_APPLICATION, "job": EMBEDDED_JOB},
        v1_models.Application,
    ),
]


@pytest.mark.parametrize("case", params(APPLICATION_GOLDENS))
def test_job_application_becomes_the_exact_v1_application(case: Golden) -> None:
    assert case.produce() == case.expected


def test_content_shows_the_ten_fixed_fields_in_v1_order_then_custom_keys() -> None:
    content = application_to_v1(_detail(APPLICATION_DETAIL), issued_at=ISSUED_AT)["content"]
    assert list(content) == [
        "education",
        "experience",
        "pronouns",
        "linkedin",
        "website",
        "internal_id",
        "driving_licence",
        "notice_period_weeks",
    ]
    assert content == SANNE_CONTENT


def test_custom_data_key_named_like_a_fixed_field_does_not_overwrite_it() -> None:
    application = _detail(
        APPLICATION_DETAIL, custom_data={"education": "from custom data", "shoe_size": "44"}
    )
    content = application_to_v1(application, issued_at=ISSUED_AT)["content"]
    assert content["education"] == "MSc Interaction Design, TU Delft"
    assert content["shoe_size"] == "44"


def test_list_item_has_no_content_and_no_files_members() -> None:
    summary = application_summary_to_v1(_item(LIST_ITEM))
    assert "content" not in summary
    assert "files" not in summary
    assert "notes" not in summary


# --- requests: POST /v1/applications ----------------------------------------------------

CREATE_FORM_PAIRS: list[tuple[str, str]] = [
    ("job", "job_SnhUsAg1QwTRFIRNUfM6"),
    ("candidate[first_name]", "Sanne"),
    ("candidate[last_name]", "de Vries"),
    ("candidate[email]", "sanne@example.com"),
    ("candidate[phone]", "012-34567890"),
    ("candidate[date_of_birth]", "1990-04-12"),
    ("content[education]", "MSc Interaction Design"),
    ("content[linkedin]", "https://linkedin.com/in/sannedevries"),
    ("content[driving_licence]", "yes"),
    ("content[internal_id]", "hr-2131"),
    ("sourced", "true"),
    ("sources[]", "LinkedIn"),
    ("expand[]", "job"),
]

CREATE_NESTED_BODY: dict[str, Any] = {
    "job": "job_SnhUsAg1QwTRFIRNUfM6",
    "candidate": {
        "first_name": "Sanne",
        "last_name": "de Vries",
        "email": "sanne@example.com",
        "phone": "012-34567890",
        "date_of_birth": "1990-04-12",
    },
    "content": {
        "education": "MSc Interaction Design",
        "linkedin": "https://linkedin.com/in/sannedevries",
        "driving_licence": "yes",
        "internal_id": "hr-2131",
    },
    "sourced": "true",
    "sources": ["LinkedIn"],
    "expand": ["job"],
}

CREATE_EXPECTED = V2Request(
    "POST",
    "/job-applications",
    (),
    json={
        "first_name": "Sanne",
        "last_name": "de Vries",
        "email": "sanne@example.com",
        "phone_number": "012-34567890",
        "date_of_birth": "1990-04-12",
        "education": "MSc Interaction Design",
        "linkedin": "https://linkedin.com/in/sannedevries",
        "custom_data": {"driving_licence": "yes", "internal_id": "hr-2131"},
        "vacancy_id": "job_SnhUsAg1QwTRFIRNUfM6",
        "sourced": True,
        "sources": ["LinkedIn"],
    },
    v1_params={
        "first_name": "candidate[first_name]",
        "last_name": "candidate[last_name]",
        "email": "candidate[email]",
        "phone_number": "candidate[phone]",
        "date_of_birth": "candidate[date_of_birth]",
        "education": "content[education]",
        "linkedin": "content[linkedin]",
        "custom_data.driving_licence": "content[driving_licence]",
        "custom_data.internal_id": "content[internal_id]",
        "custom_data": "content",
        "vacancy_id": "job",
        "sourced": "sourced",
        "sources": "sources",
    },
)


def test_form_pairs_decode_to_the_nested_create_body() -> None:
    assert decode_bracket_pairs(CREATE_FORM_PAIRS) == CREATE_NESTED_BODY


def test_create_with_candidate_object_and_content_from_the_nested_body() -> None:
    assert create_application_request(CREATE_NESTED_BODY, None) == CREATE_EXPECTED


def test_create_with_candidate_object_and_content_from_form_pairs() -> None:
    body = decode_bracket_pairs(CREATE_FORM_PAIRS)
    assert create_application_request(body, None) == CREATE_EXPECTED


def test_create_with_job_id_names_job_id_for_the_vacancy() -> None:
    body = {
        "job_id": "job_Pr1vAtE0000000000001",
        "candidate": {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
        "content": {"cover_letter": "Hello!"},
    }
    assert create_application_request(body, None) == V2Request(
        "POST",
        "/job-applications",
        json={
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@example.com",
            "custom_data": {"cover_letter": "Hello!"},
            "vacancy_id": "job_Pr1vAtE0000000000001",
        },
        v1_params={
            "first_name": "candidate[first_name]",
            "last_name": "candidate[last_name]",
            "email": "candidate[email]",
            "custom_data.cover_letter": "content[cover_letter]",
            "custom_data": "content",
            "vacancy_id": "job_id",
        },
    )


def test_create_with_a_job_object_uses_its_id() -> None:
    body = {
        "job": PUBLIC_JOB,
        "candidate": {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"},
    }
    request = create_application_request(body, None)
    assert request.json == {
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@example.com",
        "vacancy_id": "job_SnhUsAg1QwTRFIRNUfM6",
    }


def test_create_with_a_referenced_candidate_takes_the_person_given() -> None:
    body = {"job": "job_SnhUsAg1QwTRFIRNUfM6", "candidate": "ca_Dr4ftCandidate000001"}
    assert candidate_reference(body) == "ca_Dr4ftCandidate000001"
    person = {
        "first_name": "Joost",
        "last_name": "Jansen",
        "email": "joost@example.org",
        "city": "Utrecht",
    }
    assert create_application_request(body, person) == V2Request(
        "POST",
        "/job-applications",
        json={
            "first_name": "Joost",
            "last_name": "Jansen",
            "email": "joost@example.org",
            "city": "Utrecht",
            "vacancy_id": "job_SnhUsAg1QwTRFIRNUfM6",
        },
        v1_params={
            "first_name": "candidate",
            "last_name": "candidate",
            "email": "candidate",
            "city": "candidate",
            "vacancy_id": "job",
        },
    )


def test_create_with_top_level_candidate_fields() -> None:
    body = {
        "job": "job_SnhUsAg1QwTRFIRNUfM6",
        "first_name": " Ann ",
        "last_name": "Lee",
        "email": "ann@example.com",
        "birth_date": "1988-02-29",
        "city": None,
    }
    assert create_application_request(body, None) == V2Request(
        "POST",
        "/job-applications",
        json={
            "first_name": "Ann",
            "last_name": "Lee",
            "email": "ann@example.com",
            "date_of_birth": "1988-02-29",
            "vacancy_id": "job_SnhUsAg1QwTRFIRNUfM6",
        },
        v1_params={
            "first_name": "first_name",
            "last_name": "last_name",
            "email": "email",
            "date_of_birth": "birth_date",
            "vacancy_id": "job",
        },
    )


def test_create_in_the_talent_pool_sends_no_vacancy() -> None:
    body = {"candidate": {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}}
    request = create_application_request(body, None)
    assert request.json == {"first_name": "Ann", "last_name": "Lee", "email": "ann@example.com"}


def _validation_body(body: dict[str, Any], person: dict[str, Any] | None = None) -> Any:
    with pytest.raises(V1ValidationError) as raised:
        create_application_request(body, person)
    assert raised.value.status == 400
    return raised.value.body()


def test_create_without_candidate_is_a_400_naming_candidate() -> None:
    assert _validation_body({"job": "job_SnhUsAg1QwTRFIRNUfM6"}) == {
        "message": "candidate: is required: a candidate id or candidate fields",
        "status": 400,
        "errors": [
            {"param": "candidate", "message": "is required: a candidate id or candidate fields"}
        ],
    }


def test_create_without_first_name_names_candidate_first_name() -> None:
    body = {"job": "job_SnhUsAg1QwTRFIRNUfM6", "candidate": {"last_name": "Lee", "email": "a@b.c"}}
    assert _validation_body(body) == {
        "message": "candidate[first_name]: is required",
        "status": 400,
        "errors": [{"param": "candidate[first_name]", "message": "is required"}],
    }


def test_create_names_every_missing_or_bad_candidate_field() -> None:
    body = {"candidate": {"first_name": "  ", "email": "not-an-email"}}
    assert _validation_body(body)["errors"] == [
        {"param": "candidate[first_name]", "message": "is required"},
        {"param": "candidate[last_name]", "message": "is required"},
        {"param": "candidate[email]", "message": "must be an email address"},
    ]


@pytest.mark.parametrize(
    ("body", "param", "message"),
    [
        (
            {
                "candidate": {
                    "first_name": "A",
                    "last_name": "B",
                    "email": "a@b.c",
                    "date_of_birth": "12-04-1990",
                }
            },
            "candidate[date_of_birth]",
            "must be a date as YYYY-MM-DD",
        ),
        (
            {"candidate": {"first_name": ["A"], "last_name": "B", "email": "a@b.c"}},
            "candidate[first_name]",
            "must be text",
        ),
        (
            {
                "job": "job with spaces",
                "candidate": {"first_name": "A", "last_name": "B", "email": "a@b.c"},
            },
            "job",
            "is not a job id",
        ),
        (
            {
                "job_id": {"title": "no id"},
                "candidate": {"first_name": "A", "last_name": "B", "email": "a@b.c"},
            },
            "job_id",
            "is not a job id",
        ),
        (
            {
                "candidate": {"first_name": "A", "last_name": "B", "email": "a@b.c"},
                "content": {"education": {"degree": "MSc"}},
            },
            "content[education]",
            "must be text",
        ),
        (
            {
                "candidate": {"first_name": "A", "last_name": "B", "email": "a@b.c"},
                "content": "free text",
            },
            "content",
            "must be an object",
        ),
        (
            {
                "candidate": {"first_name": "A", "last_name": "B", "email": "a@b.c"},
                "sourced": "perhaps",
            },
            "sourced",
            "must be true or false",
        ),
        (
            {
                "candidate": {"first_name": "A", "last_name": "B", "email": "a@b.c"},
                "sources": [1, 2],
            },
            "sources",
            "must be a list of source names",
        ),
        ({"candidate": 42}, "candidate", "must be a candidate id or object"),
    ],
)
def test_create_rejects_bad_input_naming_the_v1_parameter(
    body: dict[str, Any], param: str, message: str
) -> None:
    assert _validation_body(body)["errors"] == [{"param": param, "message": message}]


def test_candidate_reference_rejects_an_id_of_the_wrong_shape() -> None:
    with pytest.raises(V1ValidationError) as raised:
        candidate_reference({"candidate": "ca_../../etc"})
    assert raised.value.body()["errors"] == [
        {"param": "candidate", "message": "is not a candidate id"}
    ]
    assert candidate_reference({"candidate": {"first_name": "Ann"}}) is None


def test_content_as_a_list_of_key_value_items_from_form_pairs() -> None:
    body = decode_bracket_pairs(
        [
            ("candidate[first_name]", "Ann"),
            ("candidate[last_name]", "Lee"),
            ("candidate[email]", "ann@example.com"),
            ("content[0][key]", "education"),
            ("content[0][value]", "BSc"),
            ("content[1][name]", "shoe_size"),
            ("content[1][value]", "44"),
        ]
    )
    request = create_application_request(body, None)
    assert request.json == {
        "first_name": "Ann",
        "last_name": "Lee",
        "email": "ann@example.com",
        "education": "BSc",
        "custom_data": {"shoe_size": "44"},
    }


# --- requests: PUT/POST/PATCH /v1/applications/{id} ---------------------------------------


def test_update_with_the_whole_v1_object_resent_patches_only_changeable_fields() -> None:
    # What a v1 client does: GET the application, change two things, send it all back.
    resent = {
        **SANNE_APPLICATION,
        "candidate": {**SANNE_CANDIDATE, "city": "Amsterdam"},
        "stage": "Offer",
        "content": {**SANNE_CONTENT, "notice_period_weeks": 2},
        "notes": SANNE_NOTES,
    }
    assert update_application_request("ap_D3kCkoClbG6n6KlqD0ob", resent) == V2Request(
        "PATCH",
        "/job-applications/ap_D3kCkoClbG6n6KlqD0ob",
        json={
            "first_name": "Sanne",
            "last_name": "de Vries",
            "email": "sanne@example.com",
            "phone_number": "012-34567890",
            "city": "Amsterdam",
            "country": "The Netherlands",
            "date_of_birth": "1990-04-12",
            "education": "MSc Interaction Design, TU Delft",
            "experience": "6 years at design agencies",
            "pronouns": "she/her",
            "linkedin": "https://linkedin.com/in/sannedevries",
            "website": "https://sanne.design",
            "custom_data": {
                "internal_id": "hr-2131",
                "driving_licence": "yes",
                "notice_period_weeks": 2,
            },
            "vacancy_id": "job_SnhUsAg1QwTRFIRNUfM6",
            "sourced": False,
            "stage": {"name": "Offer"},
        },
        v1_params={
            "first_name": "candidate[first_name]",
            "last_name": "candidate[last_name]",
            "email": "candidate[email]",
            "phone_number": "candidate[phone_number]",
            "city": "candidate[city]",
            "country": "candidate[country]",
            "date_of_birth": "candidate[date_of_birth]",
            "education": "content[education]",
            "experience": "content[experience]",
            "pronouns": "content[pronouns]",
            "linkedin": "content[linkedin]",
            "website": "content[website]",
            "custom_data.internal_id": "content[internal_id]",
            "custom_data.driving_licence": "content[driving_licence]",
            "custom_data.notice_period_weeks": "content[notice_period_weeks]",
            "custom_data": "content",
            "vacancy_id": "job",
            "sourced": "sourced",
            "stage": "stage",
            "stage.name": "stage",
        },
    )


def test_update_with_nulls_clears_nothing() -> None:
    body = {
        "job": None,
        "stage": None,
        "sourced": None,
        "content": {"education": None, "shoe_size": None, "pronouns": "they/them"},
        "candidate": {"city": None, "photo": None, "email": "new@example.com"},
    }
    assert update_application_request("ap_X", body) == V2Request(
        "PATCH",
        "/job-applications/ap_X",
        json={"email": "new@example.com", "pronouns": "they/them"},
        v1_params={"email": "candidate[email]", "pronouns": "content[pronouns]"},
    )


@pytest.mark.parametrize(
    "body",
    [
        {},
        {
            "id": "ap_X",
            "created_at": 1696147964,
            "hired_at": None,
            "first_reply_at": None,
            "homerun_url": "https://app.homerun.co/candidates/ap_X",
            "rating": 4.5,
            "disqualified": True,
            "files": [],
            "notes": [],
            "job": None,
            "stage": "",
            "content": {},
            "candidate": {"id": "ca_X", "created_at": 1696147964, "applications": ["ap_X"]},
            "expand": ["notes"],
        },
    ],
    ids=["empty", "read-only members only"],
)
def test_update_with_nothing_changeable_plans_no_call(body: dict[str, Any]) -> None:
    assert update_application_request("ap_X", body) is None


@pytest.mark.parametrize(
    "pairs",
    [[("stage", "Hired")], [("stage[name]", "Hired")]],
    ids=["stage name", "stage object"],
)
def test_update_stage_from_form_pairs_moves_to_the_named_stage(
    pairs: list[tuple[str, str]],
) -> None:
    body = decode_bracket_pairs(pairs)
    assert update_application_request("ap_X", body) == V2Request(
        "PATCH",
        "/job-applications/ap_X",
        json={"stage": {"name": "Hired"}},
        v1_params={"stage": "stage", "stage.name": "stage"},
    )


def test_update_with_a_bad_stage_names_stage() -> None:
    with pytest.raises(V1ValidationError) as raised:
        update_application_request("ap_X", {"stage": 3})
    assert raised.value.body()["errors"] == [{"param": "stage", "message": "must be a stage name"}]


def test_unknown_members_lists_what_v2_has_no_place_for() -> None:
    body = {**SANNE_APPLICATION, "tags": ["a"], "priority": "high"}
    assert unknown_members(body) == ["priority", "tags"]


# --- requests: reads ----------------------------------------------------------------------


def test_application_list_with_filters_and_embedded_job_and_stage() -> None:
    filters = application_filters(
        [("job", "job_A, job_B"), ("job[]", "job_A"), ("stage", " Interview "), ("page", "2")]
    )
    assert list_applications_request(PageCall(3, 50), filters, embed=True) == V2Request(
        "GET",
        "/job-applications",
        (
            ("page", "3"),
            ("perPage", "50"),
            ("filter[vacancy_id]", "job_A,job_B"),
            ("filter[stage]", "Interview"),
            ("include[]", "vacancy"),
            ("include[]", "stage"),
        ),
    )


def test_candidate_list_includes_nothing() -> None:
    request = list_applications_request(PageCall(1, 100), application_filters([]), embed=False)
    assert request == V2Request("GET", "/job-applications", (("page", "1"), ("perPage", "100")))


def test_application_list_filter_with_a_bad_job_id_names_job() -> None:
    with pytest.raises(V1ValidationError) as raised:
        application_filters([("job", "job_A,../x")])
    assert raised.value.body()["errors"] == [{"param": "job", "message": "is not a job id"}]


def test_get_application_includes_the_vacancy() -> None:
    assert get_application_request("ap_D3kCkoClbG6n6KlqD0ob") == V2Request(
        "GET",
        "/job-applications/ap_D3kCkoClbG6n6KlqD0ob",
        (("include[]", "vacancy"),),
    )


def test_get_application_with_notes_includes_them() -> None:
    request = get_application_request("ap_D3kCkoClbG6n6KlqD0ob", with_notes=True)
    assert request == V2Request(
        "GET",
        "/job-applications/ap_D3kCkoClbG6n6KlqD0ob",
        (("include[]", "vacancy"), ("include[]", "notes")),
    )


def test_get_application_files_only_needs_no_include() -> None:
    request = get_application_request("ap_X", with_vacancy=False)
    assert request == V2Request("GET", "/job-applications/ap_X", ())
    assert request.is_idempotent
    assert request.cache_key == "GET /job-applications/ap_X?"


def test_empty_form_fields_clear_nothing_on_update() -> None:
    from mappings.applications import update_application_request

    body = {
        "candidate": {"city": "", "phone_number": "", "email": "new@example.com"},
        "content": {"education": "", "hobby": ""},
    }
    call = update_application_request("ap_x", body)
    assert call is not None
    assert call.json == {"email": "new@example.com"}


def test_a_page_translates_each_vacancy_once_and_answers_as_item_by_item(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mappings import applications as module

    other_vacancy = {**PUBLIC_VACANCY, "id": "job_Other00000000000000", "title": "Other"}
    items = [_item({**LIST_ITEM, "id": f"ap_Q8mZr1xYtB4nL0pKc7V{n}"}) for n in range(4)] + [
        _item({**LIST_ITEM, "vacancy_id": other_vacancy["id"], "vacancy": other_vacancy})
    ]
    one_by_one = [application_summary_to_v1(item) for item in items]
    translated: list[str] = []
    real = module.vacancy_to_job

    def counting(vacancy: Any) -> dict[str, Any]:
        translated.append(vacancy.id)
        return real(vacancy)

    monkeypatch.setattr(module, "vacancy_to_job", counting)
    assert module.applications_page_to_v1(items) == one_by_one
    assert sorted(translated) == sorted({PUBLIC_VACANCY["id"], other_vacancy["id"]})
    assert [a["job"]["title"] for a in one_by_one] == [PUBLIC_VACANCY["title"]] * 4 + ["Other"]


def test_a_page_embeds_each_job_whole_when_held_else_as_v2_embeds_it() -> None:
    other = {**PUBLIC_VACANCY, "id": "job_Other00000000000000", "title": "Other"}
    gone = "job_Gone000000000000000"
    items = [
        _item({**LIST_ITEM, "vacancy": EMBEDDED_VACANCY}),  # held
        _item({**LIST_ITEM, "id": "ap_Talent", "vacancy_id": None, "vacancy": None}),
        _item({**LIST_ITEM, "id": "ap_Other", "vacancy_id": other["id"], "vacancy": None}),
        # sparse: only the embed names the vacancy; held, so whole
        _item({**LIST_ITEM, "id": "ap_Sparse", "vacancy_id": None, "vacancy": EMBEDDED_VACANCY}),
        _item({**LIST_ITEM, "id": "ap_Gone", "vacancy_id": gone, "vacancy": None}),  # not held
    ]
    assert vacancy_ids_of(items) == [PUBLIC_VACANCY["id"], other["id"], gone]
    jobs = [item["job"] for item in applications_page_to_v1(items, _held(PUBLIC_VACANCY, other))]
    assert jobs[0] == jobs[3] == PUBLIC_JOB
    assert jobs[1] is None
    assert jobs[2] == {**PUBLIC_JOB, "id": other["id"], "title": "Other",
                       "seo_content": {**PUBLIC_JOB["seo_content"], "title": "Other"}}  # fmt: skip
    assert jobs[4] is not None and jobs[4]["id"] == gone and jobs[4]["title"] == ""
    # Nothing held: each item as v2 embedded it (the two unreadable ones by id only).
    bare = [item["job"] for item in applications_page_to_v1(items)]
    assert bare[0] == bare[3] == EMBEDDED_JOB
    assert bare[2] is not None and bare[2]["tmp_location"] is None and bare[2]["title"] == ""


def test_held_vacancy_is_found_by_the_applications_vacancy_id() -> None:
    held = _held(PUBLIC_VACANCY)
    assert held_vacancy(_item(LIST_ITEM), held) is held[PUBLIC_VACANCY["id"]]
    assert held_vacancy(_item(LIST_ITEM), None) is None
    assert held_vacancy(_item(LIST_ITEM), {}) is None
    talent = _item({**LIST_ITEM, "vacancy_id": None, "vacancy": None})
    assert held_vacancy(talent, held) is None
    assert vacancy_ids_of([talent]) == []

"""Jobs: a v2 vacancy becomes the v1 job; v1 job list/detail calls become vacancy calls."""

from __future__ import annotations

from typing import Any

import pytest

from mappings import v1_models
from mappings.errors import V1ValidationError
from mappings.jobs import (
    get_vacancy_request,
    list_vacancies_request,
    plain_text,
    v2_status_filter,
    vacancy_to_job,
    whole_list_continues,
    whole_list_request,
)
from mappings.pagination import PageCall, parse_window, plan_page_window
from mappings.plan import V2Request
from mappings.v2_models import OneVacancy, PageMeta, VacancyPage
from tests.mappings.golden import Golden, params
from tests.mappings.payloads import PUBLIC_JOB, PUBLIC_VACANCY

# --- v2 payloads, in the wire shape of homerun-v2.md §8.3 / §9.1 -----------------------
# (PUBLIC_VACANCY, shared with the application tests, lives in payloads.py.)

PRIVATE_VACANCY: dict[str, Any] = {
    "id": "job_Pr1vAtE0000000000001",
    "title": "Backend Engineer (Python)",
    "description": "Plain text,   no markup\nat all.",
    "application_form_url": "https://acme.homerun.co/backend-engineer/en/apply",
    "job_url": "https://acme.homerun.co/backend-engineer/en",
    "share_image_url": None,
    "status": "private",
    "type": "Full-time / Part-time",
    "expires_at": "2023-12-31T23:59:59Z",
    "location": {"name": None, "country": "NL", "city": "Rotterdam"},
    "department": None,
    "total_candidate_count": 0,
    "created_at": "2023-06-12T07:05:09.000000Z",
}

DRAFT_VACANCY: dict[str, Any] = {
    "id": "job_Dr4ftVacancy00000001",
    "title": "Office Manager",
    "description": "",
    "application_form_url": "https://acme.homerun.co/office-manager/en/apply",
    "job_url": "https://acme.homerun.co/office-manager/en",
    "share_image_url": None,
    "status": "draft",
    "type": None,
    "expires_at": None,
    "location": None,
    "department": {"name": "Operations"},
    # Rendered with an offset: 18:45 at +02:00 is 16:45 UTC.
    "created_at": "2024-01-15T18:45:00+02:00",
}

CLOSED_VACANCY: dict[str, Any] = {
    "id": "job_Cl0sedVacancy0000001",
    "title": "Summer Intern",
    "description": (
        '<p>Join us for the summer: &euro;800/month, apply <a href="https://acme.homerun.co/'
        'summer-intern">here</a>.</p><p>Questions? Mail <em>jobs@acme.example</em> '
        "&lt;no recruiters&gt;</p>"
    ),
    "application_form_url": "https://acme.homerun.co/summer-intern/en/apply",
    "job_url": "https://acme.homerun.co/summer-intern/en",
    "share_image_url": "https://cdn.homerun.co/acme/share/summer-intern.jpg",
    "status": "closed",
    "type": "Internship",
    "expires_at": "2023-11-01T00:00:00+00:00",
    "location": {"name": "Utrecht office", "city": "Utrecht", "country": "NL"},
    "department": {"name": "Marketing"},
    "total_candidate_count": 31,
    "created_at": "2023-09-01T09:30:00Z",
}

CLOSED_WITHOUT_EXPIRY_VACANCY: dict[str, Any] = {
    "id": "job_Cl0sedNoExpiry000001",
    "title": "Data Analyst",
    "description": "<p>Closed by hand.</p>",
    "application_form_url": "https://acme.homerun.co/data-analyst/en/apply",
    "job_url": "https://acme.homerun.co/data-analyst/en",
    "share_image_url": None,
    "status": "closed",
    "type": "Temporary",
    "expires_at": None,
    "location": {"name": None, "city": None, "country": "NL"},
    "department": {"name": None},
    "total_candidate_count": 3,
    "created_at": "2024-02-29T12:00:00Z",
}

JOB_GOLDENS: list[Golden] = [
    Golden(
        "public->open, location name, department, share image, seo cut at 160",
        lambda: vacancy_to_job(OneVacancy.model_validate({"data": PUBLIC_VACANCY}).data),
        PUBLIC_JOB,
        v1_models.Job,
    ),
    Golden(
        "private, location city fallback, department null, plain description",
        lambda: vacancy_to_job(OneVacancy.model_validate({"data": PRIVATE_VACANCY}).data),
        {
            "id": "job_Pr1vAtE0000000000001",
            "title": "Backend Engineer (Python)",
            "status": "private",
            "type": "Full-time / Part-time",
            "tmp_location": "Rotterdam",
            "tmp_department": None,
            "total_candidate_count": 0,
            "application_form_url": "https://acme.homerun.co/backend-engineer/en/apply",
            "job_url": "https://acme.homerun.co/backend-engineer/en",
            "seo_content": {
                "title": "Backend Engineer (Python)",
                "description": "Plain text, no markup at all.",
                "image": None,
            },
            "created_at": 1686553509,
            "active_time": [{"opened_at": 1686553509, "closed_at": None}],
        },
        v1_models.Job,
    ),
    Golden(
        "draft, no location, no count included, offset date",
        lambda: vacancy_to_job(OneVacancy.model_validate({"data": DRAFT_VACANCY}).data),
        {
            "id": "job_Dr4ftVacancy00000001",
            "title": "Office Manager",
            "status": "draft",
            "type": None,
            "tmp_location": None,
            "tmp_department": "Operations",
            "total_candidate_count": None,
            "application_form_url": "https://acme.homerun.co/office-manager/en/apply",
            "job_url": "https://acme.homerun.co/office-manager/en",
            "seo_content": {"title": "Office Manager", "description": "", "image": None},
            "created_at": 1705337100,
            "active_time": [{"opened_at": 1705337100, "closed_at": None}],
        },
        v1_models.Job,
    ),
    Golden(
        "closed: expires_at is closed_at; inline tags and entities",
        lambda: vacancy_to_job(OneVacancy.model_validate({"data": CLOSED_VACANCY}).data),
        {
            "id": "job_Cl0sedVacancy0000001",
            "title": "Summer Intern",
            "status": "closed",
            "type": "Internship",
            "tmp_location": "Utrecht office",
            "tmp_department": "Marketing",
            "total_candidate_count": 31,
            "application_form_url": "https://acme.homerun.co/summer-intern/en/apply",
            "job_url": "https://acme.homerun.co/summer-intern/en",
            "seo_content": {
                "title": "Summer Intern",
                "description": (
                    "Join us for the summer: €800/month, apply here. Questions? Mail "
                    "jobs@acme.example <no recruiters>"
                ),
                "image": "https://cdn.homerun.co/acme/share/summer-intern.jpg",
            },
            "created_at": 1693560600,
            "active_time": [{"opened_at": 1693560600, "closed_at": 1698796800}],
        },
        v1_models.Job,
    ),
    Golden(
        "closed without expiry, location and department without names",
        lambda: vacancy_to_job(
            OneVacancy.model_validate({"data": CLOSED_WITHOUT_EXPIRY_VACANCY}).data
        ),
        {
            "id": "job_Cl0sedNoExpiry000001",
            "title": "Data Analyst",
            "status": "closed",
            "type": "Temporary",
            "tmp_location": None,
            "tmp_department": None,
            "total_candidate_count": 3,
            "application_form_url": "https://acme.homerun.co/data-analyst/en/apply",
            "job_url": "https://acme.homerun.co/data-analyst/en",
            "seo_content": {
                "title": "Data Analyst",
                "description": "Closed by hand.",
                "image": None,
            },
            "created_at": 1709208000,
            "active_time": [{"opened_at": 1709208000, "closed_at": None}],
        },
        v1_models.Job,
    ),
]


@pytest.mark.parametrize("case", params(JOB_GOLDENS))
def test_vacancy_becomes_the_exact_v1_job(case: Golden) -> None:
    assert case.produce() == case.expected


def test_a_v2_vacancy_page_maps_item_by_item_in_v2_order() -> None:
    page = VacancyPage.model_validate(
        {
            "data": [PRIVATE_VACANCY, PUBLIC_VACANCY],
            "links": {"first": "http://api.homerun.co/v2/vacancies?page=1", "next": None},
            "meta": {
                "current_page": 1,
                "from": 1,
                "last_page": 1,
                "per_page": 100,
                "to": 2,
                "total": 2,
                "path": "http://api.homerun.co/v2/vacancies",
                "links": [],
            },
        }
    )
    jobs = [vacancy_to_job(vacancy) for vacancy in page.data]
    assert [job["id"] for job in jobs] == ["job_Pr1vAtE0000000000001", "job_SnhUsAg1QwTRFIRNUfM6"]
    assert jobs[1] == PUBLIC_JOB


def test_seo_description_is_cut_at_exactly_160_characters() -> None:
    job = vacancy_to_job(OneVacancy.model_validate({"data": PUBLIC_VACANCY}).data)
    description = job["seo_content"]["description"]
    assert len(description) == 160
    assert description.endswith("from first sketch to")


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>One</p><p>Two</p>", "One Two"),
        ("<ul><li>a</li><li>b</li></ul>", "a b"),
        ("line<br>break<BR/>again", "line break again"),
        ("Apply <a href='https://x.example'>here</a>.", "Apply here."),
        ("<p><strong>Amster</strong>dam</p>", "Amsterdam"),
        ("Fish &amp; chips", "Fish & chips"),
        ("caf&eacute;&nbsp;&#8364;5", "café €5"),
        # A literal "&lt;b&gt;" in the text is written "&amp;lt;b&amp;gt;": unescaped once.
        ("<p>Write &amp;lt;b&amp;gt; for bold</p>", "Write &lt;b&gt; for bold"),
        ("  spaced \n\t out  ", "spaced out"),
        ("", ""),
    ],
)
def test_plain_text_of_html_descriptions(markup: str, text: str) -> None:
    assert plain_text(markup) == text


JOB_INCLUDES: tuple[tuple[str, str], ...] = (
    ("include[]", "location"),
    ("include[]", "department"),
    ("include[]", "total_candidate_count"),
)


def test_job_list_with_status_open_asks_for_public_vacancies_with_includes() -> None:
    request = list_vacancies_request(PageCall(2, 25), v2_status_filter([("status", "open")]))
    assert request == V2Request(
        "GET",
        "/vacancies",
        (("page", "2"), ("perPage", "25"), ("filter[status]", "public"), *JOB_INCLUDES),
    )


def test_job_list_without_status_filters_nothing() -> None:
    request = list_vacancies_request(PageCall(1, 100), v2_status_filter([("page", "1")]))
    assert request == V2Request(
        "GET",
        "/vacancies",
        (("page", "1"), ("perPage", "100"), *JOB_INCLUDES),
    )


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([("status", "open")], "public"),
        ([("status", "private")], "private"),
        ([("status", "draft")], "draft"),
        ([("status", "closed")], "closed"),
        ([("status", " OPEN , closed")], "public,closed"),
        ([("status[]", "open"), ("status[]", "private"), ("status", "open")], "public,private"),
        ([("status", "")], None),
        ([], None),
    ],
)
def test_v1_status_words_map_to_v2_status_filter(
    query: list[tuple[str, str]], expected: str | None
) -> None:
    assert v2_status_filter(query) == expected


@pytest.mark.parametrize("word", ["opened", "archived", "all"])
def test_unknown_status_is_a_400_naming_status(word: str) -> None:
    with pytest.raises(V1ValidationError) as raised:
        v2_status_filter([("status", word)])
    assert raised.value.status == 400
    assert raised.value.body() == {
        "message": "status: must be one of open, private, draft, closed",
        "status": 400,
        "errors": [{"param": "status", "message": "must be one of open, private, draft, closed"}],
    }


def test_one_job_is_one_vacancy_with_the_includes() -> None:
    assert get_vacancy_request("job_SnhUsAg1QwTRFIRNUfM6") == V2Request(
        "GET",
        "/vacancies/job_SnhUsAg1QwTRFIRNUfM6",
        JOB_INCLUDES,
    )


def test_seo_description_skips_scripts_and_styles() -> None:
    from mappings.jobs import plain_text

    markup = "<style>p{color:red}</style><p>Join us</p><script>track('x')</script><p>today</p>"
    assert plain_text(markup) == "Join us today"


def test_status_accepts_v2_word_public_as_open() -> None:
    from mappings.jobs import v2_status_filter

    assert v2_status_filter([("status", "public,open")]) == "public"


# --- the whole vacancy list: read to embed whole jobs in applications (§6 rev 2) -------------


def test_a_page_of_the_whole_list_is_the_job_list_call_of_per_page_100() -> None:
    """Every status, 100 a page, the job includes: the very call ``GET /v1/jobs?per_page=100
    &page=N`` plans, so the two share one entry of the read cache."""
    for page in (1, 2, 7):
        window = parse_window([("per_page", "100"), ("page", str(page))])
        (planned,) = plan_page_window(window)
        assert whole_list_request(page) == list_vacancies_request(planned, None)
        assert whole_list_request(page) == V2Request(
            "GET",
            "/vacancies",
            (("page", str(page)), ("perPage", "100"), *JOB_INCLUDES),
        )


@pytest.mark.parametrize(
    ("page", "shown", "meta", "continues"),
    [
        # last_page says it, whatever the count.
        (1, 100, {"last_page": 2, "total": 150}, True),
        (2, 50, {"last_page": 2, "total": 150}, False),
        (1, 100, {"last_page": 1}, False),
        # total only: pages of 100 until it is covered.
        (1, 100, {"total": 200}, True),
        (2, 100, {"total": 200}, False),
        (2, 100, {"total": 201}, True),
        # no meta (v2 guarantees none): a full page may have a next one.
        (1, 100, None, True),
        (3, 99, None, False),
        (1, 100, {"current_page": 1}, True),
        # an empty page ends the list, whatever meta claims.
        (4, 0, {"last_page": 9, "total": 900}, False),
        (2, 0, None, False),
    ],
)
def test_the_whole_list_continues_while_v2_says_or_a_page_is_full(
    page: int, shown: int, meta: dict[str, Any] | None, continues: bool
) -> None:
    parsed = None if meta is None else PageMeta.model_validate(meta)
    assert whole_list_continues(page, shown, parsed) is continues

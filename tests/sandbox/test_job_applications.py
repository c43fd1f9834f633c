"""Job applications: list filters and includes, detail, create, update, delete, notes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from sandbox.records import JobApplication
from tests.conftest_sandbox import RunningSandbox, StartSandbox
from tests.sandbox.support import FakeClock, bearer, call, details_params

NOT_FOUND = {"code": 404, "error": True, "message": "Not found"}
SHORT_FIELDS = [
    "id", "rating", "retention_period_ends_at", "sourced", "total_votes", "homerun_url",
    "created_at", "disqualified", "hired_at", "first_reply_at", "personal_info", "vacancy_id",
]  # fmt: skip
DETAIL_EXTRA = [
    "education", "experience", "pronouns", "skype", "facebook", "twitter", "linkedin", "github",
    "website", "assignment", "files", "custom_data",
]  # fmt: skip
NEW_APPLICANT = {"first_name": "Sanne", "last_name": "de Vries", "email": "sanne@example.com"}


def open_vacancy_with_stages(sandbox: RunningSandbox) -> Any:
    return next(
        v for v in sandbox.state.vacancies.values() if v.status == "public" and len(v.stages) >= 3
    )


def an_application(sandbox: RunningSandbox, **wanted: Any) -> JobApplication:
    return next(
        item
        for item in sandbox.state.applications.values()
        if all(getattr(item, name) == value for name, value in wanted.items())
    )


async def all_pages(client: Any, query: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        status, body = await call(
            client, "GET", f"/v2/job-applications?perPage=100&page={page}&{query}"
        )
        assert status == 200, body
        items += body["data"]
        if page >= body["meta"]["last_page"]:
            return items
        page += 1


# ----- list -----


async def test_list_items_are_short_and_includes_are_absent_unless_asked(
    sandbox_client: Any,
) -> None:
    status, body = await call(sandbox_client, "GET", "/v2/job-applications")
    assert status == 200
    for item in body["data"]:
        assert list(item) == SHORT_FIELDS


async def test_list_includes(sandbox_client: Any, sandbox_server: RunningSandbox) -> None:
    items = await all_pages(sandbox_client, "include[]=stage&include[]=sources&include[]=vacancy")
    assert len(items) == len(sandbox_server.state.applications)
    for item in items:
        stored = sandbox_server.state.applications[item["id"]]
        assert list(item) == [*SHORT_FIELDS, "stage", "sources", "vacancy"]
        assert item["stage"] == ({"name": stored.stage} if stored.stage else None)
        assert item["sources"] == [{"name": name} for name in stored.sources]
        if stored.vacancy_id is None:
            assert item["vacancy"] is None and item["stage"] is None
        else:
            assert item["vacancy"]["id"] == stored.vacancy_id
            # The embedded vacancy has base fields only.
            assert "stages" not in item["vacancy"] and "location" not in item["vacancy"]


async def test_filter_by_vacancy_ids(sandbox_client: Any, sandbox_server: RunningSandbox) -> None:
    vacancies = [
        v.id
        for v in sandbox_server.state.vacancies.values()
        if sandbox_server.state.candidate_count(v.id)
    ][:2]
    items = await all_pages(sandbox_client, f"filter[vacancy_id]={','.join(vacancies)}")
    expected = [
        a.id for a in sandbox_server.state.applications.values() if a.vacancy_id in vacancies
    ]
    assert sorted(item["id"] for item in items) == sorted(expected)
    assert {item["vacancy_id"] for item in items} == set(vacancies)


async def test_filter_by_stage_name(sandbox_client: Any, sandbox_server: RunningSandbox) -> None:
    items = await all_pages(sandbox_client, "filter[stage]=Interview,Offer&include[]=stage")
    assert items and {item["stage"]["name"] for item in items} <= {"Interview", "Offer"}
    expected = [
        a for a in sandbox_server.state.applications.values() if a.stage in ("Interview", "Offer")
    ]
    assert len(items) == len(expected)
    # Stage names match the way the database collation does: case does not matter.
    assert len(await all_pages(sandbox_client, "filter[stage]=interview,OFFER")) == len(expected)


async def test_filter_hired_after_combines_with_others(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    hire_dates = {
        a.id: a.hired_at.date() for a in sandbox_server.state.applications.values() if a.hired_at
    }
    hired = sorted(hire_dates, key=lambda application_id: hire_dates[application_id])
    assert len(hired) >= 3
    cutoff = hire_dates[hired[len(hired) // 2]]
    items = await all_pages(sandbox_client, f"filter[hired_after]={cutoff.isoformat()}")
    expected = {application_id for application_id in hired if hire_dates[application_id] >= cutoff}
    assert {item["id"] for item in items} == expected
    assert all(item["hired_at"] >= cutoff.isoformat() for item in items)
    vacancy_id = sandbox_server.state.applications[hired[-1]].vacancy_id
    both = await all_pages(
        sandbox_client, f"filter[hired_after]={cutoff}&filter[vacancy_id]={vacancy_id}"
    )
    applications = sandbox_server.state.applications
    assert {item["id"] for item in both} == {
        application_id
        for application_id in expected
        if applications[application_id].vacancy_id == vacancy_id
    }


@pytest.mark.parametrize("value", ["2023-13-01", "01-06-2023", "yesterday", "2023-02-30"])
async def test_bad_hired_after_is_400(sandbox_client: Any, value: str) -> None:
    status, body = await call(
        sandbox_client, "GET", f"/v2/job-applications?filter[hired_after]={value}"
    )
    assert status == 400 and details_params(body) == ["filter.hired_after"]


async def test_list_rejects_detail_only_includes(sandbox_client: Any) -> None:
    status, body = await call(sandbox_client, "GET", "/v2/job-applications?include[]=notes")
    assert status == 400 and details_params(body) == ["include"]


# ----- detail -----


async def test_detail_always_has_stage_and_the_detail_fields(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    application = an_application(sandbox_server, vacancy_id=None)
    status, body = await call(sandbox_client, "GET", f"/v2/job-applications/{application.id}")
    assert status == 200
    assert list(body["data"]) == [*SHORT_FIELDS, "stage", *DETAIL_EXTRA]
    assert body["data"]["stage"] is None  # talent pool


async def test_detail_includes_notes_sources_and_vacancy(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    application = next(
        a
        for a in sandbox_server.state.applications.values()
        if a.notes and a.vacancy_id and a.sources
    )
    status, body = await call(
        sandbox_client,
        "GET",
        f"/v2/job-applications/{application.id}?include[]=notes&include[]=sources&include[]=vacancy",
    )
    assert status == 200
    data = body["data"]
    assert [note["note"] for note in data["notes"]] == [note.note for note in application.notes]
    assert data["sources"] == [{"name": source} for source in application.sources]
    assert data["vacancy"]["id"] == application.vacancy_id
    assert data["stage"] == {"name": application.stage}


async def test_unknown_application_is_404(sandbox_client: Any) -> None:
    assert await call(sandbox_client, "GET", "/v2/job-applications/ap_D3kCkoClbG6n6KlqD0ob") == (
        404,
        NOT_FOUND,
    )


# ----- create -----


async def test_create_lands_in_the_first_stage_of_the_vacancy(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    clock = FakeClock(now=datetime(2026, 3, 4, 5, 6, 7, 890000, tzinfo=UTC).timestamp())
    sandbox = await start_sandbox(clock=clock)
    client = await aiohttp_client(sandbox.server, headers=bearer("demo-v2-key"))
    vacancy = open_vacancy_with_stages(sandbox)
    request = {
        **NEW_APPLICANT,
        "vacancy_id": vacancy.id,
        "phone_number": "012-34567890",
        "sourced": True,
        "linkedin": "https://linkedin.com/in/sannedevries",
        "custom_data": {"internal_id": "hr-2131"},
        "sources": ["LinkedIn"],
        "date_of_birth": "1990-04-12",
        "vacancyId": "ignored-unknown-key",
    }
    status, body = await call(client, "POST", "/v2/job-applications", json=request)
    assert status == 201
    data = body["data"]
    assert data["id"].startswith("ap_") and len(data["id"]) == 23 and data["id"][3:].isalnum()
    assert list(data) == [*SHORT_FIELDS, "stage", *DETAIL_EXTRA]
    assert data["stage"] == {"name": vacancy.stages[0]}
    assert (data["rating"], data["total_votes"], data["files"]) == (0, 0, [])
    assert data["created_at"] == "2026-03-04T05:06:07Z"
    assert data["retention_period_ends_at"] == "2028-03-04T05:06:07Z"
    assert data["homerun_url"] == f"https://app.homerun.co/candidates/{data['id']}"
    assert data["personal_info"] == {
        "first_name": "Sanne", "last_name": "de Vries", "email": "sanne@example.com",
        "city": None, "country": None, "date_of_birth": "1990-04-12",
        "phone_number": "012-34567890", "photo": None,
    }  # fmt: skip
    assert data["custom_data"] == {"internal_id": "hr-2131"} and data["sourced"] is True
    # The new application is the newest, so it comes last in the list.
    status, listing = await call(
        client, "GET", "/v2/job-applications?perPage=1&page=100000&include[]=sources"
    )
    last_page = listing["meta"]["last_page"]
    status, listing = await call(
        client, "GET", f"/v2/job-applications?perPage=1&page={last_page}&include[]=sources"
    )
    assert listing["data"][0]["id"] == data["id"]
    assert listing["data"][0]["sources"] == [{"name": "LinkedIn"}]


async def test_create_without_vacancy_goes_to_the_talent_pool(sandbox_client: Any) -> None:
    for extra in ({}, {"vacancy_id": None}):
        status, body = await call(
            sandbox_client, "POST", "/v2/job-applications", json={**NEW_APPLICANT, **extra}
        )
        assert status == 201
        assert body["data"]["vacancy_id"] is None and body["data"]["stage"] is None
        assert body["data"]["custom_data"] == {}


async def test_create_validation_lists_every_problem(sandbox_client: Any) -> None:
    request = {
        "first_name": "",
        "email": "not an email",
        "date_of_birth": "28-01-1983",
        "linkedin": "linkedin.com/in/x",
        "sourced": "yes",
        "custom_data": ["not", "an", "object"],
        "sources": ["LinkedIn", 7],
        "phone_number": 612345678,
    }
    status, body = await call(sandbox_client, "POST", "/v2/job-applications", json=request)
    assert status == 400
    assert body["code"] == 400 and body["message"] == "The given input was invalid"
    assert sorted(details_params(body)) == sorted(
        ["first_name", "last_name", "email", "date_of_birth", "linkedin", "sourced", "custom_data",
         "sources.1", "phone_number"]
    )  # fmt: skip
    assert all(isinstance(item["message"], str) and item["message"] for item in body["details"])


@pytest.mark.parametrize("payload", [b"[1, 2]", b"not json", b'"a string"', b"null"])
async def test_a_body_that_is_not_a_json_object_is_400(sandbox_client: Any, payload: bytes) -> None:
    status, body = await call(
        sandbox_client,
        "POST",
        "/v2/job-applications",
        data=payload,
        headers={"Content-Type": "application/json"},
    )
    assert status == 400 and details_params(body) == ["body"]


async def test_create_on_unknown_draft_or_closed_vacancy_is_400(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    vacancies = sandbox_server.state.vacancies.values()
    draft = next(v.id for v in vacancies if v.status == "draft")
    closed = next(v.id for v in vacancies if v.status == "closed")
    private = next(v.id for v in vacancies if v.status == "private")
    before = len(sandbox_server.state.applications)
    for vacancy_id in ("job_unknown", draft, closed):
        status, body = await call(
            sandbox_client,
            "POST",
            "/v2/job-applications",
            json={**NEW_APPLICANT, "vacancy_id": vacancy_id},
        )
        assert status == 400 and details_params(body) == ["vacancy_id"]
    assert len(sandbox_server.state.applications) == before
    status, _ = await call(
        sandbox_client,
        "POST",
        "/v2/job-applications",
        json={**NEW_APPLICANT, "vacancy_id": private},
    )
    assert status == 201


# ----- update -----


async def test_patch_changes_only_the_fields_sent(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    application = an_application(sandbox_server, disqualified=False)
    before = (await call(sandbox_client, "GET", f"/v2/job-applications/{application.id}"))[1][
        "data"
    ]
    status, body = await call(
        sandbox_client,
        "PATCH",
        f"/v2/job-applications/{application.id}",
        json={"email": "applicant@example.com", "city": "Amsterdam", "phone_number": "06111111111"},
    )
    assert status == 200
    after = body["data"]
    assert after["personal_info"] == {
        **before["personal_info"],
        "email": "applicant@example.com",
        "city": "Amsterdam",
        "phone_number": "06111111111",
    }
    unchanged = {
        key: value for key, value in before.items() if key not in ("personal_info", "files")
    }
    assert {key: after[key] for key in unchanged} == unchanged


async def test_patch_merges_custom_data_key_by_key(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    application = an_application(sandbox_server)
    application.custom_data = {"existing_property": "old", "keep": "me", "drop": "me too"}
    status, body = await call(
        sandbox_client,
        "PATCH",
        f"/v2/job-applications/{application.id}",
        json={
            "custom_data": {
                "new_property": "new information",
                "existing_property": "updated",
                "drop": None,
            }
        },
    )
    assert status == 200
    assert body["data"]["custom_data"] == {
        "existing_property": "updated",
        "keep": "me",
        "new_property": "new information",
    }


async def test_patch_moves_stage_by_name(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    vacancy = open_vacancy_with_stages(sandbox_server)
    application = next(
        a
        for a in sandbox_server.state.applications.values()
        if a.vacancy_id == vacancy.id and a.stage != "Hired"
    )
    path = f"/v2/job-applications/{application.id}"
    status, body = await call(sandbox_client, "PATCH", path, json={"stage": {"name": "hired"}})
    assert status == 200
    assert body["data"]["stage"] == {"name": "Hired"}  # the vacancy's own spelling
    assert body["data"]["hired_at"] is not None
    status, body = await call(
        sandbox_client, "PATCH", path, json={"stage": {"name": vacancy.stages[1]}}
    )
    assert body["data"]["stage"] == {"name": vacancy.stages[1]} and body["data"]["hired_at"] is None


async def test_patch_with_an_unknown_stage_or_vacancy_is_404(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    application = next(a for a in sandbox_server.state.applications.values() if a.vacancy_id)
    path = f"/v2/job-applications/{application.id}"
    before_stage = application.stage
    assert await call(
        sandbox_client, "PATCH", path, json={"stage": {"name": "Astronaut training"}}
    ) == (404, NOT_FOUND)
    assert await call(sandbox_client, "PATCH", path, json={"vacancy_id": "job_644689182a1b8"}) == (
        404,
        NOT_FOUND,
    )
    assert application.stage == before_stage
    talent_pool = an_application(sandbox_server, vacancy_id=None)
    assert await call(
        sandbox_client,
        "PATCH",
        f"/v2/job-applications/{talent_pool.id}",
        json={"stage": {"name": "New"}},
    ) == (404, NOT_FOUND)


async def test_patch_stage_must_exist_in_the_new_vacancy(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    vacancies = [
        v
        for v in sandbox_server.state.vacancies.values()
        if v.status in ("public", "private") and v.stages
    ]
    source = vacancies[0]
    target = next(v for v in vacancies if set(v.stages) != set(source.stages))
    application = next(
        a for a in sandbox_server.state.applications.values() if a.vacancy_id == source.id
    )
    path = f"/v2/job-applications/{application.id}"
    only_in_source = next(stage for stage in source.stages if stage not in target.stages)
    assert await call(
        sandbox_client,
        "PATCH",
        path,
        json={"vacancy_id": target.id, "stage": {"name": only_in_source}},
    ) == (404, NOT_FOUND)
    assert application.vacancy_id == source.id
    status, body = await call(
        sandbox_client,
        "PATCH",
        path,
        json={"vacancy_id": target.id, "stage": {"name": target.stages[-1]}},
    )
    assert (
        status == 200
        and body["data"]["vacancy_id"] == target.id
        and body["data"]["stage"] == {"name": target.stages[-1]}
    )
    status, body = await call(sandbox_client, "PATCH", path, json={"vacancy_id": source.id})
    assert body["data"]["stage"] == {
        "name": source.stages[0]
    }  # moving alone lands in the first stage


async def test_patch_vacancy_null_moves_to_the_talent_pool(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    application = next(a for a in sandbox_server.state.applications.values() if a.vacancy_id)
    status, body = await call(
        sandbox_client, "PATCH", f"/v2/job-applications/{application.id}", json={"vacancy_id": None}
    )
    assert status == 200
    assert body["data"]["vacancy_id"] is None and body["data"]["stage"] is None


@pytest.mark.parametrize(
    ("request_body", "params"),
    [
        ({"email": "nope"}, ["email"]),
        ({"first_name": None}, ["first_name"]),
        ({"stage": "Interview"}, ["stage"]),
        ({"stage": {}}, ["stage.name"]),
        ({"stage": {"name": 3}}, ["stage.name"]),
        ({"sourced": 1, "website": "ftp//x"}, ["sourced", "website"]),
        ({"custom_data": "x"}, ["custom_data"]),
        ({"vacancy_id": 12}, ["vacancy_id"]),
    ],
)
async def test_patch_validation(
    sandbox_client: Any,
    sandbox_server: RunningSandbox,
    request_body: dict[str, Any],
    params: list[str],
) -> None:
    application = an_application(sandbox_server)
    status, body = await call(
        sandbox_client, "PATCH", f"/v2/job-applications/{application.id}", json=request_body
    )
    assert status == 400 and details_params(body) == params


# ----- delete -----


async def test_delete_then_get_and_delete_again_are_404(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    application = an_application(sandbox_server)
    path = f"/v2/job-applications/{application.id}"
    async with sandbox_client.delete(path) as response:
        assert response.status == 204
        assert await response.read() == b""
    assert await call(sandbox_client, "GET", path) == (404, NOT_FOUND)
    assert await call(sandbox_client, "DELETE", path) == (404, NOT_FOUND)
    items = await all_pages(sandbox_client, "")
    assert application.id not in {item["id"] for item in items}


# ----- notes -----


async def test_add_a_note_and_read_it_back(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    clock = FakeClock(now=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC).timestamp())
    sandbox = await start_sandbox(clock=clock)
    client = await aiohttp_client(sandbox.server, headers=bearer("demo-v2-key"))
    application = an_application(sandbox)
    path = f"/v2/job-applications/{application.id}"
    status, body = await call(
        client,
        "POST",
        f"{path}/notes",
        json={"note": "Excellent candidate.", "display_name": "Ted"},
    )
    assert status == 201
    assert body == {
        "data": {
            "display_name": "Ted",
            "is_sensitive": False,
            "note": "Excellent candidate.",
            "created_at": "2026-01-02T03:04:05Z",
            "updated_at": "2026-01-02T03:04:05Z",
        }
    }
    await call(
        client,
        "POST",
        f"{path}/notes",
        json={"note": "<b>private</b>", "display_name": "Priya", "is_sensitive": True},
    )
    status, body = await call(client, "GET", f"{path}?include[]=notes")
    assert body["data"]["notes"][-2:] == [
        {"display_name": "Ted", "is_sensitive": False, "note": "Excellent candidate.",
         "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z"},
        {"display_name": "Priya", "is_sensitive": True, "note": "<b>private</b>",
         "created_at": "2026-01-02T03:04:05Z", "updated_at": "2026-01-02T03:04:05Z"},
    ]  # fmt: skip


async def test_note_validation_and_unknown_application(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    application = an_application(sandbox_server)
    status, body = await call(
        sandbox_client,
        "POST",
        f"/v2/job-applications/{application.id}/notes",
        json={"is_sensitive": "no"},
    )
    assert status == 400 and details_params(body) == ["note", "display_name", "is_sensitive"]
    note = {"note": "x", "display_name": "Ted"}
    assert await call(
        sandbox_client, "POST", "/v2/job-applications/ap_missing/notes", json=note
    ) == (404, NOT_FOUND)


async def test_seed_notes_include_sensitive_ones(sandbox_server: RunningSandbox) -> None:
    notes = [note for a in sandbox_server.state.applications.values() for note in a.notes]
    assert any(note.is_sensitive for note in notes) and any(not note.is_sensitive for note in notes)


async def test_total_candidate_count_follows_creates_moves_and_deletes(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    """The sandbox keeps the counts as applications change; they always equal a scan."""
    state = sandbox_server.state
    first, second = [v for v in state.vacancies.values() if v.status == "public"][:2]
    auth = bearer("demo-v2-key")

    async def shown(vacancy_id: str) -> int:
        query = "include[]=total_candidate_count"
        _, body = await call(
            sandbox_client, "GET", f"/v2/vacancies/{vacancy_id}?{query}", headers=auth
        )
        return int(body["data"]["total_candidate_count"])

    def scanned(vacancy_id: str) -> int:
        return sum(1 for item in state.applications.values() if item.vacancy_id == vacancy_id)

    before = await shown(first.id)
    assert before == scanned(first.id)
    status, created = await call(
        sandbox_client,
        "POST",
        "/v2/job-applications",
        headers=auth,
        json={**NEW_APPLICANT, "vacancy_id": first.id},
    )
    assert status == 201
    assert await shown(first.id) == before + 1
    moved = created["data"]["id"]
    status, _ = await call(
        sandbox_client,
        "PATCH",
        f"/v2/job-applications/{moved}",
        headers=auth,
        json={"vacancy_id": second.id},
    )
    assert status == 200
    assert (await shown(first.id), await shown(second.id)) == (before, scanned(second.id))
    status, _ = await call(sandbox_client, "DELETE", f"/v2/job-applications/{moved}", headers=auth)
    assert status in (200, 204)
    assert await shown(second.id) == scanned(second.id)
    for vacancy in state.vacancies.values():
        assert await shown(vacancy.id) == scanned(vacancy.id)

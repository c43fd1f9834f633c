"""GET /vacancies and /vacancies/{id}: filters, includes, lookups."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest_sandbox import RunningSandbox
from tests.sandbox.support import call, details_params

BASE_FIELDS = [
    "id", "title", "description", "application_form_url", "job_url", "share_image_url", "status",
    "type", "expires_at", "is_remote", "location_type", "created_at",
]  # fmt: skip
OPT_IN = {
    "location",
    "department",
    "stages",
    "total_candidate_count",
    "page_content",
    "salary_indication",
}


async def test_lists_every_status_oldest_first_by_default(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    status, body = await call(sandbox_client, "GET", "/v2/vacancies?perPage=100")
    assert status == 200
    assert body["meta"]["total"] == len(sandbox_server.state.vacancies) >= 12
    assert {item["status"] for item in body["data"]} == {"public", "private", "draft", "closed"}
    created = [(item["created_at"], item["id"]) for item in body["data"]]
    assert created == sorted(created)
    for item in body["data"]:
        assert list(item) == BASE_FIELDS
        assert not OPT_IN & set(item)


@pytest.mark.parametrize("statuses", ["public", "draft", "private,public", "closed, draft"])
async def test_filter_status_takes_comma_separated_values(
    sandbox_client: Any, statuses: str
) -> None:
    wanted = {value.strip() for value in statuses.split(",")}
    status, body = await call(
        sandbox_client, "GET", f"/v2/vacancies?perPage=100&filter[status]={statuses}"
    )
    assert status == 200
    assert body["data"] and {item["status"] for item in body["data"]} == wanted


async def test_unknown_status_and_include_values_are_400(sandbox_client: Any) -> None:
    status, body = await call(sandbox_client, "GET", "/v2/vacancies?filter[status]=public,open")
    assert status == 400 and details_params(body) == ["filter.status"]
    status, body = await call(
        sandbox_client, "GET", "/v2/vacancies?include[]=location&include[]=owner"
    )
    assert status == 400 and details_params(body) == ["include"]


async def test_unknown_filter_keys_are_ignored(sandbox_client: Any) -> None:
    status, body = await call(
        sandbox_client, "GET", "/v2/vacancies?filter[colour]=blue&perPage=100"
    )
    assert status == 200 and body["meta"]["total"] >= 12


@pytest.mark.parametrize(
    "query",
    [
        "include[]=location&include[]=department&include[]=stages&include[]=total_candidate_count",
        "include=location&include=department&include=stages&include=total_candidate_count",
        "include[]=location,department,stages,total_candidate_count",
    ],
)
async def test_includes_add_their_members_in_every_accepted_syntax(
    sandbox_client: Any, sandbox_server: RunningSandbox, query: str
) -> None:
    status, body = await call(sandbox_client, "GET", f"/v2/vacancies?perPage=100&{query}")
    assert status == 200
    state = sandbox_server.state
    for item in body["data"]:
        vacancy = state.vacancies[item["id"]]
        assert {"location", "department", "stages", "total_candidate_count"} <= set(item)
        assert "page_content" not in item and "salary_indication" not in item
        assert item["stages"] == [{"name": name} for name in vacancy.stages]
        assert item["total_candidate_count"] == sum(
            1 for application in state.applications.values() if application.vacancy_id == vacancy.id
        )
        assert item["department"] == ({"name": vacancy.department} if vacancy.department else None)
    assert any(item["location"] is None for item in body["data"])
    assert any(item["location"] is not None for item in body["data"])
    assert any(item["department"] is None for item in body["data"])
    assert any(item["stages"] == [] for item in body["data"])


async def test_later_addition_includes(sandbox_client: Any) -> None:
    status, body = await call(
        sandbox_client,
        "GET",
        "/v2/vacancies?perPage=100&include[]=page_content&include[]=salaryIndication",
    )
    assert status == 200
    assert all("page_content" in item and "salary_indication" in item for item in body["data"])
    salaries = [item["salary_indication"] for item in body["data"] if item["salary_indication"]]
    assert salaries and all(isinstance(salary["salary_value"], str) for salary in salaries)


async def test_get_one_vacancy_with_and_without_includes(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    vacancy = next(v for v in sandbox_server.state.vacancies.values() if v.location and v.stages)
    status, body = await call(sandbox_client, "GET", f"/v2/vacancies/{vacancy.id}")
    assert status == 200 and list(body) == ["data"]
    assert list(body["data"]) == BASE_FIELDS
    status, body = await call(
        sandbox_client, "GET", f"/v2/vacancies/{vacancy.id}?include[]=location&include[]=stages"
    )
    assert vacancy.location is not None
    assert body["data"]["location"]["city"] == vacancy.location.city
    assert [stage["name"] for stage in body["data"]["stages"]] == vacancy.stages
    assert "department" not in body["data"]


async def test_unknown_vacancy_is_404(sandbox_client: Any) -> None:
    assert await call(sandbox_client, "GET", "/v2/vacancies/job_SnhUsAg1QwTRFIRNUfM6") == (
        404,
        {"code": 404, "error": True, "message": "Not found"},
    )

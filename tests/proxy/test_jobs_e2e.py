"""Jobs through the bridge: GET /v1/jobs and /v1/jobs/{id} against the sandbox."""

from __future__ import annotations

import pytest

from mappings.v1_models import Job
from tests.proxy.conftest import Harness


async def test_list_jobs_is_the_v1_envelope_of_every_vacancy(harness: Harness) -> None:
    async with await harness.get("/v1/jobs") as response:
        assert response.status == 200
        assert response.headers["Content-Type"] == "application/json; charset=utf-8"
        assert response.headers["X-Upstream-Calls"] == "1"
        body = await response.json()
    assert set(body) == {"data", "has_more", "page", "per_page", "total"}
    assert body["page"] == 1 and body["per_page"] == 100 and body["has_more"] is False
    assert body["total"] == len(body["data"]) >= 12
    for job in body["data"]:
        Job.model_validate(job)
        assert isinstance(job["created_at"], int)
        assert job["active_time"][0]["opened_at"] == job["created_at"]
    assert {job["status"] for job in body["data"]} == {"open", "private", "draft", "closed"}
    created = [job["created_at"] for job in body["data"]]
    assert created == sorted(created), "v2 order (oldest first) is kept"


async def test_status_open_lists_only_public_vacancies(harness: Harness) -> None:
    async with await harness.get("/v1/jobs?status=open") as response:
        body = await response.json()
    assert body["data"] and {job["status"] for job in body["data"]} == {"open"}
    async with harness.http.get(
        harness.sandbox_url("/v2/vacancies?filter[status]=public&perPage=100"),
        headers={"Authorization": "Bearer demo-v2-key"},
    ) as response:
        public = (await response.json())["data"]
    assert [job["id"] for job in body["data"]] == [v["id"] for v in public]


async def test_get_job_matches_the_vacancy(harness: Harness) -> None:
    async with harness.http.get(
        harness.sandbox_url("/v2/vacancies?include[]=location&include[]=department&perPage=100"),
        headers={"Authorization": "Bearer demo-v2-key"},
    ) as response:
        vacancies = (await response.json())["data"]
    located = next(v for v in vacancies if v.get("location") and v.get("department"))
    async with await harness.get(f"/v1/jobs/{located['id']}/") as response:  # trailing slash
        assert response.status == 200
        job = await response.json()
    assert job["id"] == located["id"]
    assert job["title"] == located["title"]
    location = located["location"]
    assert job["tmp_location"] == (location["name"] or location["city"])
    assert job["tmp_department"] == located["department"]["name"]
    assert isinstance(job["total_candidate_count"], int)


@pytest.mark.sandbox_modes
async def test_unknown_job_is_a_v1_404(harness: Harness) -> None:
    async with await harness.get("/v1/jobs/job_doesnotexist0000000") as response:
        assert response.status == 404
        body = await response.json()
    assert body == {"message": "No such job: job_doesnotexist0000000", "status": 404}


@pytest.mark.sandbox_modes
async def test_malformed_job_id_is_refused_before_any_upstream_call(harness: Harness) -> None:
    before = (await harness.stats())["requests_by_route"]
    async with await harness.get("/v1/jobs/job%20x;drop") as response:
        assert response.status == 404
        assert response.headers["X-Upstream-Calls"] == "0"
        assert (await response.json())["status"] == 404
    assert (await harness.stats())["requests_by_route"] == before


@pytest.mark.sandbox_modes
async def test_bad_pagination_names_the_parameter(harness: Harness) -> None:
    for query, param in (("per_page=500", "per_page"), ("page=0", "page"), ("limit=x", "limit")):
        async with await harness.get(f"/v1/jobs?{query}") as response:
            assert response.status == 400
            body = await response.json()
        assert body["errors"][0]["param"] == param
        assert response.headers["X-Upstream-Calls"] == "0"

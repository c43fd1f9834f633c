"""Applications through the bridge: lists, windows, reads, creates and updates."""

from __future__ import annotations

from urllib.parse import urlencode

from mappings.v1_models import Application, ApplicationSummary
from tests.proxy.conftest import FULL, READONLY, Harness


async def _v2_total(harness: Harness) -> int:
    async with harness.http.get(
        harness.sandbox_url("/v2/job-applications?perPage=1"),
        headers={"Authorization": "Bearer demo-v2-key"},
    ) as response:
        return int((await response.json())["meta"]["total"])


async def test_page_three_of_25_is_one_upstream_call(harness: Harness) -> None:
    async with await harness.get("/v1/applications?page=3&per_page=25") as response:
        assert response.status == 200
        assert response.headers["X-Upstream-Calls"] == "1"
        body = await response.json()
    total = await _v2_total(harness)
    assert len(body["data"]) == 25
    assert (body["page"], body["per_page"], body["total"]) == (3, 25, total)
    assert body["has_more"] is (75 < total)
    for item in body["data"]:
        ApplicationSummary.model_validate(item)
        assert "content" not in item and "files" not in item
        assert item["candidate"]["id"] == "ca_" + item["id"].removeprefix("ap_")
        assert isinstance(item["created_at"], int)


async def test_walking_every_page_costs_one_call_per_page(harness: Harness) -> None:
    total = await _v2_total(harness)
    seen: list[str] = []
    page = 1
    while True:
        async with await harness.get(f"/v1/applications?page={page}&per_page=40") as response:
            assert response.headers["X-Upstream-Calls"] == "1"
            body = await response.json()
        seen.extend(item["id"] for item in body["data"])
        if not body["has_more"]:
            break
        page += 1
    assert len(seen) == len(set(seen)) == total
    assert page == -(-total // 40)


async def test_misaligned_offset_window(harness: Harness) -> None:
    async with await harness.get("/v1/applications?per_page=30") as response:
        first_page = [item["id"] for item in (await response.json())["data"]]
    # Items 5..14: perPage=15 holds them in page 1, so one call.
    async with await harness.get("/v1/applications?offset=5&limit=10") as response:
        assert response.headers["X-Upstream-Calls"] == "1"
        assert [i["id"] for i in (await response.json())["data"]] == first_page[5:15]
    # Items 7..26 of 20: no page size <= 100 holds them... except 27 and up: still one call.
    async with await harness.get("/v1/applications?offset=7&limit=20") as response:
        assert response.headers["X-Upstream-Calls"] == "1"
        assert [i["id"] for i in (await response.json())["data"]] == first_page[7:27]


async def test_window_that_needs_two_calls(harness: Harness) -> None:
    async with await harness.get("/v1/applications?per_page=100&page=2") as response:
        second = [item["id"] for item in (await response.json())["data"]]
    # Items 150..249: no page of size <= 100 holds them, so two pages of 100.
    async with await harness.get("/v1/applications?offset=150&limit=100") as response:
        assert response.headers["X-Upstream-Calls"] == "2"
        items = [i["id"] for i in (await response.json())["data"]]
    assert items[:50] == second[50:]
    assert len(items) == 100 or not (await response.json())["has_more"]


async def test_job_and_stage_filters(harness: Harness) -> None:
    async with await harness.get("/v1/applications?per_page=100") as response:
        items = (await response.json())["data"]
    with_job = next(i for i in items if i["job"] and i["stage"])
    job_id, stage = with_job["job"]["id"], with_job["stage"]
    query = urlencode({"job": job_id, "stage": stage})
    async with await harness.get(f"/v1/applications?{query}") as response:
        filtered = (await response.json())["data"]
    assert filtered and all(i["job"]["id"] == job_id and i["stage"] == stage for i in filtered)


async def test_get_application_with_and_without_notes(harness: Harness) -> None:
    async with await harness.get("/v1/applications?per_page=100") as response:
        ids = [i["id"] for i in (await response.json())["data"]]
    for application_id in ids[:40]:
        async with await harness.get(f"/v1/applications/{application_id}?expand[]=notes") as r:
            detail = await r.json()
        if detail["notes"]:
            break
    Application.model_validate(detail)
    assert detail["notes"] and detail["notes"][0]["id"].startswith("no_")
    async with await harness.get(f"/v1/applications/{application_id}") as response:
        plain = await response.json()
    assert "notes" not in plain
    assert plain["content"] == detail["content"]


async def test_create_form_encoded_then_read_back(harness: Harness) -> None:
    job_id = await harness.first_id("/v1/jobs?status=open")
    form = {
        "job": job_id,
        "candidate[first_name]": "Sanne",
        "candidate[last_name]": "de Vries",
        "candidate[email]": "sanne@example.com",
        "candidate[phone_number]": "012-34567890",
        "content[education]": "MSc Design",
        "content[driving_licence]": "yes",
    }
    created = await harness.created_application(data=form)
    Application.model_validate(created)
    assert created["job"]["id"] == job_id
    assert created["candidate"]["email"] == "sanne@example.com"
    assert created["content"] == {"education": "MSc Design", "driving_licence": "yes"}
    async with await harness.get(f"/v1/applications/{created['id']}") as response:
        again = await response.json()
    assert again["content"] == created["content"]
    assert again["candidate"] == created["candidate"]


async def test_create_from_a_candidate_draft(harness: Harness) -> None:
    person = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}
    async with await harness.post("/v1/candidates", json=person) as response:
        assert response.status == 201
        draft = await response.json()
    assert draft["id"].startswith("ca_") and draft["applications"] == []
    created = await harness.created_application(
        json={"candidate": draft["id"], "content": {"experience": "10y"}}
    )
    assert created["job"] is None  # talent pool
    assert created["candidate"]["last_name"] == "Lovelace"
    assert created["content"] == {"experience": "10y"}
    async with await harness.get(f"/v1/candidates/{draft['id']}") as response:
        assert (await response.json())["applications"] == [created["id"]]


async def test_validation_errors_name_the_v1_fields(harness: Harness) -> None:
    person = {"candidate[first_name]": "A", "candidate[last_name]": "B"}
    bad_email = {**person, "candidate[email]": "not-an-email"}
    async with await harness.post("/v1/applications", data=bad_email) as response:
        assert response.status == 400
        body = await response.json()
    assert body["status"] == 400
    assert [e["param"] for e in body["errors"]] == ["candidate[email]"]
    unknown_job = {**person, "candidate[email]": "a@b.co", "job_id": "job_doesnotexist0000000"}
    async with await harness.post("/v1/applications", data=unknown_job) as response:
        assert response.status == 400
        body = await response.json()
    assert [e["param"] for e in body["errors"]] == ["job_id"]
    assert "vacancy_id" not in body["errors"][0]["message"]


async def test_missing_candidate_is_refused_without_an_upstream_call(harness: Harness) -> None:
    async with await harness.post("/v1/applications", data={"job": "job_x"}) as response:
        assert response.status == 400
        assert response.headers["X-Upstream-Calls"] == "0"
        assert (await response.json())["errors"][0]["param"] == "candidate"


async def test_full_object_update_clears_nothing(harness: Harness) -> None:
    async with await harness.get("/v1/applications?per_page=100") as response:
        items = (await response.json())["data"]
    target = next(i for i in items if i["job"] and i["stage"])
    async with await harness.get(f"/v1/applications/{target['id']}") as response:
        before = await response.json()
    resent = dict(before)
    resent["content"] = {**before["content"], "pronouns": "they/them"}
    resent["candidate"] = {**before["candidate"], "city": "Utrecht", "phone_number": None}
    async with harness.http.put(
        harness.url(f"/v1/applications/{target['id']}"), json=resent, auth=READONLY
    ) as response:
        assert response.status == 403
        assert "job-applications:write" in (await response.json())["message"]
    async with harness.http.put(
        harness.url(f"/v1/applications/{target['id']}"),
        json=resent,
        auth=FULL,
    ) as response:
        assert response.status == 200, await response.text()
        after = await response.json()
    assert after["content"] == {**before["content"], "pronouns": "they/them"}
    assert after["candidate"]["city"] == "Utrecht"
    assert after["candidate"]["phone_number"] == before["candidate"]["phone_number"]
    assert after["stage"] == before["stage"] and after["job"]["id"] == before["job"]["id"]


async def test_unknown_stage_is_a_400_on_stage(harness: Harness) -> None:
    async with await harness.get("/v1/applications?per_page=100") as response:
        target = next(i for i in (await response.json())["data"] if i["job"])
    async with harness.http.patch(
        harness.url(f"/v1/applications/{target['id']}"),
        data={"stage": "No Such Stage"},
        auth=FULL,
    ) as response:
        assert response.status == 400
        assert (await response.json())["errors"][0]["param"] == "stage"

"""Every endpoint against any answer the spec allows; confirmed writes never fail.

Each walk runs twice (``sandbox_modes``): against the sandbox as it always answers, and
against its seeded sparse mode, where v2 sends only ``data`` and the ids and leaves out or
nulls the rest. Either way no read of an existing object is a 5xx, every write the
sandbox confirmed is a 2xx, and every v1 body is what ``/v1/openapi.json`` declares.
Then the bridge meets answers no spec allows, after a write that happened (a sandbox
fault), and a store that is down.
"""

from __future__ import annotations

import asyncio
from collections.abc import MutableMapping, Sequence
from typing import Any

import aiohttp
import pytest
from structlog.testing import capture_logs

from tests.proxy.conftest import Harness
from tests.store.own_redis import OwnRedis, own_redis
from tests.v1_schema import v1_response_violations

PERSON = {
    "candidate[first_name]": "Sparse",
    "candidate[last_name]": "Walker",
    "candidate[email]": "sparse.walker@example.com",
}


async def _call(harness: Harness, method: str, path: str, expected: int, **kw: Any) -> Any:
    """One v1 call: its status is ``expected`` and its body what the document declares."""
    async with harness.http.request(
        method, harness.url(path), auth=aiohttp.BasicAuth("demo-v1-key", ""), **kw
    ) as response:
        body = await response.json()
        assert response.status == expected, (harness.mode, method, path, body)
    violations = v1_response_violations(method, path, expected, body)
    assert not violations, (harness.mode, method, path, violations, body)
    return body


def _open_vacancy(harness: Harness) -> str:
    # From the sandbox's world, not from an answer: a sparse job may not show its status.
    return next(v.id for v in harness.sandbox.state.vacancies.values() if v.status == "public")


@pytest.mark.sandbox_modes
async def test_every_read_answers_and_conforms(harness: Harness) -> None:
    h = harness
    jobs = await _call(h, "GET", "/v1/jobs?per_page=20", 200)
    await _call(h, "GET", f"/v1/jobs/{jobs['data'][0]['id']}", 200)
    listed = await _call(h, "GET", "/v1/candidates?per_page=10", 200)
    await _call(h, "GET", f"/v1/candidates/{listed['data'][0]['id']}", 200)
    applications = await _call(h, "GET", "/v1/applications?offset=3&limit=30", 200)
    for item in applications["data"][:5]:
        await _call(h, "GET", f"/v1/applications/{item['id']}?expand[]=notes", 200)
        await _call(h, "GET", f"/v1/applications/{item['id']}/notes", 200)
        await _call(h, "GET", f"/v1/applications/{item['id']}/files", 200)
    candidate = applications["data"][0]["candidate"]["id"]
    await _call(h, "GET", f"/v1/candidates/{candidate}/notes", 200)
    await _call(h, "GET", f"/v1/candidates/{candidate}/files", 200)


@pytest.mark.sandbox_modes
async def test_walking_every_page_sees_every_application_once(harness: Harness) -> None:
    # Without meta the envelope counts what the pages show: the walk still ends, whole.
    seen: list[str] = []
    page = 1
    while True:
        body = await _call(harness, "GET", f"/v1/applications?page={page}&per_page=90", 200)
        seen.extend(item["id"] for item in body["data"])
        if not body["has_more"]:
            break
        page += 1
        assert page < 50
    assert sorted(seen) == sorted(harness.sandbox.state.applications)


@pytest.mark.sandbox_modes
async def test_every_write_the_sandbox_confirmed_is_a_success(harness: Harness) -> None:
    h = harness
    applications = h.sandbox.state.applications
    before = len(applications)
    created = await _call(
        h, "POST", "/v1/applications", 201, data={**PERSON, "job": _open_vacancy(h)}
    )
    assert created["id"] in applications and len(applications) == before + 1
    path = f"/v1/applications/{created['id']}"
    for method in ("PUT", "POST", "PATCH"):
        await _call(h, method, path, 200, data={"content[education]": f"MSc via {method}"})
    assert applications[created["id"]].education == "MSc via PATCH"
    note = await _call(h, "POST", f"{path}/notes", 201, data={"body": "Sparse note"})
    notes = await _call(h, "GET", f"{path}/notes", 200)
    assert note["id"] in [n["id"] for n in notes["data"]] or h.mode == "sparse"
    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4 sparse", filename="sparse.pdf")
    uploaded = await _call(h, "POST", f"{path}/files", 201, data=form)
    assert uploaded["name"] == "sparse.pdf"  # v2 may leave it out: the uploaded name stands in
    draft = await _call(h, "POST", "/v1/candidates", 201, data={
        "first_name": "Draft", "last_name": "Person", "email": "draft@example.com"
    })  # fmt: skip
    linked = await _call(h, "POST", "/v1/applications", 201, data={"candidate": draft["id"]})
    again = await _call(h, "GET", f"/v1/candidates/{draft['id']}", 200)
    assert again["applications"] == [linked["id"]]
    candidate = created["candidate"]["id"]
    await _call(h, "POST", f"/v1/candidates/{candidate}/notes", 201, data={"body": "Via ca_"})
    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4 ca", filename="ca.pdf")
    await _call(h, "POST", f"/v1/candidates/{candidate}/files", 201, data=form)
    assert len(applications) == before + 2


def _degraded(logs: Sequence[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [line for line in logs if line["event"] == "write_answer_degraded"]


@pytest.mark.parametrize(
    "answer",
    [None, {"data": {}}, {"data": {"id": 42, "personal_info": "x"}}],
    ids=["not json", "no id", "wrong types"],
)
async def test_a_create_whose_answer_is_unreadable_is_one_201(
    harness: Harness, answer: Any
) -> None:
    applications = harness.sandbox.state.applications
    before = set(applications)
    fault: dict[str, Any] = {"method": "POST", "path": "^/v2/job-applications$"}
    if answer is not None:
        fault["body"] = answer
    await harness.faults(action="unreadable_after_write", **fault)
    with capture_logs() as logs:
        body = await _call(
            harness, "POST", "/v1/applications", 201, data={**PERSON, "job": _open_vacancy(harness)}
        )
    new = set(applications) - before
    assert len(new) == 1  # exactly one object: the client has no reason to retry
    assert body["id"] is None and body["candidate"]["email"] == "sparse.walker@example.com"
    [line] = _degraded(logs)
    assert "data.id" in line["missing"]
    assert line["route"] == "POST /v1/applications" and line["key_label"] == "careers-site"
    assert line["request_id"]
    assert "demo-v1-key" not in str(line) and "demo-v2-key" not in str(line)


async def test_writes_on_an_existing_object_keep_their_ids_when_unreadable(
    harness: Harness,
) -> None:
    application_id = next(iter(harness.sandbox.state.applications))
    path = f"/v1/applications/{application_id}"
    await harness.faults(action="unreadable_after_write", method="PATCH", path="^/v2/job-app")
    await harness.faults(action="unreadable_after_write", method="POST", path="/notes$")
    await harness.faults(action="unreadable_after_write", method="POST", path="/files$")
    with capture_logs() as logs:
        updated = await _call(harness, "PATCH", path, 200, data={"content[education]": "PhD"})
        note = await _call(harness, "POST", f"{path}/notes", 201, data={"body": "Kept"})
        form = aiohttp.FormData()
        form.add_field("file", b"%PDF-1.4 kept", filename="kept.pdf")
        uploaded = await _call(harness, "POST", f"{path}/files", 201, data=form)
    assert updated["id"] == application_id and updated["content"]["education"] == "PhD"
    assert (note["body"], note["name"]) == ("Kept", "API v1")
    # v2's answer had no created_at: the note is answered as listed, with the listing's id.
    listed = await _call(harness, "GET", f"{path}/notes", 200)
    assert listed["data"][-1] == note
    assert uploaded["name"] == "kept.pdf"
    application = harness.sandbox.state.applications[application_id]
    assert application.education == "PhD"
    assert [n.note for n in application.notes].count("Kept") == 1
    assert [f.name for f in application.files].count("kept.pdf") == 1
    assert [line["route"] for line in _degraded(logs)] == [
        "PATCH /v1/applications/{id}",
        "POST /v1/applications/{id}/notes",
        "POST /v1/applications/{id}/files",
    ]
    async with await harness.get("/metrics", auth=None) as response:
        metrics = await response.text()
    route = 'route="POST /v1/applications/{id}/notes"'
    assert f"homerun_bridge_write_answers_degraded_total{{{route}}} 1.0" in metrics


async def test_a_failed_follow_up_read_is_logged_not_answered(harness: Harness) -> None:
    # Enough 503s for every retry of the one read: it fails, the create stands.
    await harness.faults(action="status", status=503, method="GET", path="^/v2/vacancies/", count=9)
    with capture_logs() as logs:
        body = await _call(
            harness, "POST", "/v1/applications", 201, data={**PERSON, "job": _open_vacancy(harness)}
        )
    assert body["job"]["id"] == _open_vacancy(harness)
    [line] = _degraded(logs)
    assert line["missing"] == ["vacancy (follow-up read)"]


# --- the shared store is down -------------------------------------------------------


@pytest.fixture
def killed_redis() -> Any:
    with own_redis() as server:
        yield server


async def _draft_in_redis(
    make_harness: Any, server: OwnRedis, first_name: str, last_name: str
) -> tuple[Harness, dict[str, Any]]:
    """A bridge on ``server`` (store timeout 0.5 s) and a draft candidate it keeps there."""
    harness: Harness = await make_harness(store_url=server.url, store_timeout_seconds=0.5)
    email = f"{first_name.lower()}@example.com"
    fields = {"first_name": first_name, "last_name": last_name, "email": email}
    draft = await _call(harness, "POST", "/v1/candidates", 201, data=fields)
    return harness, draft


async def test_with_the_store_down_candidates_read_through_to_v2(
    make_harness: Any, killed_redis: OwnRedis
) -> None:
    harness, draft = await _draft_in_redis(make_harness, killed_redis, "Kept", "Draft")
    application_id = next(iter(harness.sandbox.state.applications))
    candidate_id = "ca_" + application_id.removeprefix("ap_")
    killed_redis.kill()
    # A candidate of an application: its application answers for it.
    person = await _call(harness, "GET", f"/v1/candidates/{candidate_id}", 200)
    assert person["applications"] == [application_id]
    await _call(harness, "GET", f"/v1/candidates/{candidate_id}/notes", 200)
    # A draft (no such application): nobody can tell, so a clear 503, not a 404.
    body = await _call(harness, "GET", f"/v1/candidates/{draft['id']}", 503)
    assert "store is unavailable" in body["message"] and "draft" in body["message"]
    await _call(harness, "GET", f"/v1/candidates/{draft['id']}/files", 503)
    # Creating a draft needs the store: 503.
    await _call(harness, "POST", "/v1/candidates", 503, data={
        "first_name": "No", "last_name": "Store", "email": "no@example.com"
    })  # fmt: skip
    # Linking an application to an existing candidate: read through, created once.
    before = len(harness.sandbox.state.applications)
    created = await _call(
        harness, "POST", "/v1/applications", 201, data={"candidate": candidate_id}
    )
    assert created["candidate"]["first_name"] == person["first_name"]
    assert len(harness.sandbox.state.applications) == before + 1


async def test_a_draft_link_the_store_cannot_keep_is_logged_not_failed(
    make_harness: Any, killed_redis: OwnRedis
) -> None:
    harness, draft = await _draft_in_redis(make_harness, killed_redis, "Link", "Lost")
    # The create waits in the sandbox; the store dies meanwhile, after the draft was read.
    await harness.faults(
        action="latency", latency_ms=1500, method="POST", path="^/v2/job-applications$"
    )
    stats = harness.sandbox.state.stats
    before = set(harness.sandbox.state.applications)
    with capture_logs() as logs:
        create = asyncio.create_task(
            _call(harness, "POST", "/v1/applications", 201, data={"candidate": draft["id"]})
        )
        for _ in range(500):  # the fault is taken when the create reaches the sandbox
            if stats.faults_injected:
                break
            await asyncio.sleep(0.01)
        assert stats.faults_injected == 1
        killed_redis.kill()
        created = await create
    [new] = set(harness.sandbox.state.applications) - before
    assert created["id"] == new and created["candidate"]["first_name"] == "Link"
    [line] = _degraded(logs)
    assert line["missing"] == ["draft link (store unavailable)"]

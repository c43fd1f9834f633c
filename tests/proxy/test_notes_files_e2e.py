"""Notes and files through the bridge, and the candidate aliases."""

from __future__ import annotations

import aiohttp
import pytest

from mappings.v1_models import File, Note
from tests.proxy.conftest import Harness


async def _some_application(harness: Harness) -> str:
    async with await harness.get("/v1/applications?per_page=5") as response:
        return str((await response.json())["data"][2]["id"])


async def test_note_create_form_encoded_then_listed(harness: Harness) -> None:
    application_id = await _some_application(harness)
    async with await harness.get(f"/v1/applications/{application_id}/notes") as response:
        before = await response.json()
    async with await harness.post(
        f"/v1/applications/{application_id}/notes",
        data={"body": "Strong portfolio", "name": "Ted", "is_sensitive": "1"},
    ) as response:
        assert response.status == 201
        note = await response.json()
    Note.model_validate(note)
    assert (note["body"], note["name"], note["is_sensitive"]) == ("Strong portfolio", "Ted", True)
    async with await harness.get(f"/v1/applications/{application_id}/notes") as response:
        after = await response.json()
    assert after["total"] == before["total"] + 1
    assert after["data"][-1]["body"] == "Strong portfolio"
    assert after["data"][-1]["id"] == note["id"]


@pytest.mark.sandbox_modes
async def test_note_without_body_is_400(harness: Harness) -> None:
    application_id = await _some_application(harness)
    async with await harness.post(
        f"/v1/applications/{application_id}/notes", json={"name": "Ted"}
    ) as response:
        assert response.status == 400
        assert (await response.json())["errors"] == [{"param": "body", "message": "is required"}]


async def test_upload_defaults_to_resume_and_is_listed_and_downloadable(harness: Harness) -> None:
    application_id = await _some_application(harness)
    form = aiohttp.FormData()
    form.add_field("file", b"%PDF-1.4 hello", filename="cv.pdf", content_type="application/pdf")
    async with await harness.post(
        f"/v1/applications/{application_id}/files", data=form
    ) as response:
        assert response.status == 201, await response.text()
        uploaded = await response.json()
    File.model_validate(uploaded)
    assert uploaded["name"] == "cv.pdf" and uploaded["type"] == "resume"
    async with await harness.get(f"/v1/applications/{application_id}/files") as response:
        listed = (await response.json())["data"]
    mine = [f for f in listed if f["name"] == "cv.pdf"]
    assert mine and mine[-1]["type"] == "resume"
    async with harness.http.get(mine[-1]["url"]) as response:
        assert await response.read() == b"%PDF-1.4 hello"


async def test_upload_type_assignment_and_bad_type(harness: Harness) -> None:
    application_id = await _some_application(harness)
    form = aiohttp.FormData()
    form.add_field("type", "assignment")
    form.add_field("file", b"answers", filename="task.txt")
    async with await harness.post(f"/v1/applications/{application_id}/files", data=form) as r:
        assert r.status == 201
        assert (await r.json())["type"] == "assignment"
    bad = aiohttp.FormData()
    bad.add_field("type", "photo")
    bad.add_field("file", b"x", filename="x.bin")
    async with await harness.post(f"/v1/applications/{application_id}/files", data=bad) as r:
        assert r.status == 400
        assert (await r.json())["errors"][0]["param"] == "type"


async def test_upload_without_file_part_is_400(harness: Harness) -> None:
    application_id = await _some_application(harness)
    form = aiohttp.FormData()
    form.add_field("type", "resume")
    form.add_field("other", "x")
    async with await harness.post(f"/v1/applications/{application_id}/files", data=form) as r:
        assert r.status == 400
        assert (await r.json())["errors"][0]["param"] == "file"


async def test_delete_file_is_gone(harness: Harness) -> None:
    application_id = await _some_application(harness)
    async with harness.http.delete(
        harness.url(f"/v1/applications/{application_id}/files/fi_0123456789abcdef0123"),
        auth=aiohttp.BasicAuth("demo-v1-key", ""),
    ) as response:
        assert response.status == 410
        assert "Homerun app" in (await response.json())["message"]


async def test_candidate_aliases_reach_the_application(harness: Harness) -> None:
    application_id = await _some_application(harness)
    candidate_id = "ca_" + application_id.removeprefix("ap_")
    async with await harness.get(f"/v1/candidates/{candidate_id}") as response:
        candidate = await response.json()
    assert candidate["applications"] == [application_id]
    async with await harness.get(f"/v1/candidates/{candidate_id}/notes") as r1:
        async with await harness.get(f"/v1/applications/{application_id}/notes") as r2:
            assert await r1.json() == await r2.json()
    async with await harness.get(f"/v1/candidates/{candidate_id}/files") as response:
        assert response.status == 200
        assert "data" in await response.json()


async def test_unknown_candidate_is_404(harness: Harness) -> None:
    async with await harness.get("/v1/candidates/ca_doesnotexist00000000") as response:
        assert response.status == 404
        assert (await response.json())["message"] == "No such candidate: ca_doesnotexist00000000"

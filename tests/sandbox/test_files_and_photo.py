"""Uploads (multipart, any part order, size limits), temporary download URLs, photos."""

from __future__ import annotations

from typing import Any

import pytest
from aiohttp import FormData, MultipartWriter, payload

from tests.conftest_sandbox import RunningSandbox, StartSandbox
from tests.sandbox.support import FakeClock, bearer, call, details_params, file_form, status_of

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def some_application_id(sandbox: RunningSandbox) -> str:
    return next(item.id for item in sandbox.state.applications.values() if not item.files)


@pytest.mark.parametrize("file_first", [False, True], ids=["type-then-file", "file-then-type"])
async def test_upload_in_either_part_order_then_download(
    sandbox_client: Any, sandbox_server: RunningSandbox, aiohttp_client: Any, file_first: bool
) -> None:
    application_id = some_application_id(sandbox_server)
    content = b"%PDF-1.4 resume " + bytes(range(256)) * 40
    form = file_form(file_first=file_first, content=content)
    status, body = await call(
        sandbox_client, "POST", f"/v2/job-applications/{application_id}/files", data=form
    )
    assert status == 200
    assert body["data"]["name"] == "my-resume.pdf" and body["data"]["type"] == "resume"
    url = body["data"]["temporary_download_url"]
    assert url.startswith(f"{sandbox_server.base_url}/files/")

    status, detail = await call(sandbox_client, "GET", f"/v2/job-applications/{application_id}")
    assert [(f["name"], f["type"]) for f in detail["data"]["files"]] == [
        ("my-resume.pdf", "resume")
    ]

    anonymous = await aiohttp_client(sandbox_server.server)  # pre-signed: fetched without a key
    for download_url in (url, detail["data"]["files"][0]["temporary_download_url"]):
        async with anonymous.get(download_url.removeprefix(sandbox_server.base_url)) as response:
            assert response.status == 200
            assert await response.read() == content
            assert response.headers["Content-Type"] == "application/pdf"


async def test_streamed_multipart_with_assignment_type(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    """The bridge forwards parts as a stream, file first, with no Content-Length per part."""
    application_id = some_application_id(sandbox_server)

    async def chunks() -> Any:
        for index in range(5):
            yield f"chunk {index};".encode()

    with MultipartWriter("form-data") as writer:
        part = writer.append(
            payload.AsyncIterablePayload(chunks()), {"Content-Type": "application/zip"}
        )
        # Sent raw, as browsers do (aiohttp would percent-encode it, and PHP does not decode).
        part.set_content_disposition(
            "form-data", quote_fields=False, name="file", filename="C:\\fakepath\\case.zip"
        )
        type_part = writer.append("assignment")
        type_part.set_content_disposition("form-data", name="type")
    status, body = await call(
        sandbox_client, "POST", f"/v2/job-applications/{application_id}/files", data=writer
    )
    assert status == 200
    assert body["data"]["name"] == "case.zip" and body["data"]["type"] == "assignment"
    stored = sandbox_server.state.applications[application_id].files[-1]
    assert stored.content == b"".join(f"chunk {index};".encode() for index in range(5))


async def test_each_rendering_issues_a_new_url_and_urls_expire(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    clock = FakeClock()
    sandbox = await start_sandbox(clock=clock, file_url_ttl_seconds=300)
    client = await aiohttp_client(sandbox.server, headers=bearer("demo-v2-key"))
    application = next(item for item in sandbox.state.applications.values() if item.files)
    path = f"/v2/job-applications/{application.id}"
    first = (await call(client, "GET", path))[1]["data"]["files"][0]["temporary_download_url"]
    clock.advance(200)
    second = (await call(client, "GET", path))[1]["data"]["files"][0]["temporary_download_url"]
    assert first != second
    anonymous = await aiohttp_client(sandbox.server)
    first_path = first.removeprefix(sandbox.base_url)
    second_path = second.removeprefix(sandbox.base_url)
    async with anonymous.get(first_path) as response:
        assert response.status == 200 and await response.read() == application.files[0].content
    clock.advance(101)  # first is now 301 s old, second 101 s
    async with anonymous.get(first_path) as response:
        assert response.status == 410
    async with anonymous.get(second_path) as response:
        assert response.status == 200
    async with anonymous.get("/files/never-issued") as response:
        assert response.status == 404
    # Deleting the application makes its links dead at once.
    await call(client, "DELETE", path)
    async with anonymous.get(second_path) as response:
        assert response.status == 404


@pytest.mark.parametrize(
    ("form_builder", "params"),
    [
        (lambda: file_form(file_first=True, file_type=None), ["type"]),
        (lambda: file_form(file_first=False, file_type="portfolio"), ["type"]),
        (lambda: FormData({"type": "resume"}), ["file"]),
        (lambda: FormData({"type": "resume", "file": "just text, not a file"}), ["file"]),
        (lambda: FormData({"other": "x"}), ["type", "file"]),
    ],
)
async def test_upload_validation(
    sandbox_client: Any, sandbox_server: RunningSandbox, form_builder: Any, params: list[str]
) -> None:
    form = form_builder()
    if not any(field[0].get("filename") for field in form._fields):
        form._is_multipart = True  # send multipart even without a file part
    status, body = await call(
        sandbox_client,
        "POST",
        f"/v2/job-applications/{some_application_id(sandbox_server)}/files",
        data=form,
    )
    assert status == 400 and details_params(body) == params


async def test_upload_that_is_not_multipart_is_400(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    path = f"/v2/job-applications/{some_application_id(sandbox_server)}/files"
    status, body = await call(sandbox_client, "POST", path, json={"type": "resume", "file": "x"})
    assert status == 400 and details_params(body) == ["file"]
    status, body = await call(
        sandbox_client,
        "POST",
        path,
        data=b"garbage",
        headers={"Content-Type": "multipart/form-data; boundary=zzz"},
    )
    assert status == 400 and details_params(body) == ["file"]


async def test_upload_to_unknown_application_is_404_after_validation(sandbox_client: Any) -> None:
    path = "/v2/job-applications/ap_missing/files"
    status, body = await call(sandbox_client, "POST", path, data=file_form(file_first=False))
    assert (status, body["code"]) == (404, 404)
    status, body = await call(
        sandbox_client, "POST", path, data=file_form(file_first=False, file_type="bad")
    )
    assert status == 400


async def test_file_size_limit_stops_reading(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    sandbox = await start_sandbox(max_file_bytes=1000)
    client = await aiohttp_client(sandbox.server, headers=bearer("demo-v2-key"))
    application_id = some_application_id(sandbox)
    path = f"/v2/job-applications/{application_id}/files"
    produced: list[int] = []

    async def endless_upload() -> Any:
        # Far more than the limit; the answer must come long before the client is done.
        for _ in range(2000):
            produced.append(64 * 1024)
            yield b"x" * (64 * 1024)

    with MultipartWriter("form-data") as writer:
        writer.append("resume").set_content_disposition("form-data", name="type")
        part = writer.append(payload.AsyncIterablePayload(endless_upload()))
        part.set_content_disposition("form-data", name="file", filename="huge.pdf")
    async with client.post(path, data=writer) as response:
        assert response.status == 400
        body = await response.json()
    assert details_params(body) == ["file"]
    assert sum(produced) < 2000 * 64 * 1024
    assert sandbox.state.applications[application_id].files == []
    exact = file_form(file_first=False, content=b"y" * 1000)
    assert await status_of(client, "POST", path, data=exact) == 200


async def test_default_limit_is_25_megabytes(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    path = f"/v2/job-applications/{some_application_id(sandbox_server)}/files"
    status, body = await call(
        sandbox_client,
        "POST",
        path,
        data=file_form(file_first=False, content=b"z" * (25 * 1024 * 1024 + 1)),
    )
    assert status == 400 and body["details"][0]["message"].endswith("25600 kilobytes.")


async def test_photo_upload_replaces_the_photo(
    sandbox_client: Any, sandbox_server: RunningSandbox, aiohttp_client: Any
) -> None:
    application_id = some_application_id(sandbox_server)
    path = f"/v2/job-applications/{application_id}/photo"
    anonymous = await aiohttp_client(sandbox_server.server)
    urls = []
    for name, content in (("me.png", PNG), ("me-again.JPG", b"\xff\xd8\xff" + b"1" * 32)):
        form = FormData()
        form.add_field("file", content, filename=name, content_type="application/octet-stream")
        status, body = await call(sandbox_client, "POST", path, data=form)
        assert status == 200
        assert (
            list(body["data"])[-1] == "vacancy_id" and "files" not in body["data"]
        )  # short schema
        url = body["data"]["personal_info"]["photo"]
        assert url.startswith(f"{sandbox_server.base_url}/photos/")
        async with anonymous.get(url.removeprefix(sandbox_server.base_url)) as response:
            assert response.status == 200 and await response.read() == content
        urls.append(url)
    async with anonymous.get(urls[0].removeprefix(sandbox_server.base_url)) as response:
        assert response.status == 404  # replaced
    status, detail = await call(sandbox_client, "GET", f"/v2/job-applications/{application_id}")
    assert detail["data"]["personal_info"]["photo"] == urls[1]


async def test_photo_accepts_image_content_type_without_extension(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    form = FormData()
    form.add_field("file", b"GIF89a....", filename="avatar", content_type="image/gif")
    path = f"/v2/job-applications/{some_application_id(sandbox_server)}/photo"
    assert await status_of(sandbox_client, "POST", path, data=form) == 200


async def test_photo_validation(start_sandbox: StartSandbox, aiohttp_client: Any) -> None:
    sandbox = await start_sandbox(max_photo_bytes=100)
    client = await aiohttp_client(sandbox.server, headers=bearer("demo-v2-key"))
    path = f"/v2/job-applications/{some_application_id(sandbox)}/photo"
    form = FormData()
    form.add_field("file", b"%PDF", filename="cv.pdf", content_type="application/pdf")
    status, body = await call(client, "POST", path, data=form)
    assert status == 400 and "jpg, png, gif" in body["details"][0]["message"]
    form = FormData()
    form.add_field("file", PNG * 10, filename="big.png", content_type="image/png")
    status, body = await call(client, "POST", path, data=form)
    assert status == 400 and details_params(body) == ["file"]
    status, body = await call(client, "POST", path, data=FormData({"note": "no file"}))
    assert status == 400 and details_params(body) == ["file"]
    form = FormData()
    form.add_field("file", PNG, filename="me.png", content_type="image/png")
    assert (
        await status_of(client, "POST", "/v2/job-applications/ap_missing/photo", data=form) == 404
    )


def test_download_grants_prune_expired_ones_without_rescanning_on_every_issue() -> None:
    """Thousands of still-valid grants (a sync listing every file) must not make each new
    grant walk all of them; expired ones are still forgotten."""
    from sandbox.files import (
        EXPIRED_GRANT_MEMORY_SECONDS,
        PRUNE_THRESHOLD,
        DownloadGrants,
        GrantStatus,
    )
    from sandbox.records import StoredFile

    now = [0.0]
    grants = DownloadGrants(300, lambda: now[0])
    walked = 0
    prune = grants._prune

    def counting_prune() -> None:
        nonlocal walked
        walked += len(grants._grants)
        prune()

    grants._prune = counting_prune  # type: ignore[method-assign]
    stored = StoredFile("cv.pdf", "resume", b"%PDF", "application/pdf")
    first = grants.issue("ap_1", stored)
    for _ in range(PRUNE_THRESHOLD * 4):
        grants.issue("ap_1", stored)
    # Doubling thresholds: the walks add up to a small multiple of the grants issued.
    assert walked <= PRUNE_THRESHOLD * 4 * 3
    now[0] = 300 + EXPIRED_GRANT_MEMORY_SECONDS + 1
    for _ in range(PRUNE_THRESHOLD * 4):
        grants.issue("ap_1", stored)
    assert grants.lookup(first)[0] is GrantStatus.UNKNOWN  # forgotten once long expired

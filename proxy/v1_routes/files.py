"""Files: the files of a v2 job application, by application id or by candidate id.
v2 cannot delete a file: the delete route answers 410."""

from __future__ import annotations

import time
from http import HTTPStatus

from aiohttp import web

from mappings import applications, files
from mappings.errors import Gone, V1Error
from mappings.v2_models import File, OneApplication
from proxy.calls import fetch, log_degraded, write
from proxy.candidates import on_path_candidate
from proxy.paging import whole_list_answer, window_of
from proxy.state import BRIDGE, json_response
from proxy.uploads import open_upload
from proxy.v1_input import path_id


async def _list_files(request: web.Request, application_id: str, what: str) -> web.Response:
    window = await window_of(request)
    found = await fetch(
        request,
        applications.get_application_request(application_id, with_vacancy=False),
        OneApplication,
        not_found=f"No such {what}",
    )
    listed = files.files_to_v1(application_id, found.data.files or [], int(time.time()))
    return await whole_list_answer(request, window, listed)


async def _upload_file(request: web.Request, application_id: str, what: str) -> web.Response:
    upload = await open_upload(request, request.app[BRIDGE].settings.client_body_timeout_seconds)
    try:
        created = await write(
            request,
            files.upload_request(application_id),
            File,
            lambda: {"name": upload.file_name},
            not_found=f"No such {what}",
            data=upload.body(),
            headers={"Content-Type": upload.content_type},
        )
    except V1Error:
        if upload.failure is not None:
            raise upload.failure from None
        raise
    log_degraded(request, created.missing)
    return json_response(
        files.file_to_v1(application_id, created.data, 0, int(time.time())), HTTPStatus.CREATED
    )


async def list_application_files(request: web.Request) -> web.Response:
    return await _list_files(request, path_id(request, "id", "application"), "application")


async def upload_application_file(request: web.Request) -> web.Response:
    return await _upload_file(request, path_id(request, "id", "application"), "application")


async def list_candidate_files(request: web.Request) -> web.Response:
    return await on_path_candidate(request, lambda ap: _list_files(request, ap, "candidate"))


async def upload_candidate_file(request: web.Request) -> web.Response:
    return await on_path_candidate(request, lambda ap: _upload_file(request, ap, "candidate"))


async def delete_file(request: web.Request) -> web.Response:
    path_id(request, "id", "application")
    path_id(request, "file_id", "file")
    raise Gone(files.DELETE_GONE_MESSAGE)

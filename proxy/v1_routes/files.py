"""Files: the files of a v2 job application, by application id or by candidate id.
v2 cannot delete a file: the delete route answers 410.

A v2 file has no id; the bridge's id hashes its name and its position among the
application's files of that name (``mappings.files``). v2's answer to an upload cannot
tell whether the name repeats (files also arrive through the careers page and the app,
never seen by the bridge), so an upload costs one v2 read more: the application's files,
whose listing gives the id answered. Uploads to one application through this process take
turns (the upload and that read): two at once of one name both read the files after both
were stored, and both answered the newest (the name is known only once the body streams,
so the turn is the application's)."""

from __future__ import annotations

import asyncio
import time
import weakref
from functools import partial
from http import HTTPStatus
from typing import Any, Final

from aiohttp import web

from mappings import applications, files
from mappings.errors import Gone, V1Error
from mappings.v2_models import File, OneApplication
from proxy.calls import fetch, log_degraded, write
from proxy.candidates import on_path_application, read_after_write
from proxy.context import context_of
from proxy.paging import whole_list_answer, window_of
from proxy.ratelimit import key_id
from proxy.state import BRIDGE, json_response
from proxy.uploads import UploadStream, open_upload
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


# One lock per (v2 key, application) with an upload under way; gone once nobody holds it.
_turns: Final[weakref.WeakValueDictionary[tuple[str, str], asyncio.Lock]] = (
    weakref.WeakValueDictionary()
)


def _turn_of(request: web.Request, application_id: str) -> asyncio.Lock:
    """The lock uploads to this application (for this key) take turns on."""
    principal = context_of(request).principal
    assert principal is not None
    key = (key_id(principal.v2_key), application_id)
    lock = _turns.get(key)
    if lock is None:
        lock = _turns[key] = asyncio.Lock()
    return lock


async def _upload_file(request: web.Request, application_id: str, what: str) -> web.Response:
    upload = await open_upload(request, request.app[BRIDGE].settings.client_body_timeout_seconds)
    async with _turn_of(request, application_id):
        return await _upload_in_turn(request, application_id, what, upload)


async def _upload_in_turn(
    request: web.Request, application_id: str, what: str, upload: UploadStream
) -> web.Response:
    """The upload and the read that finds its listed id, in this application's turn."""
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
    missing = list(created.missing)
    issued_at = int(time.time())
    uploaded = files.file_to_v1(application_id, created.data, 0, issued_at)
    uploaded["id"] = await _listed_id(request, application_id, uploaded, missing, issued_at)
    log_degraded(request, missing)
    return json_response(uploaded, HTTPStatus.CREATED)


async def _listed_id(
    request: web.Request,
    application_id: str,
    uploaded: dict[str, Any],
    missing: list[str],
    issued_at: int,
) -> str:
    """The id the files listing gives the file just uploaded (the answer keeps the rest:
    the name uploaded, v2's link); the id of the name's first file if that read fails."""
    found = await read_after_write(request, application_id, with_notes=False)
    listed = files.listed_upload(
        files.files_to_v1(application_id, found.files or [], issued_at) if found else [],
        uploaded["name"],
    )
    if listed is None:
        missing.append("file id (follow-up read)")
        return str(uploaded["id"])
    return str(listed["id"])


async def list_files(request: web.Request) -> web.Response:
    """The files of the path's application or candidate."""
    return await on_path_application(request, partial(_list_files, request))


async def upload_file(request: web.Request) -> web.Response:
    """A file uploaded to the path's application or candidate."""
    return await on_path_application(request, partial(_upload_file, request))


async def delete_file(request: web.Request) -> web.Response:
    path_id(request, "id", "application")
    path_id(request, "file_id", "file")
    raise Gone(files.DELETE_GONE_MESSAGE)

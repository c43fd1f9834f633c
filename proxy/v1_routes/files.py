"""Files: the files of a v2 job application, by application id or by candidate id.
v2 cannot delete a file: the delete route answers 410.

A v2 file has no id; the bridge's id hashes its name and its position among the
application's files of that name (``mappings.files``). v2's answer to an upload cannot
tell whether the name repeats (files also arrive through the careers page and the app,
never seen by the bridge), so an upload costs one v2 read more: the application's files,
whose listing gives the id answered. Uploads to one application through this process take
turns (the upload and that read): two at once of one name both read the files after both
were stored, and both answered the newest (the name is known only once the body streams,
so the turn is the application's). With a shared store (Redis) the turn is also taken in
the store, so uploads through other replicas or workers wait for it too (a queue of
marks, :func:`mappings.files.turn_is_mine`; five store operations an upload)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
import weakref
from collections.abc import AsyncIterator
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
from proxy.store import MemoryStore, Store, StoreError
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


# Shared turns: the queue's tickets (one integer for every application) and how often a
# waiting upload looks whether its turn came.
TURN_SEQUENCE_KEY: Final = "upload-turns:sequence"
TURN_POLL_SECONDS: Final = 0.05


@contextlib.asynccontextmanager
async def _shared_turn(
    store: Store, application_id: str, stale_after: float
) -> AsyncIterator[None]:
    """This application's turn among the uploads of every replica sharing ``store``: a
    mark while choosing a ticket, then the ticket, then wait until no other upload is
    choosing or holds a lower one (``mappings.files.turn_is_mine``). A memory store is
    one process's: the process's own turn is the whole turn. A store that cannot be asked
    leaves only the process's turn; a turn waited on longer than ``stale_after`` belongs
    to a bridge that died mid-upload, and the upload goes."""
    if isinstance(store, MemoryStore):
        yield
        return
    key, token = f"upload-turns:{application_id}", secrets.token_hex(8)
    try:
        await _wait_for_turn(store, key, token, stale_after)
        yield
    finally:
        with contextlib.suppress(StoreError):
            await store.hdel(key, [token])


async def _wait_for_turn(store: Store, key: str, token: str, stale_after: float) -> None:
    """Take a ticket in the application's queue and wait for it (see :func:`_shared_turn`)."""
    keep = 2 * stale_after
    try:
        await store.hset(key, {token: files.choosing_mark(int(time.time()))}, keep)
        ticket = await store.incr(TURN_SEQUENCE_KEY)
        await store.hset(key, {token: files.turn_mark(ticket, int(time.time()))}, keep)
        give_up = time.monotonic() + stale_after
        while not files.turn_is_mine(
            await store.hgetall(key), token, int(time.time()), stale_after
        ):
            if time.monotonic() > give_up:
                return
            await asyncio.sleep(TURN_POLL_SECONDS)
    except StoreError:
        return


def _turn_seconds(request: web.Request) -> float:
    """The longest an upload's turn may last: the client's body, v2's upload and the read
    after it, and a wait for budget. A mark older than that is a dead bridge's."""
    settings = request.app[BRIDGE].settings
    return (
        settings.client_body_timeout_seconds
        + 2 * settings.upstream_timeout_seconds
        + settings.rate_limit_deadline_seconds
    )


async def _upload_file(request: web.Request, application_id: str, what: str) -> web.Response:
    bridge = request.app[BRIDGE]
    upload = await open_upload(request, bridge.settings.client_body_timeout_seconds)
    async with (
        _turn_of(request, application_id),
        _shared_turn(bridge.store, application_id, _turn_seconds(request)),
    ):
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

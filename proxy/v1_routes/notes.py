"""Notes: the notes of a v2 job application, by application id or by candidate id.

A v2 note has no id; the bridge's id hashes its instant and its position among the
application's notes of that instant (``mappings.notes``). The answer to a create cannot
see that position, so the bridge records each create in the store, before it is sent
and once answered (five store operations): the creates of its instant answered before
it was sent give its position, no further v2 call, also for several notes of one second
one after another. A create that overlapped another (or whose instant or store is
unknown) is answered as the notes listing shows it (one v2 read). Each answered create
also removes the marks that no longer count (a sixth operation, when there are any), so
an application's marks are those of its last few minutes of creates."""

from __future__ import annotations

import contextlib
import secrets
import time
from functools import partial
from http import HTTPStatus
from typing import Any, Final

from aiohttp import web

from mappings import applications, notes
from mappings.errors import OutcomeUnknown, V1Error
from mappings.v2_models import Note, OneApplication
from proxy.calls import fetch, log_degraded, write
from proxy.candidates import on_path_application, read_after_write
from proxy.paging import whole_list_answer, window_of
from proxy.state import BRIDGE, json_response
from proxy.store import Store, StoreError
from proxy.v1_input import read_body

# The order of the bridge's note creates, shared by the replicas (one integer).
SEQUENCE_KEY: Final = "note-creates:sequence"
# How long a create's marks count: longer than any create may take (timeout, budget wait);
# an older mark still "in flight" belongs to a create that failed or lost its answer.
MARKS_TTL_SECONDS: Final = 120.0


async def _list_notes(request: web.Request, application_id: str, what: str) -> web.Response:
    window = await window_of(request)
    found = await fetch(
        request,
        applications.get_application_request(application_id, with_vacancy=False, with_notes=True),
        OneApplication,
        not_found=f"No such {what}",
    )
    listed = notes.notes_to_v1(application_id, found.data.notes or [])
    return await whole_list_answer(request, window, listed)


async def _create_note(request: web.Request, application_id: str, what: str) -> web.Response:
    body = await read_body(request)
    bridge = request.app[BRIDGE]
    call = notes.create_note_request(application_id, body, bridge.settings.default_note_author)
    book = _CreatesOf(bridge.store, application_id, notes.fingerprint(call.json or {}))
    await book.sending()
    try:
        created = await write(request, call, Note, call.json, not_found=f"No such {what}")
    except OutcomeUnknown:  # it may have been stored: its mark stays "in flight"
        raise
    except V1Error:  # refused, or never sent: nothing was stored
        await book.refused()
        raise
    missing = list(created.missing)
    position, rank = await book.answered(notes.instant_of(created.data))
    if created.data.created_at is None:  # the id depends on it: answer the note as listed
        position, rank = None, None
    note = await _note_at(request, application_id, created.data, (position, rank), missing)
    log_degraded(request, missing)
    return json_response(note, HTTPStatus.CREATED)


async def _note_at(
    request: web.Request,
    application_id: str,
    created: Note,
    place: tuple[int | None, int | None],
    missing: list[str],
) -> dict[str, Any]:
    """The created note with the id every listing gives it: at its position when the
    store told it, else as the notes listing shows it (ranked among identical notes)."""
    position, rank = place
    if position is not None:
        return notes.note_to_v1(application_id, created, position)
    note = notes.note_to_v1(application_id, created)
    return await _note_as_listed(request, application_id, note, missing, rank)


class _CreatesOf:
    """One note create among the application's creates through the bridge, recorded in
    the store before it is sent and once answered (``mappings.notes.position_among``);
    a store that cannot be asked leaves the position to a listing."""

    def __init__(self, store: Store, application_id: str, print_: str) -> None:
        self._store, self._print = store, print_
        self._key = f"note-creates:{application_id}"
        self._token = ""
        self._sent: int | None = None

    async def sending(self) -> None:
        now = int(time.time())
        self._token = notes.mark_token(now, secrets.token_hex(8))
        try:
            sent = await self._store.incr(SEQUENCE_KEY)
            mark = notes.sending_mark(sent, self._print, now)
            await self._store.hset(self._key, {self._token: mark}, MARKS_TTL_SECONDS)
        except StoreError:
            return
        self._sent = sent

    async def refused(self) -> None:
        if self._sent is None:
            return
        mark = notes.refused_mark(self._sent, self._print)
        with contextlib.suppress(StoreError):
            await self._store.hset(self._key, {self._token: mark}, MARKS_TTL_SECONDS)

    async def answered(self, instant: str) -> tuple[int | None, int | None]:
        """The note's position among the notes of its instant (``None``: only a listing
        can tell) and its rank among identical ones (``None``: unknown)."""
        if self._sent is None:
            return None, None
        try:
            answered = await self._store.incr(SEQUENCE_KEY)
            mark = notes.answered_mark(self._sent, self._print, answered, instant)
            await self._store.hset(self._key, {self._token: mark}, MARKS_TTL_SECONDS)
            marks = await self._store.hgetall(self._key)
        except StoreError:
            return None, None
        marks[self._token] = mark
        now = int(time.time())
        await self._retire(notes.retired_marks(marks, now, MARKS_TTL_SECONDS))
        return notes.position_among(marks, self._token, now, MARKS_TTL_SECONDS)

    async def _retire(self, tokens: list[str]) -> None:
        """Remove marks no create counts any more: the hash's TTL is refreshed by every
        create, so without this an application noted more often than the TTL would keep
        every mark. Failing to is harmless (they stay until the hash expires)."""
        if tokens:
            with contextlib.suppress(StoreError):
                await self._store.hdel(self._key, tokens)


async def _note_as_listed(
    request: web.Request,
    application_id: str,
    note: dict[str, Any],
    missing: list[str],
    rank: int | None,
) -> dict[str, Any]:
    """The created note as the notes listing shows it; the note as answered if that read
    fails or does not show it."""
    found = await read_after_write(request, application_id, with_notes=True)
    listed = notes.listed_note(
        notes.notes_to_v1(application_id, found.notes or []) if found else [], note, rank
    )
    if listed is None:
        missing.append("note id (follow-up read)")
        return note
    return listed


async def list_notes(request: web.Request) -> web.Response:
    """The notes of the path's application or candidate."""
    return await on_path_application(request, partial(_list_notes, request))


async def create_note(request: web.Request) -> web.Response:
    """A note on the path's application or candidate."""
    return await on_path_application(request, partial(_create_note, request))

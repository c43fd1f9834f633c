"""Notes: the notes of a v2 job application, by application id or by candidate id.

A v2 note has no id; the bridge's id hashes its instant and its position among the
application's notes of that instant (``mappings.notes``). The answer to a create cannot
see that position, so the bridge records each create of an instant in the store (two
store operations): the creates recorded before this one was sent give its position, no
further v2 call, also for several notes of one second one after the other. A create
that overlapped another of its instant, or whose instant or store is unknown, is
answered as the notes listing shows it (one v2 read)."""

from __future__ import annotations

import secrets
import time
from http import HTTPStatus
from typing import Any, Final

from aiohttp import web

from mappings import applications, notes
from mappings.v2_models import Note, OneApplication
from proxy.calls import fetch, log_degraded, write
from proxy.candidates import on_path_candidate, read_after_write
from proxy.paging import whole_list_answer, window_of
from proxy.state import BRIDGE, json_response
from proxy.store import Store, StoreError
from proxy.v1_input import path_id, read_body

# How long the store keeps the creates of one instant: creates sharing a second are
# compared well within it; the bound only keeps the store small.
INSTANT_TTL_SECONDS: Final = 120.0


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
    sent_ns = time.time_ns()
    created = await write(request, call, Note, call.json, not_found=f"No such {what}")
    missing = list(created.missing)
    note = await _note_at_its_position(request, application_id, created.data, sent_ns, missing)
    log_degraded(request, missing)
    return json_response(note, HTTPStatus.CREATED)


async def _note_at_its_position(
    request: web.Request, application_id: str, created: Note, sent_ns: int, missing: list[str]
) -> dict[str, Any]:
    """The created note with the id every listing gives it."""
    note = notes.note_to_v1(application_id, created)
    if created.created_at is None:  # the id depends on it: answer the note as listed
        return await _note_as_listed(request, application_id, note, missing, None)
    store = request.app[BRIDGE].store
    position, rank = await _place_at_instant(store, application_id, created, sent_ns)
    if position is None:
        return await _note_as_listed(request, application_id, note, missing, rank)
    return notes.note_to_v1(application_id, created, position)


async def _place_at_instant(
    store: Store, application_id: str, created: Note, sent_ns: int
) -> tuple[int | None, int | None]:
    """Records this create of its instant and answers its position among the notes of the
    instant; ``None`` when only a listing can tell, with the note's rank among identical
    creates of the instant (``None`` too when the store cannot be asked)."""
    key = f"note-instant:{application_id}:{notes.instant_of(created)}"
    mine = notes.instant_member(
        time.time_ns(), notes.note_to_v1(application_id, created), secrets.token_hex(6)
    )
    try:
        await store.sadd(key, mine, INSTANT_TTL_SECONDS)
        members = await store.smembers(key)
    except StoreError:
        return None, None
    return notes.position_at_instant(members, mine, sent_ns), notes.rank_among(members, mine)


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


async def list_application_notes(request: web.Request) -> web.Response:
    return await _list_notes(request, path_id(request, "id", "application"), "application")


async def create_application_note(request: web.Request) -> web.Response:
    return await _create_note(request, path_id(request, "id", "application"), "application")


async def list_candidate_notes(request: web.Request) -> web.Response:
    return await on_path_candidate(request, lambda ap: _list_notes(request, ap, "candidate"))


async def create_candidate_note(request: web.Request) -> web.Response:
    return await on_path_candidate(request, lambda ap: _create_note(request, ap, "candidate"))

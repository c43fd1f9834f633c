"""Notes: the notes of a v2 job application, by application id or by candidate id."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from aiohttp import web

from mappings import applications, notes
from mappings.errors import V1Error
from mappings.v2_models import Note, OneApplication
from proxy.calls import fetch, log_degraded, write
from proxy.candidates import on_path_candidate
from proxy.paging import whole_list_answer, window_of
from proxy.state import BRIDGE, json_response
from proxy.v1_input import path_id, read_body


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
    created = await write(request, call, Note, call.json, not_found=f"No such {what}")
    missing = list(created.missing)
    note = notes.note_to_v1(application_id, created.data)
    if created.data.created_at is None:  # the id depends on it: answer the note as listed
        note = await _note_as_listed(request, application_id, note, missing)
    log_degraded(request, missing)
    return json_response(note, HTTPStatus.CREATED)


async def _note_as_listed(
    request: web.Request, application_id: str, note: dict[str, Any], missing: list[str]
) -> dict[str, Any]:
    """The created note as the notes listing shows it; the note as answered if that read
    fails (the create stands: the failure is only logged)."""
    try:
        found = await fetch(
            request,
            applications.get_application_request(
                application_id, with_vacancy=False, with_notes=True
            ),
            OneApplication,
        )
    except V1Error:
        found = None
    listed = notes.listed_note(
        notes.notes_to_v1(application_id, found.data.notes or []) if found else [], note
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

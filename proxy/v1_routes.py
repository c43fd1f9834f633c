"""The v1 face: one short handler per endpoint of the contract's table (§7).

Each handler reads like the data flow: parse and check the v1 request, plan the v2
calls with ``mappings``, perform them, translate the answers, respond.

Writes (contract §3): once v2 answered 2xx, the answer is the success status with what
could be read (``mappings.write_answers``); an unreadable answer, a follow-up read or a
store call that fails afterwards is logged as ``write_answer_degraded``, never an error.
The shared store being down turns into another answer where one exists (a candidate id
is read as its application's), else a v1 503.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

import structlog
from aiohttp import web

from mappings import applications, candidates, files, jobs, notes
from mappings.errors import Gone, NotFound, ParamError, StoreUnavailable, V1Error, V1ValidationError
from mappings.forms import expand_values
from mappings.ids import new_draft_candidate_id
from mappings.pagination import (
    Window,
    envelope,
    parse_window,
)
from mappings.plan import V2Request
from mappings.v2_models import (
    ApplicationPage,
    File,
    JobApplication,
    Note,
    OneApplication,
    OneVacancy,
    VacancyPage,
)
from proxy.calls import fetch, fetch_window, log_degraded, write
from proxy.candidates import (
    STORE_DOWN,
    application_id_of_candidate,
    application_of_candidate,
    draft_lookup,
    person_of_candidate,
    unless_draft_unknown,
)
from proxy.context import context_of
from proxy.embeds import remember_vacancies, vacancy_or_none
from proxy.state import BRIDGE, json_response
from proxy.store import StoreError
from proxy.uploads import open_upload
from proxy.v1_input import declared_query, path_id, read_body

log = structlog.get_logger("homerun_bridge.writes")


# --- steps shared by the handlers -------------------------------------------------------------


def _now() -> int:
    return int(time.time())


def _listed(window: Window, items: Sequence[Any]) -> web.Response:
    """A list the bridge holds whole (notes, files), cut to the v1 window."""
    chosen = list(items[window.offset : window.offset + window.limit])
    return json_response(envelope(window, chosen, len(items)))


# --- jobs ---------------------------------------------------------------------------


async def list_jobs(request: web.Request) -> web.Response:
    query = declared_query(request)
    window = parse_window(query)
    status = jobs.v2_status_filter(query)
    vacancies, total, has_more = await fetch_window(
        request, window, lambda call: jobs.list_vacancies_request(call, status), VacancyPage
    )
    await remember_vacancies(request, vacancies)
    found = [jobs.vacancy_to_job(v) for v in vacancies]
    return json_response(envelope(window, found, total, has_more))


async def get_job(request: web.Request) -> web.Response:
    job_id = path_id(request, "id", "job")
    found = await fetch(
        request, jobs.get_vacancy_request(job_id), OneVacancy, not_found=f"No such job: {job_id}"
    )
    await remember_vacancies(request, [found.data])
    return json_response(jobs.vacancy_to_job(found.data))


# --- candidates -----------------------------------------------------------------------


async def _list_applications_as(
    request: web.Request,
    filters: applications.ApplicationFilters,
    *,
    embed: bool,
    to_v1: Callable[[Sequence[JobApplication]], list[dict[str, Any]]],
) -> web.Response:
    """A v1 window over v2's job applications, shown as ``to_v1`` makes them."""
    window = parse_window(declared_query(request))
    found, total, has_more = await fetch_window(
        request,
        window,
        lambda call: applications.list_applications_request(call, filters, embed=embed),
        ApplicationPage,
    )
    return json_response(envelope(window, to_v1(found), total, has_more))


async def list_candidates(request: web.Request) -> web.Response:
    return await _list_applications_as(
        request,
        applications.ApplicationFilters(),
        embed=False,
        to_v1=lambda found: [candidates.application_to_candidate(a) for a in found],
    )


async def get_candidate(request: web.Request) -> web.Response:
    candidate_id = path_id(request, "id", "candidate")
    draft, store_down = await draft_lookup(request.app[BRIDGE], candidate_id)
    if draft is not None:
        return json_response(draft)
    application = await unless_draft_unknown(
        application_of_candidate(request, candidate_id, with_vacancy=False), store_down
    )
    return json_response(candidates.application_to_candidate(application))


async def create_candidate(request: web.Request) -> web.Response:
    body = await read_body(request)
    draft = candidates.draft_candidate(body, new_draft_candidate_id(), _now())
    try:
        await request.app[BRIDGE].drafts.put(draft)
    except StoreError:
        raise StoreUnavailable(STORE_DOWN) from None
    return json_response(draft, HTTPStatus.CREATED)


# --- applications -----------------------------------------------------------------------


async def list_applications(request: web.Request) -> web.Response:
    return await _list_applications_as(
        request,
        applications.application_filters(declared_query(request)),
        embed=True,
        to_v1=applications.applications_page_to_v1,
    )


async def get_application(request: web.Request) -> web.Response:
    application_id = path_id(request, "id", "application")
    with_notes = "notes" in expand_values(declared_query(request))
    found = await fetch(
        request,
        applications.get_application_request(application_id, with_notes=with_notes),
        OneApplication,
        not_found=f"No such application: {application_id}",
    )
    return json_response(
        applications.application_to_v1(found.data, issued_at=_now(), with_notes=with_notes)
    )


async def create_application(request: web.Request) -> web.Response:
    body = await read_body(request)
    context_of(request).unknown_fields = applications.unknown_members(body)
    reference = applications.candidate_reference(body)
    person = await person_of_candidate(request, reference) if reference else None
    call = applications.create_application_request(body, person)
    created = await write(
        request, call, JobApplication, applications.sent_as_answer(call.json or {})
    )
    missing = list(created.missing)
    if reference is not None and created.id_known:
        try:
            await request.app[BRIDGE].drafts.link(reference, created.data.id)
        except StoreError:
            missing.append("draft link (store unavailable)")
    vacancy = await vacancy_or_none(request, created.data.vacancy_id, missing)
    log_degraded(request, missing)
    return json_response(
        applications.written_application_to_v1(created, issued_at=_now(), vacancy=vacancy),
        HTTPStatus.CREATED,
    )


async def update_application(request: web.Request) -> web.Response:
    application_id = path_id(request, "id", "application")
    body = await read_body(request)
    context_of(request).unknown_fields = applications.unknown_members(body)
    call = applications.update_application_request(application_id, body)
    if call is None:  # nothing v2 can change: answer the object as it is
        return await get_application(request)
    not_found = f"No such application: {application_id}"
    sent = applications.sent_as_answer(call.json or {})
    try:
        updated = await write(
            request, call, JobApplication, sent, known_id=application_id, not_found=not_found
        )
    except NotFound as exc:
        if call.json and ("stage" in call.json or "vacancy_id" in call.json):
            raise await _explain_patch_not_found(request, application_id, call) from exc
        raise
    missing = list(updated.missing)
    vacancy = await vacancy_or_none(request, updated.data.vacancy_id, missing)
    log_degraded(request, missing)
    return json_response(
        applications.written_application_to_v1(updated, issued_at=_now(), vacancy=vacancy)
    )


async def _explain_patch_not_found(
    request: web.Request, application_id: str, call: V2Request
) -> V1Error:
    """v2 answers 404 alike for an unknown application, stage or job; one read tells
    which, so the client learns which of its fields is wrong."""
    await fetch(
        request,
        applications.get_application_request(application_id, with_vacancy=False),
        OneApplication,
        not_found=f"No such application: {application_id}",
    )
    assert call.json is not None
    if "stage" in call.json:
        name = call.json["stage"]["name"]
        return V1ValidationError(
            [ParamError("stage", f"no stage named {name!r} in this application's job")]
        )
    return V1ValidationError([ParamError(call.v1_params.get("vacancy_id", "job"), "no such job")])


# --- notes ------------------------------------------------------------------------------


async def _list_notes(request: web.Request, application_id: str, what: str) -> web.Response:
    window = parse_window(declared_query(request))
    found = await fetch(
        request,
        applications.get_application_request(application_id, with_vacancy=False, with_notes=True),
        OneApplication,
        not_found=f"No such {what}",
    )
    return _listed(window, notes.notes_to_v1(application_id, found.data.notes or []))


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


async def _application_id_of(request: web.Request) -> tuple[str, bool]:
    """The application a path's candidate id names, and whether the store was down."""
    return await application_id_of_candidate(
        request.app[BRIDGE], path_id(request, "id", "candidate")
    )


async def list_candidate_notes(request: web.Request) -> web.Response:
    application_id, store_down = await _application_id_of(request)
    return await unless_draft_unknown(_list_notes(request, application_id, "candidate"), store_down)


async def create_candidate_note(request: web.Request) -> web.Response:
    application_id, store_down = await _application_id_of(request)
    return await unless_draft_unknown(
        _create_note(request, application_id, "candidate"), store_down
    )


# --- files ------------------------------------------------------------------------------


async def _list_files(request: web.Request, application_id: str, what: str) -> web.Response:
    window = parse_window(declared_query(request))
    found = await fetch(
        request,
        applications.get_application_request(application_id, with_vacancy=False),
        OneApplication,
        not_found=f"No such {what}",
    )
    return _listed(window, files.files_to_v1(application_id, found.data.files or [], _now()))


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
        files.file_to_v1(application_id, created.data, 0, _now()), HTTPStatus.CREATED
    )


async def list_application_files(request: web.Request) -> web.Response:
    return await _list_files(request, path_id(request, "id", "application"), "application")


async def upload_application_file(request: web.Request) -> web.Response:
    return await _upload_file(request, path_id(request, "id", "application"), "application")


async def list_candidate_files(request: web.Request) -> web.Response:
    application_id, store_down = await _application_id_of(request)
    return await unless_draft_unknown(_list_files(request, application_id, "candidate"), store_down)


async def upload_candidate_file(request: web.Request) -> web.Response:
    application_id, store_down = await _application_id_of(request)
    return await unless_draft_unknown(
        _upload_file(request, application_id, "candidate"), store_down
    )


async def delete_file(request: web.Request) -> web.Response:
    path_id(request, "id", "application")
    path_id(request, "file_id", "file")
    raise Gone(files.DELETE_GONE_MESSAGE)


# --- the routes, from the one table ---------------------------------------------------

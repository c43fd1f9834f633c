"""Applications: v2 job applications, with the person and the job embedded."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

from aiohttp import web

from mappings import applications
from mappings.errors import NotFound, ParamError, V1Error, V1ValidationError
from mappings.forms import expand_values
from mappings.pagination import Window
from mappings.plan import V2Request
from mappings.v2_models import ApplicationPage, JobApplication, OneApplication
from proxy.calls import fetch, fetch_window, log_degraded, write
from proxy.candidates import person_of_candidate
from proxy.context import context_of
from proxy.embeds import vacancies_to_embed, vacancy_or_none
from proxy.paging import page_answer, window_of
from proxy.state import BRIDGE, json_response
from proxy.store import StoreError
from proxy.v1_input import declared_query, path_id, read_body


def _now() -> int:
    return int(time.time())


async def _applications_window(
    request: web.Request, filters: applications.ApplicationFilters, *, embed: bool
) -> tuple[Window, list[JobApplication], int, bool | None]:
    """The v1 window the request asks for over v2's job applications: the window, its
    applications, the list's total and (when v2 gave no total) whether more follow."""
    window = await window_of(request)
    found, total, has_more = await fetch_window(
        request,
        window,
        lambda call: applications.list_applications_request(call, filters, embed=embed),
        ApplicationPage,
    )
    return window, found, total, has_more


async def _list_applications_as(
    request: web.Request,
    filters: applications.ApplicationFilters,
    *,
    embed: bool,
    to_v1: Callable[[Sequence[JobApplication]], list[dict[str, Any]]],
) -> web.Response:
    """A v1 window over v2's job applications, shown as ``to_v1`` makes them (also the
    candidates list: one candidate per application)."""
    window, found, total, has_more = await _applications_window(request, filters, embed=embed)
    return await page_answer(request, window, to_v1(found), total, has_more)


async def list_applications(request: web.Request) -> web.Response:
    """Each item's job is the whole job when the bridge holds its vacancy (§6 rev 2)."""
    filters = applications.application_filters(declared_query(request))
    window, found, total, has_more = await _applications_window(request, filters, embed=True)
    vacancies = await vacancies_to_embed(request, applications.vacancy_ids_of(found))
    items = applications.applications_page_to_v1(found, vacancies)
    return await page_answer(request, window, items, total, has_more)


async def get_application(request: web.Request) -> web.Response:
    """The job is the whole job when the bridge holds its vacancy (§6 rev 2)."""
    application_id = path_id(request, "id", "application")
    with_notes = "notes" in expand_values(declared_query(request))
    found = await fetch(
        request,
        applications.get_application_request(application_id, with_notes=with_notes),
        OneApplication,
        not_found=f"No such application: {application_id}",
    )
    vacancies = await vacancies_to_embed(
        request, applications.vacancy_ids_of([found.data]), detail=True
    )
    return json_response(
        applications.application_to_v1(
            found.data,
            issued_at=_now(),
            vacancy=applications.held_vacancy(found.data, vacancies),
            with_notes=with_notes,
        )
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

"""Candidate resolution: which person or application a v1 candidate id names.

A candidate id is a draft in the store (``POST /v1/candidates``, ``proxy.drafts``) or the
person on application ``ap_X`` (``ca_X``). The store being down turns "no such candidate"
into a 503 where the id may be a draft, never into a wrong 404.

Also here, as the other read of an application made on a handler's behalf: the read
after a note or file create that finds the id its listing gives."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Final, TypeVar

from aiohttp import web

from mappings import applications, candidates
from mappings.errors import (
    NotFound,
    ParamError,
    StoreUnavailable,
    V1Error,
    V1ValidationError,
)
from mappings.ids import application_id_for_candidate
from mappings.v2_models import (
    JobApplication,
    OneApplication,
)
from proxy.calls import fetch
from proxy.context import context_of
from proxy.state import BRIDGE, Bridge
from proxy.store import StoreError
from proxy.upstream import decode
from proxy.v1_input import path_id

T = TypeVar("T")


STORE_DOWN_FOR_CANDIDATE: Final = (
    "The bridge's shared store is unavailable; this candidate may be a draft. Retry later"
)


STORE_DOWN: Final = "The bridge's shared store is unavailable; retry later"


async def draft_lookup(bridge: Bridge, candidate_id: str) -> tuple[dict[str, Any] | None, bool]:
    """The stored draft (or ``None``), and whether the store could not be asked: then the
    candidate may be a draft, or the person on its derived application."""
    try:
        return await bridge.drafts.get(candidate_id), False
    except StoreError:
        return None, True


async def unless_draft_unknown(step: Awaitable[T], store_down: bool) -> T:
    """A 404 for a candidate id means "no such candidate" only when the store answered."""
    try:
        return await step
    except NotFound as exc:
        if store_down:
            raise StoreUnavailable(STORE_DOWN_FOR_CANDIDATE) from exc
        raise


async def application_id_of_candidate(bridge: Bridge, candidate_id: str) -> tuple[str, bool]:
    """The application a candidate id names, and whether the store could not be asked."""
    draft, store_down = await draft_lookup(bridge, candidate_id)
    if draft is not None:
        if not draft["applications"]:
            raise NotFound(
                f"Candidate {candidate_id} has no application yet; create one first",
            )
        return str(draft["applications"][0]), False
    application_id = application_id_for_candidate(candidate_id)
    if application_id is None:
        if store_down:
            raise StoreUnavailable(STORE_DOWN_FOR_CANDIDATE)
        raise NotFound(f"No such candidate: {candidate_id}")
    return application_id, store_down


async def application_of_candidate(
    request: web.Request, candidate_id: str, *, with_vacancy: bool
) -> JobApplication:
    application_id, store_down = await application_id_of_candidate(
        request.app[BRIDGE], candidate_id
    )
    found = await unless_draft_unknown(
        fetch(
            request,
            applications.get_application_request(application_id, with_vacancy=with_vacancy),
            OneApplication,
            not_found=f"No such candidate: {candidate_id}",
        ),
        store_down,
    )
    return found.data


async def draft_as_used(request: web.Request, draft: dict[str, Any]) -> dict[str, Any]:
    """A draft no application used yet is answered as stored; a used one reads its person
    from the first application made from it (updated there since, never in the draft);
    the stored draft still answers if that application is gone."""
    if not draft["applications"]:
        return draft
    try:
        found = await fetch(
            request,
            applications.get_application_request(str(draft["applications"][0]), with_vacancy=False),
            OneApplication,
        )
    except NotFound:
        return draft
    return candidates.used_draft_candidate(draft, found.data)


async def person_of_candidate(request: web.Request, candidate_id: str) -> dict[str, Any]:
    """The flat v2 personal fields of a referenced candidate (a draft or an application)."""
    draft, store_down = await draft_lookup(request.app[BRIDGE], candidate_id)
    if draft is not None:  # as GET /v1/candidates/{id} shows it
        return candidates.personal_fields_of_candidate(await draft_as_used(request, draft))
    no_such = V1ValidationError([ParamError("candidate", f"no such candidate: {candidate_id}")])
    application_id = application_id_for_candidate(candidate_id)
    if application_id is None:
        if store_down:
            raise StoreUnavailable(STORE_DOWN_FOR_CANDIDATE)
        raise no_such
    try:
        found = await unless_draft_unknown(
            fetch(
                request,
                applications.get_application_request(application_id, with_vacancy=False),
                OneApplication,
            ),
            store_down,
        )
    except NotFound:
        raise no_such from None
    return candidates.personal_fields_of_application(found.data)


async def on_path_application(request: web.Request, step: Callable[[str, str], Awaitable[T]]) -> T:
    """``step(application id, what the path names)`` on the application of the path:
    ``/v1/applications/{id}/…`` names it, ``/v1/candidates/{id}/…`` (notes, files) names
    it through its candidate, and then a 404 is a 503 where the id may be a draft the
    store could not be asked about."""
    if not request.path.startswith("/v1/candidates/"):
        return await step(path_id(request, "id", "application"), "application")
    application_id, store_down = await application_id_of_candidate(
        request.app[BRIDGE], path_id(request, "id", "candidate")
    )
    return await unless_draft_unknown(step(application_id, "candidate"), store_down)


async def read_after_write(
    request: web.Request, application_id: str, *, with_notes: bool
) -> JobApplication | None:
    """The application as v2 holds it just after a create of ours, to answer the id its
    listing gives: read fresh, never from a cached answer or one in flight since before
    the create. ``None`` if that read fails (the create stands: the caller logs it)."""
    bridge, ctx = request.app[BRIDGE], context_of(request)
    assert ctx.principal is not None
    call = applications.get_application_request(
        application_id, with_vacancy=False, with_notes=with_notes
    )
    try:
        response = await bridge.upstream.send(ctx, ctx.principal.v2_key, call, fresh=True)
        if 200 <= response.status < 300:
            return decode(OneApplication, response).data
    except V1Error:
        pass
    return None

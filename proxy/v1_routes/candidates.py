"""Candidates: the person on each v2 job application, or a draft the bridge holds."""

from __future__ import annotations

import time
from http import HTTPStatus

from aiohttp import web

from mappings import applications, candidates
from mappings.errors import StoreUnavailable
from mappings.ids import new_draft_candidate_id
from proxy.candidates import (
    STORE_DOWN,
    application_of_candidate,
    draft_as_used,
    draft_lookup,
    unless_draft_unknown,
)
from proxy.state import BRIDGE, json_response
from proxy.store import StoreError
from proxy.v1_input import path_id, read_body
from proxy.v1_routes.applications import _list_applications_as


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
        return json_response(await draft_as_used(request, draft))
    application = await unless_draft_unknown(
        application_of_candidate(request, candidate_id, with_vacancy=False), store_down
    )
    return json_response(candidates.application_to_candidate(application))


async def create_candidate(request: web.Request) -> web.Response:
    body = await read_body(request)
    draft = candidates.draft_candidate(body, new_draft_candidate_id(), int(time.time()))
    try:
        await request.app[BRIDGE].drafts.put(draft)
    except StoreError:
        raise StoreUnavailable(STORE_DOWN) from None
    return json_response(draft, HTTPStatus.CREATED)

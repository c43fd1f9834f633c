"""Reading a v1 request as its row of the table declares it: path ids, the declared query
parameters (the only ones a handler gets), and the body checked against its request model."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from mappings.errors import NotFound
from mappings.ids import is_valid_path_id
from mappings.v1_endpoints import V1Endpoint, endpoint_for
from mappings.v1_requests import check_request
from proxy.body import read_v1_body
from proxy.context import context_of
from proxy.state import BRIDGE


def path_id(request: web.Request, name: str, what: str) -> str:
    value = request.match_info[name]
    if not is_valid_path_id(value):
        raise NotFound(f"No such {what}")
    return value


def endpoint_of(request: web.Request) -> type[V1Endpoint]:
    method = "GET" if request.method == "HEAD" else request.method
    entry = endpoint_for(f"{method} {context_of(request).route}")
    assert entry is not None  # every registered route is a row of the table
    return entry


def declared_query(request: web.Request) -> list[tuple[str, str]]:
    """The query parameters the table declares for this endpoint, checked whole (one 400
    names every problem); the rest go unread."""
    ctx = context_of(request)
    if ctx.query is None:
        ctx.query = endpoint_of(request).checked_query(request.query.items())
    return ctx.query


async def read_body(request: web.Request) -> dict[str, Any]:
    """The decoded body, checked against the endpoint's v1 request model (every problem
    named at once, before anything is planned)."""
    timeout = request.app[BRIDGE].settings.client_body_timeout_seconds
    body = await read_v1_body(request, timeout)
    check_request(endpoint_of(request).request, body)
    return body

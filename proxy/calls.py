"""The call runner: a handler's planned v2 calls, performed and read.

``fetch`` performs one read and turns a v2 error into the v1 error it means; ``write``
performs one write and reads a 2xx leniently (it happened, contract §3); ``fetch_window``
covers a v1 window with the fewest v2 page calls (concurrent when two); ``log_degraded``
says what a confirmed write's answer lacked."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel

from mappings.pagination import (
    PageCall,
    Window,
    plan_page_window,
    shown_count,
    slice_window,
)
from mappings.plan import V2Request
from mappings.v2_models import (
    Page,
)
from mappings.write_answers import WriteAnswer, read_write_answer
from proxy.cache import decoded_hit
from proxy.context import context_of
from proxy.state import BRIDGE
from proxy.upstream import decode, error_for, gather_all

log = structlog.get_logger("homerun_bridge.writes")

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


async def fetch(
    request: web.Request,
    call: V2Request,
    model: type[M],
    *,
    not_found: str = "Not found",
    **send: Any,
) -> M:
    """Perform one planned call; a v2 error becomes the v1 error it means."""
    bridge, ctx = request.app[BRIDGE], context_of(request)
    assert ctx.principal is not None
    fresh = "no-cache" in request.headers.get("Cache-Control", "").lower()
    try:
        response = await bridge.upstream.send(ctx, ctx.principal.v2_key, call, fresh=fresh, **send)
    except BaseException:
        ctx.made_from(None)  # an answer made without this read (degraded) is never kept
        raise
    ctx.made_from(response.kept_until)
    if 200 <= response.status < 300:
        if response.cached:
            return decoded_hit(model, response.body, lambda: decode(model, response))
        return decode(model, response)
    raise error_for(response, call, not_found)


async def write(
    request: web.Request,
    call: V2Request,
    model: type[M],
    sent: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    *,
    known_id: str | None = None,
    not_found: str = "Not found",
    **send: Any,
) -> WriteAnswer[M]:
    """Perform one write; a 2xx is read leniently (it happened), an error is as ``_fetch``.

    ``sent``: what the write stored, in the answer's shape (a callable when it is known
    only once the body was sent); it stands in for members the answer leaves out.
    """
    bridge, ctx = request.app[BRIDGE], context_of(request)
    assert ctx.principal is not None
    ctx.made_from(None)  # a write is never kept: its answer is not a cached read's
    response = await bridge.upstream.send(ctx, ctx.principal.v2_key, call, **send)
    if 200 <= response.status < 300:
        stored = sent() if callable(sent) else sent
        return read_write_answer(response.body, model, stored, known_id=known_id)
    raise error_for(response, call, not_found)


def log_degraded(request: web.Request, missing: Sequence[str]) -> None:
    """A confirmed write answered with less than the whole object: say what was missing."""
    if not missing:
        return
    ctx = context_of(request)
    route = f"{request.method} {ctx.route}"
    request.app[BRIDGE].metrics.write_answers_degraded.labels(route).inc()
    log.warning(
        "write_answer_degraded",
        request_id=ctx.request_id,
        key_label=ctx.label,
        route=route,
        missing=list(dict.fromkeys(missing)),
    )


async def fetch_window(
    request: web.Request,
    window: Window,
    plan_call: Callable[[PageCall], V2Request],
    model: type[Page[T]],
) -> tuple[list[T], int, bool | None]:
    """The window's items, the list's total and (when v2 gave no total) whether more
    follow, with the fewest v2 page calls (concurrent when two)."""
    calls = plan_page_window(window)
    pages: list[Page[T]]
    if len(calls) == 1:  # most windows: no task to spawn for a single call
        pages = [await fetch(request, plan_call(calls[0]), model)]
    else:
        pages = await gather_all(*(fetch(request, plan_call(call), model) for call in calls))
    items = slice_window(window, calls, [page.data for page in pages])
    for page in pages:
        if page.meta is not None and page.meta.total is not None:
            return items, page.meta.total, None
    # v2 guarantees no meta: count what the pages show (mappings.pagination).
    total, has_more = shown_count(window, calls, [len(page.data) for page in pages], len(items))
    return items, total, has_more

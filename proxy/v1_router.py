"""The v1 routes, registered from the one table (``mappings.v1_endpoints``): each row with
its handler in one of ``proxy.v1_routes``' modules (a row without a handler, or a handler
without a row, fails when this module is imported), ``HEAD`` on every GET row,
``OPTIONS`` on every path, and the GET rows' answers kept rendered (``proxy.rendered``)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Hashable
from http import HTTPStatus
from typing import Final

from aiohttp import hdrs, web

from mappings.memo import SizedMemo
from mappings.v1_endpoints import ENDPOINTS, V1Endpoint, methods_of
from proxy import rendered, v1_routes
from proxy.context import RequestContext, context_of
from proxy.ratelimit import key_id
from proxy.rendered import RenderedAnswer
from proxy.state import BRIDGE, Bridge, Handler
from proxy.v1_input import declared_query


async def _answer_options(request: web.Request) -> web.Response:
    """``OPTIONS`` without CORS (contract §1): 204 and the path's methods, no key needed
    (a preflight from a disallowed origin carries none and is answered alike)."""
    allow = ", ".join((*_methods_of(request), "OPTIONS"))
    return web.Response(status=HTTPStatus.NO_CONTENT, headers={"Allow": allow})


def _methods_of(request: web.Request) -> tuple[str, ...]:
    return _ALLOW[context_of(request).route]


def _handlers() -> dict[str, Handler]:
    """The handlers: the public coroutine functions each module of ``proxy.v1_routes``
    defines (a name defined twice is an error)."""
    found: dict[str, Handler] = {}
    for module in v1_routes.MODULES:
        for name, value in vars(module).items():
            if (
                not name.startswith("_")
                and inspect.iscoroutinefunction(value)
                and value.__module__ == module.__name__
            ):
                if name in found:
                    raise LookupError(f"v1 handler {name} is defined twice")
                found[name] = value
    return found


def _bind() -> tuple[tuple[type[V1Endpoint], Handler], ...]:
    """Each row of the table with its handler; a row without a handler or a handler
    without a row is an error when this module is imported."""
    handlers = _handlers()
    named = {entry.handler for entry in ENDPOINTS}
    if missing := named - handlers.keys():
        raise LookupError(f"v1 table rows without a handler: {sorted(missing)}")
    if unused := handlers.keys() - named:
        raise LookupError(f"v1 handlers without a row in mappings.v1_endpoints: {sorted(unused)}")
    return tuple((entry, handlers[entry.handler]) for entry in ENDPOINTS)


async def _rendered_key(request: web.Request, bridge: Bridge) -> Hashable | None:
    """Where the request's rendered answer is kept (see ``proxy.rendered``), or None when
    none may be: the memo is off, the route never answered from the cache alone (so an
    uncached row costs no store read here), v2 rejected the key (its 401 must come
    first), or the store cannot say the key's generation."""
    ctx = context_of(request)
    if ctx.route not in bridge.rendered.routes or not ctx.principal:
        return None
    principal = ctx.principal
    v2_key = principal.v2_key
    if bridge.upstream.rejected_keys.holds(v2_key):
        return None
    generation = await bridge.upstream.economy.generation(v2_key)
    if generation is None:
        return None
    ids = tuple(sorted((k, v) for k, v in request.match_info.items() if k != "_slash"))
    return key_id(v2_key), generation, ctx.route, ids, _declared_of(request, ctx.route)


# The declared query pairs by route and query string: the same few on every page view.
_declared: Final = SizedMemo[tuple[str, str], tuple[tuple[str, str], ...]](max_size=1_000_000)


def _declared_of(request: web.Request, route: str) -> tuple[tuple[str, str], ...]:
    """The query parameters the row declares, in their order (what its handler reads)."""
    query = request.query_string
    return _declared.get((route, query), len(query) + 1, lambda: tuple(declared_query(request)))


def _renderable(
    bridge: Bridge, ctx: RequestContext, response: web.StreamResponse, started: float
) -> RenderedAnswer | None:
    """The answer as a rendered entry, when it was made only of v2 answers the read
    cache holds (then it lives no longer than they, nor than the cursor positions)."""
    if (
        type(response) is not web.Response
        or response.status != HTTPStatus.OK
        or not isinstance(response.body, bytes)
        or not ctx.only_held_reads
    ):
        return None
    until = min(ctx.held_until, started + bridge.settings.cursor_ttl_seconds)
    return RenderedAnswer(response, response.body, until)


def _kept_rendered(handler: Handler) -> Handler:
    """A GET row's handler, with its answers kept rendered and tagged (``ETag``, 304)."""

    @functools.wraps(handler)
    async def answer(request: web.Request) -> web.StreamResponse:
        bridge, ctx = request.app[BRIDGE], context_of(request)
        memo = bridge.rendered
        if_none_match = request.headers.get(hdrs.IF_NONE_MATCH)
        key = await _rendered_key(request, bridge)
        fresh = "no-cache" in request.headers.get(hdrs.CACHE_CONTROL, "").lower()
        if key is not None and not fresh:
            kept = memo.get(key, rendered.wall_clock())
            if kept is not None:
                ctx.cache_hit = True
                return memo.respond(kept, if_none_match)
        started = rendered.wall_clock()  # before the handler records any cursor position
        response = await handler(request)
        made = _renderable(bridge, ctx, response, started)
        if made is None:
            return response
        memo.renders(ctx.route)
        if key is not None and made.kept_until > started:
            memo.put(key, made)  # a no-cache read replaces the entry it refreshed
        return memo.respond(made, if_none_match)

    return answer


BOUND: Final = _bind()


_ALLOW: Final = {path: methods_of(path) for path in dict.fromkeys(e.path for e in ENDPOINTS)}


def register(router: web.UrlDispatcher) -> None:
    """Every v1 route of the table, with an optional trailing slash (``/v1/jobs/`` =
    ``/v1/jobs``), and ``OPTIONS`` on every path.

    Every GET route answers HEAD too (contract §1): the same handler, so the same status,
    headers and upstream cost; aiohttp leaves the body out. Both share the GET's rendered
    answers (``proxy.rendered``).
    """
    for entry, handler in BOUND:
        if entry.method == "GET":
            router.add_get(entry.path + "{_slash:/?}", _kept_rendered(handler), allow_head=True)
        else:
            router.add_route(entry.method, entry.path + "{_slash:/?}", handler)
    for path in _ALLOW:
        router.add_route("OPTIONS", path + "{_slash:/?}", _answer_options)

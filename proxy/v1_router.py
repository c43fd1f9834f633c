"""The v1 routes, registered from the one table (``mappings.v1_endpoints``): each row with
its handler in one of ``proxy.v1_routes``' modules (a row without a handler, or a handler
without a row, fails when this module is imported), ``HEAD`` on every GET row,
``OPTIONS`` on every path."""

from __future__ import annotations

import inspect
from http import HTTPStatus
from typing import Final

from aiohttp import web

from mappings.v1_endpoints import ENDPOINTS, V1Endpoint, methods_of
from proxy import v1_routes
from proxy.context import context_of
from proxy.state import Handler


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


BOUND: Final = _bind()


_ALLOW: Final = {path: methods_of(path) for path in dict.fromkeys(e.path for e in ENDPOINTS)}


def register(router: web.UrlDispatcher) -> None:
    """Every v1 route of the table, with an optional trailing slash (``/v1/jobs/`` =
    ``/v1/jobs``), and ``OPTIONS`` on every path.

    Every GET route answers HEAD too (contract §1): the same handler, so the same status,
    headers and upstream cost; aiohttp leaves the body out.
    """
    for entry, handler in BOUND:
        if entry.method == "GET":
            router.add_get(entry.path + "{_slash:/?}", handler, allow_head=True)
        else:
            router.add_route(entry.method, entry.path + "{_slash:/?}", handler)
    for path in _ALLOW:
        router.add_route("OPTIONS", path + "{_slash:/?}", _answer_options)

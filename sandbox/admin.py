"""The admin API under /_sandbox/: statistics always, faults and reset in faults mode only.

No authentication: it is a test and demo tool bound to loopback.

    GET    /_sandbox/stats          request counts per key and route, 429s per key, sizes
    POST   /_sandbox/faults         add a fault rule -> 201 {"id": ..., ...the rule}
    GET    /_sandbox/faults         {"faults": [rule, ...]}
    DELETE /_sandbox/faults         {"cleared": n}
    DELETE /_sandbox/faults/{id}    204, or 404 when unknown
    POST   /_sandbox/reset          seed data, counters and rate-limit windows as at start-up
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web

from sandbox.config import SandboxConfig
from sandbox.faults import FaultSpecError
from sandbox.state import SANDBOX_STATE


def _json(payload: Any, status: HTTPStatus = HTTPStatus.OK) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


async def get_stats(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    stats = state.stats
    return _json(
        {
            "requests": dict(stats.requests),
            "rate_limited": dict(stats.rate_limited),
            "requests_by_route": dict(stats.requests_by_route),
            "unauthenticated": stats.unauthenticated,
            "faults_injected": stats.faults_injected,
            "applications": len(state.applications),
            "vacancies": len(state.vacancies),
        }
    )


async def add_fault(request: web.Request) -> web.Response:
    try:
        spec = orjson.loads(await request.read())
    except orjson.JSONDecodeError:
        return _json({"error": "body must be JSON"}, HTTPStatus.BAD_REQUEST)
    try:
        fault = request.app[SANDBOX_STATE].faults.add(spec)
    except FaultSpecError as invalid:
        details = [{"param": error.param, "message": error.message} for error in invalid.errors]
        return _json({"error": str(invalid), "details": details}, HTTPStatus.BAD_REQUEST)
    return _json(fault.as_json(), HTTPStatus.CREATED)


async def list_faults(request: web.Request) -> web.Response:
    faults = request.app[SANDBOX_STATE].faults.active()
    return _json({"faults": [fault.as_json() for fault in faults]})


async def clear_faults(request: web.Request) -> web.Response:
    return _json({"cleared": request.app[SANDBOX_STATE].faults.clear()})


async def remove_fault(request: web.Request) -> web.Response:
    if request.app[SANDBOX_STATE].faults.remove(request.match_info["fault_id"]):
        return web.Response(status=HTTPStatus.NO_CONTENT)
    return _json({"error": "no such fault"}, HTTPStatus.NOT_FOUND)


async def reset(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    state.reset()
    return _json({"reset": True, "applications": len(state.applications)})


def add_routes(app: web.Application, config: SandboxConfig) -> None:
    app.router.add_get("/_sandbox/stats", get_stats)
    if config.faults_enabled:
        app.router.add_post("/_sandbox/faults", add_fault)
        app.router.add_get("/_sandbox/faults", list_faults)
        app.router.add_delete("/_sandbox/faults", clear_faults)
        app.router.add_delete("/_sandbox/faults/{fault_id}", remove_fault)
        app.router.add_post("/_sandbox/reset", reset)

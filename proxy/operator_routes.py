"""The operator surface outside ``/v1``: health, readiness, the v1 OpenAPI document."""

from __future__ import annotations

import asyncio
from http import HTTPStatus

import orjson
from aiohttp import web

from mappings.plan import V2Request
from proxy import dashboard
from proxy.context import context_of
from proxy.openapi import v1_openapi_document
from proxy.state import BRIDGE, json_response
from proxy.store import StoreError
from proxy.upstream_response import UpstreamResponse
from proxy.usage import migration_report
from proxy.workers import WorkerSlot

READINESS_TIMEOUT_SECONDS = 5.0
_WORKER = WorkerSlot.from_environment()


async def healthz(request: web.Request) -> web.Response:
    """The process is alive and serving. One of several workers (``proxy.workers``) says
    which answered (``X-Bridge-Worker: index/pid``): each has its own ``/metrics``."""
    response = json_response({"status": "ok"})
    if _WORKER is not None:
        response.headers["X-Bridge-Worker"] = _WORKER.label
    return response


async def readyz(request: web.Request) -> web.Response:
    """Ready when API v2 answers ``GET /ping`` with a configured key; ``degraded`` (still
    200) when the shared store does not answer, since the bridge serves without it.

    A ping spends a call of the v2 budget, and probes come every few seconds from every
    replica: when the last upstream call that ended (a v1 request's or an earlier ping's)
    was answered within ``readiness_evidence_seconds``, that answer stands for the ping.
    After a failed call the next probe always pings, so an outage shows at once.
    """
    bridge = request.app[BRIDGE]
    checks: dict[str, str] = {}
    label = bridge.settings.readiness_key_label or next(iter(bridge.keys.labels), None)
    v2_key = bridge.keys.v2_key_for_label(label) if label else None
    evidence = bridge.settings.readiness_evidence_seconds
    if v2_key is None:
        checks["upstream"] = "skipped: no key configured to ping with"
    elif evidence and bridge.upstream.answered_within(evidence):
        checks["upstream"] = "ok"
    else:
        try:
            response = await asyncio.wait_for(
                bridge.upstream.send(context_of(request), v2_key, V2Request("GET", "/ping")),
                READINESS_TIMEOUT_SECONDS,
            )
            checks["upstream"] = _ping_verdict(response)
        except Exception as exc:  # any failure means "not ready", with the reason shown
            checks["upstream"] = f"unreachable: {getattr(exc, 'message', exc.__class__.__name__)}"
    try:
        # Guarded: bounded by store_timeout_seconds, and at once while the store is down.
        checks["store"] = "ok" if await bridge.store.ping() else "down: not answering"
    except StoreError as exc:
        checks["store"] = f"down: {exc}"
    upstream_ok = checks["upstream"] == "ok" or checks["upstream"].startswith("skipped")
    if not upstream_ok:
        verdict, status = "not ready", HTTPStatus.SERVICE_UNAVAILABLE
    elif checks["store"] != "ok":
        # Still ready: without the store the bridge serves on (local pacing at
        # store_outage_share, no cache, drafts unavailable). Taking every replica out of
        # its Service while Redis is away would turn a store outage into a full one.
        verdict, status = "degraded", HTTPStatus.OK
    else:
        verdict, status = "ready", HTTPStatus.OK
    return json_response({"status": verdict, "checks": checks}, status)


def _ping_verdict(response: UpstreamResponse) -> str:
    """Ready only on v2's own answer: a 200 from something else (a load balancer's page,
    a wrong ``upstream_url``) would make every v1 call a 502."""
    if response.status != HTTPStatus.OK:
        return f"ping answered {response.status}"
    try:
        body = orjson.loads(response.body)
    except orjson.JSONDecodeError:
        body = None
    if not (isinstance(body, dict) and body.get("pong") is True):
        return "ping answered 200 with a body that is not API v2"
    return "ok"


async def metrics(request: web.Request) -> web.Response:
    body = request.app[BRIDGE].metrics.exposition()
    return web.Response(body=body, content_type="text/plain", charset="utf-8")


async def report(request: web.Request) -> web.Response:
    """The migration report, for operators holding the admin token."""
    bridge = request.app[BRIDGE]
    if not dashboard.admin_authorized(request):  # one rule for every operator page
        return json_response(
            {"message": "The report needs the admin token as a Bearer token", "status": 401},
            HTTPStatus.UNAUTHORIZED,
        )
    await bridge.usage.flush()  # what it cannot write stays buffered; the report says less
    return json_response(await migration_report(bridge.store))


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(v1_openapi_document())


def register(router: web.UrlDispatcher) -> None:
    router.add_get("/healthz", healthz)
    router.add_get("/readyz", readyz)
    router.add_get("/v1/openapi.json", openapi_json)
    router.add_get("/metrics", metrics)
    router.add_get("/_bridge/report", report)
    dashboard.register(router)  # GET /_bridge/ and its JSON and CSV exports

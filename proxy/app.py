"""The aiohttp application: resources, middleware and the routes, put together.

Resources (the upstream ``ClientSession``, the store) are owned by a cleanup context;
typed state lives under ``web.AppKey``. Middleware, outermost first: request id and
v1 headers -> errors in v1 shape -> authentication.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from email.utils import format_datetime
from http import HTTPStatus
from typing import Final

import structlog
from aiohttp import web

from mappings.errors import ScopeMissing, StoreUnavailable, V1Error, v1_error_body
from mappings.v1_endpoints import endpoint_for
from proxy import browsers, lifecycle, operator_routes, v1_router
from proxy.cache import ReadEconomy
from proxy.config import BridgeSettings, ConfigError
from proxy.context import CONTEXT_KEY, RequestContext, context_of, request_id_for
from proxy.drafts import DraftBook
from proxy.keys import KeyMap, presented_key
from proxy.logs import BoundOnce
from proxy.metrics import BridgeMetrics
from proxy.ratelimit import Budget, UpstreamPacer
from proxy.state import (
    BRIDGE,
    DEPRECATION,
    DEPRECATION_LINK,
    Bridge,
    Handler,
    json_response,
)
from proxy.store import Store, StoreError
from proxy.store_factory import open_store
from proxy.store_guard import guard_store
from proxy.tracing import tracing_middleware
from proxy.upstream import UpstreamClient
from proxy.usage import UsageBook

WWW_AUTHENTICATE: Final = 'Basic realm="Homerun API v1"'
PUBLIC_V1_PATHS: Final = frozenset({"/v1/openapi.json"})

log = structlog.get_logger("homerun_bridge.access")
access_log = BoundOnce("homerun_bridge.access")  # the line every request writes


def error_response(error: V1Error) -> web.Response:
    return json_response(error.body(), error.status, error.headers or None)


def _route_template(request: web.Request) -> str:
    resource = request.match_info.route.resource
    if resource is None:
        return "unmatched"
    template = resource.canonical
    return template.replace("{_slash}", "")


def _as_declared(request: web.Request, error: V1Error) -> V1Error:
    """A missing v2 scope named as the endpoint's row declares its scopes: the row is the
    one place that says what an endpoint needs, whichever of its v2 calls was refused."""
    if not isinstance(error, ScopeMissing):
        return error
    method = "GET" if request.method == "HEAD" else request.method
    entry = endpoint_for(f"{method} {context_of(request).route}")
    if entry is None or not entry.scopes:
        return error
    return ScopeMissing.needing(entry.scopes)


@web.middleware
async def v1_envelope_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Request id, errors in v1 shape, the v1 deprecation headers, one log line."""
    ctx = RequestContext(request_id_for(request))
    request[CONTEXT_KEY] = ctx
    ctx.route = _route_template(request)
    try:
        response = await handler(request)
    except V1Error as exc:
        response = error_response(_as_declared(request, exc))
    except StoreError as exc:
        # Rare: only where no answer is possible without the store (a draft candidate).
        request.app[BRIDGE].metrics.store_errors.labels("request").inc()
        log.error("store.unavailable", request_id=ctx.request_id, error=str(exc))
        response = error_response(StoreUnavailable())
    except web.HTTPMethodNotAllowed as exc:
        response = json_response(
            v1_error_body(HTTPStatus.METHOD_NOT_ALLOWED, f"{request.method} is not allowed here"),
            HTTPStatus.METHOD_NOT_ALLOWED,
            # The methods that serve the path; OPTIONS is answered on every path.
            {"Allow": ", ".join(sorted(exc.allowed_methods - {"OPTIONS"}))},
        )
    except web.HTTPRequestEntityTooLarge:
        response = json_response(
            v1_error_body(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "The request body is too large"),
            HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
        )
    except web.HTTPNotFound:
        response = json_response(
            v1_error_body(HTTPStatus.NOT_FOUND, "No such endpoint"), HTTPStatus.NOT_FOUND
        )
    except web.HTTPException as exc:
        status = exc.status if exc.status in (400, 401, 403, 404, 413, 429) else 400
        response = json_response(v1_error_body(status, exc.reason), status)
    except Exception:
        log.exception("request.crashed", request_id=ctx.request_id, route=ctx.route)
        response = json_response(
            v1_error_body(
                HTTPStatus.INTERNAL_SERVER_ERROR,
                f"The bridge failed on this request (request id {ctx.request_id})",
            ),
            HTTPStatus.INTERNAL_SERVER_ERROR,
        )
    bridge = request.app[BRIDGE]
    response.headers["X-Request-Id"] = ctx.request_id
    if request.path.startswith("/v1"):
        response.headers["Deprecation"] = DEPRECATION
        response.headers["Link"] = DEPRECATION_LINK
        if bridge.settings.sunset is not None:
            response.headers["Sunset"] = format_datetime(bridge.settings.sunset, usegmt=True)
        response.headers["X-Upstream-Calls"] = str(ctx.upstream_calls)
    latency = time.perf_counter() - ctx.started
    _observe(bridge, request, ctx, response.status, latency)
    access_log.get().info(
        "request",
        request_id=ctx.request_id,
        key_label=ctx.label,
        method=request.method,
        route=ctx.route,
        status=response.status,
        latency_ms=round(latency * 1000, 2),
        upstream_calls=ctx.upstream_calls,
        cache_hit=ctx.cache_hit,
        rate_limit_wait_ms=round(ctx.rate_limit_wait * 1000, 1),
    )
    return response


def _observe(
    bridge: Bridge, request: web.Request, ctx: RequestContext, status: int, latency: float
) -> None:
    """Metrics for every request; usage counts for authenticated v1 routes."""
    if not request.path.startswith("/v1"):
        return
    metrics = bridge.metrics
    metrics.v1_requests.labels(request.method, ctx.route, str(status), ctx.label).inc()
    metrics.v1_latency.labels(ctx.route).observe(latency)
    if ctx.cache_hit:
        metrics.cache_hits.inc()
    if ctx.rate_limit_wait > 0:
        metrics.rate_limit_waits.inc()
        metrics.rate_limit_wait_seconds.inc(ctx.rate_limit_wait)
    if ctx.principal is not None and ctx.route != "unmatched":
        bridge.usage.record(
            ctx.label,
            f"{request.method} {ctx.route}",
            ctx.unknown_fields,
            status=status,
            user_agent=request.headers.get("User-Agent"),
            peer=request.remote,
            forwarded_for=request.headers.get("X-Forwarded-For"),
        )


@web.middleware
async def auth_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """v1 key -> principal; unknown paths answer 404/405 before any key is checked."""
    if (
        not request.path.startswith("/v1")
        or request.path in PUBLIC_V1_PATHS
        or request.method == "OPTIONS"  # answered without a key (contract §1)
        or request.match_info.http_exception is not None
    ):
        return await handler(request)
    keys = request.app[BRIDGE].keys
    principal = keys.resolve(presented_key(request.headers.get("Authorization")))
    if principal is None:
        raise V1Error(
            HTTPStatus.UNAUTHORIZED,
            "Invalid API key: send your v1 key as the Basic username or a Bearer token",
            headers={"WWW-Authenticate": WWW_AUTHENTICATE},
        )
    context_of(request).principal = principal
    return await handler(request)


def reload_key_map(app: web.Application, load: Callable[[], KeyMap]) -> bool:
    """SIGHUP: read the configuration again and swap in its key map, atomically.

    Only the key map changes (listening address, upstream and store need a restart).
    A configuration that does not load is refused and the running key map is kept.
    Requests in flight finish with the principal they already resolved.
    """
    reload_log = structlog.get_logger("homerun_bridge.config")
    try:
        keys = load()
    except ConfigError as exc:
        reload_log.error("config.reload_refused", error=str(exc), kept=app[BRIDGE].keys.labels)
        return False
    app[BRIDGE].keys = keys
    reload_log.info("config.reloaded", key_labels=keys.labels, mode=keys.mode)
    return True


def create_app(
    settings: BridgeSettings, keys: KeyMap, store: Store | None = None
) -> web.Application:
    """The bridge as an aiohttp app (``web.run_app`` it, or serve it in tests)."""
    app = web.Application(
        middlewares=[
            browsers.BrowserAnswers(settings),
            tracing_middleware,
            v1_envelope_middleware,
            lifecycle.InFlightRequests(),
            auth_middleware,
        ],
        client_max_size=settings.max_body_bytes,
    )
    metrics = BridgeMetrics()
    # Guarded: a store fault costs a request nothing the bridge could serve without it.
    shared_store = guard_store(
        store
        if store is not None
        else open_store(settings.store_url, settings.store_prefix, settings.store_timeout_seconds),
        timeout_seconds=settings.store_timeout_seconds,
        outage_share=settings.store_outage_share,
        metrics=metrics,
    )
    budget = (
        Budget(settings.rate_limit_per_minute, burst=settings.rate_limit_burst)
        if settings.rate_limit_per_minute
        else None
    )
    upstream = UpstreamClient(
        settings.upstream_url,
        settings.upstream_timeout_seconds,
        UpstreamPacer(shared_store, budget, settings.rate_limit_deadline_seconds),
        ReadEconomy(shared_store, settings.cache_ttl_seconds),
        connections=settings.upstream_connections,
        retries=settings.upstream_retries,
        metrics=metrics,
        max_body_bytes=settings.max_upstream_body_bytes,
        pool_wait_seconds=settings.upstream_pool_wait_seconds,
    )
    usage = UsageBook(
        shared_store,
        record_addresses=settings.usage_record_addresses,
        trust_forwarded_for=settings.usage_trust_forwarded_for,
    )
    app[BRIDGE] = Bridge(
        settings=settings,
        keys=keys,
        upstream=upstream,
        store=shared_store,
        drafts=DraftBook(shared_store, settings.draft_ttl_seconds),
        metrics=metrics,
        usage=usage,
    )

    async def resources(app: web.Application) -> AsyncIterator[None]:
        await upstream.start()
        yield
        await upstream.close()
        await shared_store.close()

    app.cleanup_ctx.append(resources)
    app.cleanup_ctx.append(lambda _app: usage.run())
    v1_router.register(app.router)
    operator_routes.register(app.router)
    return app

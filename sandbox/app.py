"""The sandbox aiohttp application: API v2 under /v2, file downloads, and the admin API.

Every /v2 request goes through one dispatcher that checks, in the order of spec §10.1:
authentication (401), rate limit (429), plan (402), route (404, wrong methods included), scope
(403); the handler then validates (400) and looks up (404). Errors always use the v2 body and
unexpected exceptions become a 500 with that body, never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from http import HTTPStatus

import orjson
from aiohttp import web

from sandbox import admin, downloads
from sandbox.config import KeySpec, SandboxConfig
from sandbox.errors import ApiError, error_body
from sandbox.faults import (
    DroppedConnection,
    drip,
    malformed_response,
    schema_mismatch_response,
    synthesized_status,
    unreadable_after_write,
)
from sandbox.handlers import RouteMatch, V2Call, resolve_v2_route
from sandbox.ratelimit import RateDecision
from sandbox.sparse import Thinner
from sandbox.state import SANDBOX_STATE, SandboxState

__all__ = ["SANDBOX_STATE", "create_app"]

logger = logging.getLogger("sandbox")

# JSON bodies above this are refused with 400; uploads stream and have their own limits.
MAX_JSON_BODY_BYTES = 2 * 1024 * 1024
UNMATCHED_ROUTE = ""
ADMIN_PREFIX = "/_sandbox/"

RequestHandler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def base_url_of(request: web.Request, config: SandboxConfig) -> str:
    if config.public_base_url is not None:
        return config.public_base_url
    return f"{request.scheme}://{request.host}"


def bearer_key(request: web.Request) -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


def error_response(error: ApiError) -> web.Response:
    return web.Response(
        status=error.status, body=orjson.dumps(error.body()), content_type="application/json"
    )


class V2Dispatcher:
    """Runs one /v2 request through the checks, the handler and the bookkeeping."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.config = state.config
        seed = self.config.sparse_seed if self.config.sparse_seed is not None else self.config.seed
        self.thinner = Thinner(seed) if self.config.sparse else None

    async def handle(self, request: web.Request) -> web.StreamResponse:
        match = resolve_v2_route(request.method, request.rel_url.raw_path)
        template = match.route.template if match else UNMATCHED_ROUTE
        try:
            response = await self._answer(request, match)
        except ConnectionError:
            raise  # the client went away mid-request; there is nobody to answer
        except Exception:
            logger.exception("sandbox handler failed for %s %s", request.method, request.path)
            response = error_response(ApiError(HTTPStatus.INTERNAL_SERVER_ERROR))
        if self.thinner is not None and match is not None:
            self._thin(request, template, response)
        route_label = f"/v2{template}" if match else "(unmatched)"
        self.state.stats.requests_by_route[f"{request.method} {route_label}"] += 1
        self._notify_observer(request, template, response)
        return response

    async def _answer(self, request: web.Request, match: RouteMatch | None) -> web.Response:
        stats = self.state.stats
        key = bearer_key(request)
        key_spec = self.config.keys.get(key) if key is not None else None
        if key is None or key_spec is None:
            stats.unauthenticated += 1
            return error_response(ApiError(HTTPStatus.UNAUTHORIZED))
        stats.requests[key] += 1
        decision = self.state.limiter.hit(key) if self.state.limiter is not None else None
        if decision is not None and not decision.allowed:
            stats.rate_limited[key] += 1
            refused = error_response(
                ApiError(HTTPStatus.TOO_MANY_REQUESTS, self.config.rate_limit_message)
            )
            return self._with_rate_headers(refused, decision)
        try:
            response = await self._authorised(request, match, key_spec)
        except ApiError as error:
            response = error_response(error)
        return self._with_rate_headers(response, decision)

    async def _authorised(
        self, request: web.Request, match: RouteMatch | None, key_spec: KeySpec
    ) -> web.Response:
        if not key_spec.has_api_plan:
            raise ApiError(HTTPStatus.PAYMENT_REQUIRED)
        if match is None:
            raise ApiError(HTTPStatus.NOT_FOUND)
        if not match.route.scopes <= key_spec.scopes:
            raise ApiError(HTTPStatus.FORBIDDEN)
        call = V2Call(
            request=request,
            state=self.state,
            key=key_spec,
            params=match.params,
            base_url=base_url_of(request, self.config),
            route_template=match.route.template,
        )
        return await match.route.handler(call)

    def _thin(self, request: web.Request, template: str, response: web.Response) -> None:
        """Sparse mode: a 2xx JSON answer keeps only some of what the spec leaves optional."""
        assert self.thinner is not None
        body = response.body
        if not 200 <= response.status < 300 or not isinstance(body, bytes) or not body:
            return
        if response.content_type != "application/json":
            return
        document = orjson.loads(body)
        response.body = orjson.dumps(
            self.thinner.thin(request.method, request.path_qs, template, document)
        )

    def _with_rate_headers(
        self, response: web.Response, decision: RateDecision | None
    ) -> web.Response:
        if decision is not None:
            response.headers.update(decision.headers(self.config.clock()))
        return response

    def _notify_observer(self, request: web.Request, template: str, response: web.Response) -> None:
        observer = self.config.on_response
        if observer is None:
            return
        body = response.body if isinstance(response.body, bytes) else b""
        try:
            observer(
                request.method,
                request.path,
                template,
                response.status,
                dict(response.headers),
                body,
            )
        except Exception:
            # A broken observer must not turn a good answer into a failure.
            logger.exception("sandbox on_response observer failed")


@web.middleware
async def inject_faults(request: web.Request, handler: RequestHandler) -> web.StreamResponse:
    """Apply the first matching fault rule, if any, around the normal handling."""
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    state = request.app[SANDBOX_STATE]
    fault = state.faults.take(request.method, request.path)
    if fault is None:
        return await handler(request)
    state.stats.faults_injected += 1
    if fault.action == "latency":
        await asyncio.sleep(fault.latency_ms / 1000)
        return await handler(request)
    if fault.action == "status":
        return synthesized_status(fault, state.config.rate_limit_message)
    if fault.action == "drop_before":
        return DroppedConnection()
    if fault.action == "drop_after":
        await handler(request)
        return DroppedConnection()
    if fault.action == "malformed":
        return malformed_response(fault)
    if fault.action == "schema_mismatch":
        return schema_mismatch_response(fault)
    if fault.action == "unreadable_after_write":
        return unreadable_after_write(await handler(request), fault)
    return await drip(request, await handler(request), fault)


@web.middleware
async def json_errors_elsewhere(
    request: web.Request, handler: RequestHandler
) -> web.StreamResponse:
    """Outside /v2 too, unknown paths and failures answer JSON rather than aiohttp's text."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < HTTPStatus.BAD_REQUEST:
            raise
        return web.Response(
            status=exc.status,
            body=orjson.dumps(error_body(exc.status)),
            content_type="application/json",
        )


def create_app(config: SandboxConfig | None = None) -> web.Application:
    """A ready-to-run sandbox; start it with `web.run_app(create_app(...))` or a test server."""
    config = config if config is not None else SandboxConfig()
    app = web.Application(
        middlewares=[inject_faults, json_errors_elsewhere], client_max_size=MAX_JSON_BODY_BYTES
    )
    state = SandboxState(config)
    app[SANDBOX_STATE] = state
    app.router.add_route("*", "/v2{tail:(/.*)?}", V2Dispatcher(state).handle)
    downloads.add_routes(app)
    admin.add_routes(app, config)
    return app

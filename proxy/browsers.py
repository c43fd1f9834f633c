"""What browsers need from the v1 face: CORS for careers widgets, and gzip (contract §1 rev 2).

V1 accepted Bearer keys for cross-origin requests: careers-site widgets call it from the
visitor's browser. For an origin the operator allowed (``cors_allowed_origins``):

- the preflight (``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) is
  answered here, before routing and authentication: 204, no upstream call, no budget spent;
- every other answer to that origin, errors included, carries
  ``Access-Control-Allow-Origin`` and ``Access-Control-Expose-Headers``.

A disallowed origin gets no ``Access-Control-*`` header at all (the browser then blocks
the answer), and its preflight goes on as any ``OPTIONS`` would. Only ``/v1`` speaks CORS:
the operator surface is not for browsers on other origins.

Answers of at least ``gzip_min_bytes`` are gzip-compressed when the request's
``Accept-Encoding`` allows gzip (here, up to ``SYNC_GZIP_MAX_BYTES``; larger ones by
aiohttp's ``enable_compression`` in a thread), with ``Content-Length`` the compressed
size. Such answers say ``Vary: Accept-Encoding`` whether or not this client took gzip, so
a shared cache keeps the two apart. An answer kept rendered (``proxy.rendered``) is sent
from its own gzip copy, compressed once.

The middleware is the outermost one: it sees the final answer, whichever layer built it.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from email.utils import format_datetime
from http import HTTPStatus
from typing import Final

import structlog
from aiohttp import hdrs, web
from aiohttp.web_response import ContentCoding

from proxy.config import BridgeSettings
from proxy.context import request_id_for
from proxy.rendered import RenderedResponse, gzip_bytes
from proxy.state import BRIDGE, DEPRECATION, DEPRECATION_LINK

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ALLOW_METHODS: Final = "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
ALLOW_HEADERS: Final = "Authorization, Content-Type, Cache-Control, X-Request-Id"
EXPOSE_HEADERS: Final = "X-Request-Id, X-Upstream-Calls, Deprecation, Link, Sunset, Retry-After"
# Chromium caps a cached preflight at 2 hours; 10 minutes lets an origin change reach widgets.
PREFLIGHT_MAX_AGE_SECONDS: Final = 600
PREFLIGHT_ROUTE: Final = "cors-preflight"  # the route label of preflights in logs and metrics
# Answers up to this size are gzipped in the request's own turn at zlib level 1: aiohttp
# would hand every body over 4 KiB to a thread (the hand-off and the contention for the
# GIL cost more than the compression) at level 6 (about twice level 1's time, for answers
# about 10 % smaller). Larger ones still go to aiohttp's thread, so as not to hold the loop.
SYNC_GZIP_MAX_BYTES: Final = 256 * 1024
GZIP_FAST_LEVEL: Final = 1  # the default of gzip_level

log = structlog.get_logger("homerun_bridge.access")


@functools.lru_cache(maxsize=256)  # clients send the same few values on every request
def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (RFC 9110 §12.5.3, ``q=0`` refuses)."""
    explicit: float | None = None
    wildcard: float | None = None
    for item in accept_encoding.split(","):
        coding, _, params = item.partition(";")
        coding = coding.strip().lower()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if coding in ("gzip", "x-gzip"):
            explicit = quality
        elif coding == "*":
            wildcard = quality
    if explicit is not None:
        return explicit > 0
    return wildcard is not None and wildcard > 0


def add_vary(response: web.StreamResponse, *tokens: str) -> None:
    """Add tokens to ``Vary`` without repeating one already there."""
    present = [t.strip() for t in response.headers.get(hdrs.VARY, "").split(",") if t.strip()]
    known = {t.lower() for t in present}
    present += [t for t in tokens if t.lower() not in known]
    response.headers[hdrs.VARY] = ", ".join(present)


class BrowserAnswers:
    """Middleware: CORS preflights answered, CORS headers added, large answers gzipped."""

    __middleware_version__ = 1

    def __init__(self, settings: BridgeSettings) -> None:
        origins = settings.cors_allowed_origins
        self.any_origin = origins == ["*"]
        self.origins = frozenset(origins)
        self.gzip_min_bytes = settings.gzip_min_bytes
        self.gzip_level = settings.gzip_level
        self.sunset = (
            format_datetime(settings.sunset, usegmt=True) if settings.sunset is not None else None
        )

    def allowed(self, origin: str | None) -> bool:
        if origin is None or not self.origins:
            return False
        return self.any_origin or origin.lower() in self.origins

    async def __call__(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/v1"):
            return await handler(request)
        origin = request.headers.get(hdrs.ORIGIN)
        allowed = self.allowed(origin)
        if allowed and self._is_preflight(request):
            response: web.StreamResponse = self._preflight(request, origin or "*")
        else:
            response = await handler(request)
        if response.prepared:
            return response  # streamed: its headers are already on the wire
        if self.origins:
            self._cors_headers(response, origin if allowed else None)
        if self.gzip_min_bytes:
            self._compress(request, response)
        return response

    @staticmethod
    def _is_preflight(request: web.Request) -> bool:
        return (
            request.method == hdrs.METH_OPTIONS
            and hdrs.ACCESS_CONTROL_REQUEST_METHOD in request.headers
        )

    def _preflight(self, request: web.Request, origin: str) -> web.Response:
        started = time.perf_counter()
        request_id = request_id_for(request)
        # The v1 headers every answer carries: a preflight never reaches the v1 envelope.
        response = web.Response(
            status=HTTPStatus.NO_CONTENT,
            headers={
                hdrs.ACCESS_CONTROL_ALLOW_METHODS: ALLOW_METHODS,
                hdrs.ACCESS_CONTROL_ALLOW_HEADERS: ALLOW_HEADERS,
                hdrs.ACCESS_CONTROL_MAX_AGE: str(PREFLIGHT_MAX_AGE_SECONDS),
                "X-Request-Id": request_id,
                "Deprecation": DEPRECATION,
                "Link": DEPRECATION_LINK,
                "X-Upstream-Calls": "0",
            },
        )
        if self.sunset is not None:
            response.headers["Sunset"] = self.sunset
        metrics = request.app[BRIDGE].metrics
        metrics.v1_requests.labels(request.method, PREFLIGHT_ROUTE, "204", "-").inc()
        log.info(
            "request",
            request_id=request_id,
            key_label="-",
            method=request.method,
            route=PREFLIGHT_ROUTE,
            status=response.status,
            latency_ms=round((time.perf_counter() - started) * 1000, 2),
            upstream_calls=0,
            origin=origin,
        )
        return response

    def _cors_headers(self, response: web.StreamResponse, origin: str | None) -> None:
        # Whether an answer carries CORS headers depends on Origin: caches must key on it.
        add_vary(response, "Origin")
        if origin is None:
            return
        response.headers[hdrs.ACCESS_CONTROL_ALLOW_ORIGIN] = "*" if self.any_origin else origin
        response.headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = EXPOSE_HEADERS

    def _compress(self, request: web.Request, response: web.StreamResponse) -> None:
        if isinstance(response, RenderedResponse):
            self._send_rendered(request, response)
            return
        if not isinstance(response, web.Response) or hdrs.CONTENT_ENCODING in response.headers:
            return
        body = response.body
        if not isinstance(body, bytes | bytearray) or len(body) < self.gzip_min_bytes:
            return
        add_vary(response, "Accept-Encoding")
        if not accepts_gzip(request.headers.get(hdrs.ACCEPT_ENCODING, "")):
            return
        if len(body) <= SYNC_GZIP_MAX_BYTES:
            response.body = gzip_bytes(bytes(body), self.gzip_level)
            response.headers[hdrs.CONTENT_ENCODING] = "gzip"
        else:
            response.enable_compression(ContentCoding.gzip)

    def _send_rendered(self, request: web.Request, response: RenderedResponse) -> None:
        """A kept answer (``proxy.rendered``) as any large answer is sent, from its own
        gzip copy (compressed once); its 304 varies as its 200 does."""
        if len(response.answer.body) < self.gzip_min_bytes:
            return
        add_vary(response, "Accept-Encoding")
        if accepts_gzip(request.headers.get(hdrs.ACCEPT_ENCODING, "")):
            response.send_gzipped()


def describe(settings: BridgeSettings) -> str:
    """One line for ``check-config``: what browsers get."""
    origins = settings.cors_allowed_origins
    cors = f"CORS for {', '.join(origins)}" if origins else "CORS off"
    size = settings.gzip_min_bytes
    level = settings.gzip_level
    gzip = f"gzip (level {level}) for answers of {size} bytes or more" if size else "gzip off"
    return f"browsers: {cors}; {gzip}"

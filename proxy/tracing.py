"""OpenTelemetry traces, opt-in: a server span per v1 request, a client span per v2 call.

On or off is decided once, at start-up, from the standard environment variables
(:func:`tracing_requested`):

    OTEL_SDK_DISABLED=true                       off, whatever else is set
    OTEL_TRACES_EXPORTER=otlp | console | both   on, with those exporters ("none": off)
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
    OTEL_EXPORTER_OTLP_ENDPOINT                  on, exporting OTLP when no exporter is named
    none of them                                 off (OTEL_SERVICE_NAME alone turns nothing on)

OTLP goes over HTTP/protobuf (``OTEL_EXPORTER_OTLP_PROTOCOL`` may be ``http/protobuf`` or
unset; gRPC is not shipped and is refused at start-up, as is an exporter name the bridge
does not know). Everything else the SDK reads from the environment applies: headers,
timeout, compression, ``OTEL_TRACES_SAMPLER``, ``OTEL_BSP_*``, ``OTEL_RESOURCE_ATTRIBUTES``.
The service is ``homerun-bridge`` unless ``OTEL_SERVICE_NAME`` says otherwise.

Off, the hooks cost a flag test: no span object, no header, nothing exported. On:

- a SERVER span per request under ``/v1`` (probes and operator routes are not traced),
  named ``METHOD route-template``, a child of the client's W3C ``traceparent`` when it
  sends a valid one, with ``http.request.method``, ``http.route``,
  ``http.response.status_code``, ``homerun_bridge.key_label``, ``homerun_bridge.cache_hit``,
  ``homerun_bridge.upstream_calls``, ``homerun_bridge.request_id`` (the ``X-Request-Id``);
  an ``upstream.retry`` event per retry and a ``rate_limit.wait`` event with the seconds
  spent waiting for the v2 budget (pacing and 429s);
- a CLIENT span per v2 HTTP call, child of the server span, named ``METHOD v2-route``
  (``proxy.metrics.v2_endpoint``), with ``http.request.method``, ``url.template``,
  ``http.response.status_code`` (absent when no answer came: ``error.type`` says why)
  and ``homerun_bridge.attempt`` (1 the first time this request made this call, 2 its
  first retry...); its context goes to v2 as ``traceparent``.

No attribute or event holds a key, an ``Authorization`` value, a query string or an
exception message: keys appear only as their configured label.

Spans are batched (``BatchSpanProcessor``, bounded queue) and sent by a background
thread; at exit what is left is flushed for at most :data:`EXIT_FLUSH_SECONDS`, so a
collector that is away does not stretch the shutdown bound.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from contextvars import ContextVar
from typing import Final

import structlog
from aiohttp import web
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from mappings.plan import V2Request
from proxy import __version__
from proxy.config import ConfigError
from proxy.context import CONTEXT_KEY
from proxy.metrics import v2_endpoint

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

SERVICE_NAME: Final = "homerun-bridge"
EXPORTERS: Final = frozenset({"otlp", "console"})
# What is left in the queue at exit gets this long; the shutdown bound has a second.
EXIT_FLUSH_SECONDS: Final = 0.2

# Read on every request: the one thing the hooks look at when tracing is off.
ENABLED: bool = False
_tracer: Tracer | None = None
_PROPAGATOR: Final = TraceContextTextMapPropagator()

log = structlog.get_logger("homerun_bridge.tracing")


class _RequestTrace:
    """The server span of the v1 request being handled, and the v2 calls made under it."""

    __slots__ = ("attempts", "span")

    def __init__(self, span: Span) -> None:
        self.span = span
        self.attempts: dict[str, int] = {}


_CURRENT: ContextVar[_RequestTrace | None] = ContextVar("homerun_bridge_trace", default=None)


def _exporter_names(environ: Mapping[str, str]) -> list[str]:
    names = environ.get("OTEL_TRACES_EXPORTER", "").split(",")
    return [name.strip().lower() for name in names if name.strip()]


def tracing_requested(environ: Mapping[str, str]) -> bool:
    """Whether these environment variables ask for traces (see the module docstring)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    names = _exporter_names(environ)
    if names:
        return any(name != "none" for name in names)
    return bool(
        environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        or environ.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


def _checked_exporters(environ: Mapping[str, str]) -> list[str]:
    """The exporters to build; a value the bridge cannot honour is a start-up error."""
    names = [name for name in _exporter_names(environ) if name != "none"] or ["otlp"]
    unknown = sorted(set(names) - EXPORTERS)
    if unknown:
        raise ConfigError(
            f"OTEL_TRACES_EXPORTER names {', '.join(unknown)}: the bridge ships otlp "
            "(HTTP/protobuf) and console"
        )
    protocol = (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if "otlp" in names and protocol != "http/protobuf":
        raise ConfigError(
            f"OTEL_EXPORTER_OTLP_PROTOCOL is {protocol!r}: the bridge exports OTLP over "
            "http/protobuf only (a collector's port 4318, not gRPC's 4317)"
        )
    return names


def configure_tracing(environ: Mapping[str, str] | None = None) -> bool:
    """Set tracing up for this process when the environment asks for it; say if it did.

    Called once at start-up (``homerun-bridge serve`` / ``demo``), before the app serves.
    """
    environ = os.environ if environ is None else environ
    if not tracing_requested(environ):
        return False
    names = _checked_exporters(environ)
    # The SDK and the exporter load only when tracing is on.
    from opentelemetry.sdk.resources import SERVICE_NAME as SERVICE_NAME_KEY
    from opentelemetry.sdk.resources import SERVICE_VERSION, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import (
        BatchSpanProcessor,
        ConsoleSpanExporter,
        SpanExporter,
    )

    resource = Resource.create({SERVICE_VERSION: __version__})
    if str(resource.attributes.get(SERVICE_NAME_KEY, "")).startswith("unknown_service"):
        resource = resource.merge(Resource({SERVICE_NAME_KEY: SERVICE_NAME}))
    provider = TracerProvider(resource=resource, shutdown_on_exit=False)
    for name in names:
        exporter: SpanExporter
        if name == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            exporter = OTLPSpanExporter()
        else:
            exporter = ConsoleSpanExporter()
        provider.add_span_processor(BatchSpanProcessor(exporter))

    def flush_at_exit() -> None:
        # The SDK's shutdown may wait 30 s on a collector that is away: it gets a bound.
        flushing = threading.Thread(target=provider.shutdown, name="otel-exit", daemon=True)
        flushing.start()
        flushing.join(EXIT_FLUSH_SECONDS)

    atexit.register(flush_at_exit)
    trace.set_tracer_provider(provider)
    install(provider)
    # The endpoint and headers may carry a collector's credentials: only names are logged.
    log.info(
        "tracing.on",
        exporters=names,
        service_name=str(resource.attributes.get(SERVICE_NAME_KEY)),
    )
    return True


def install(provider: trace.TracerProvider) -> None:
    """Trace with this provider from now on (``configure_tracing`` uses it; so do tests)."""
    global ENABLED, _tracer
    _tracer = provider.get_tracer("homerun_bridge", __version__)
    ENABLED = True


def uninstall() -> None:
    """Stop tracing (tests): the hooks go back to a flag test."""
    global ENABLED, _tracer
    ENABLED = False
    _tracer = None


@web.middleware
async def tracing_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A server span around each v1 request, when tracing is on."""
    if not ENABLED or not request.path.startswith("/v1"):
        return await handler(request)
    return await _in_server_span(request, handler)


async def _in_server_span(request: web.Request, handler: Handler) -> web.StreamResponse:
    assert _tracer is not None
    method = request.method
    parent = _PROPAGATOR.extract(request.headers)
    span = _tracer.start_span(
        method, context=parent, kind=SpanKind.SERVER, attributes={"http.request.method": method}
    )
    request_trace = _RequestTrace(span)
    attached = otel_context.attach(trace.set_span_in_context(span, parent))
    current = _CURRENT.set(request_trace)
    try:
        response = await handler(request)
    except BaseException as exc:
        # The client left, or shutdown cut it: no answer was written.
        span.set_attribute("error.type", type(exc).__name__)
        span.set_status(Status(StatusCode.ERROR))
        raise
    else:
        span.set_attribute("http.response.status_code", response.status)
        if response.status >= 500:
            span.set_attribute("error.type", str(response.status))
            span.set_status(Status(StatusCode.ERROR))
        return response
    finally:
        _CURRENT.reset(current)
        otel_context.detach(attached)
        _describe_request(span, request)
        span.end()


def _describe_request(span: Span, request: web.Request) -> None:
    """What the bridge's own bookkeeping learnt about the request (labels, never keys)."""
    ctx = request.get(CONTEXT_KEY)
    if ctx is None:
        return
    if ctx.route and ctx.route != "unmatched":
        span.update_name(f"{request.method} {ctx.route}")
        span.set_attribute("http.route", ctx.route)
    span.set_attributes(
        {
            "homerun_bridge.request_id": ctx.request_id,
            "homerun_bridge.key_label": ctx.label,
            "homerun_bridge.cache_hit": ctx.cache_hit,
            "homerun_bridge.upstream_calls": ctx.upstream_calls,
        }
    )
    if ctx.rate_limit_wait > 0:
        span.add_event(
            "rate_limit.wait", {"homerun_bridge.wait_seconds": round(ctx.rate_limit_wait, 3)}
        )


class V2CallSpan:
    """The client span of one v2 HTTP call; ended with the status v2 answered (0: none)."""

    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        self._span = span

    def end(self, status: int) -> None:
        span = self._span
        if status:
            span.set_attribute("http.response.status_code", status)
        if status == 0:
            # Called from a ``finally``: what is propagating is why no answer came.
            error = sys.exc_info()[1]
            cause = error.__cause__ if error is not None and error.__cause__ else error
            span.set_attribute("error.type", type(cause).__name__ if cause else "no answer")
            span.set_status(Status(StatusCode.ERROR))
        elif status >= 400:
            span.set_attribute("error.type", str(status))
            span.set_status(Status(StatusCode.ERROR))
        span.end()


class _NoCallSpan:
    """Tracing off, or a call outside any v1 request: nothing to record."""

    __slots__ = ()

    def end(self, status: int) -> None:
        pass


_NO_CALL_SPAN: Final = _NoCallSpan()


def trace_v2_call(call: V2Request, headers: MutableMapping[str, str]) -> V2CallSpan | _NoCallSpan:
    """Open the client span of this v2 call and put its ``traceparent`` into ``headers``.

    End it (``.end(status)``) in the ``finally`` of the call.
    """
    if not ENABLED:
        return _NO_CALL_SPAN
    request_trace = _CURRENT.get()
    if request_trace is None or _tracer is None:
        return _NO_CALL_SPAN
    # The same call again within one request is a retry of it (reads, idempotent writes).
    attempt = request_trace.attempts.get(call.cache_key, 0) + 1
    request_trace.attempts[call.cache_key] = attempt
    endpoint = v2_endpoint(call.path)
    span = _tracer.start_span(
        f"{call.method} {endpoint}",
        context=trace.set_span_in_context(request_trace.span),
        kind=SpanKind.CLIENT,
        attributes={
            "http.request.method": call.method,
            "url.template": endpoint,
            "homerun_bridge.attempt": attempt,
        },
    )
    _PROPAGATOR.inject(headers, context=trace.set_span_in_context(span))
    return V2CallSpan(span)


def trace_retry(call: V2Request, retry: int) -> None:
    """An ``upstream.retry`` event on the request's span (``retry``: 1 for the first)."""
    if not ENABLED:
        return
    request_trace = _CURRENT.get()
    if request_trace is not None:
        request_trace.span.add_event(
            "upstream.retry",
            {
                "http.request.method": call.method,
                "url.template": v2_endpoint(call.path),
                "homerun_bridge.retry": retry,
            },
        )

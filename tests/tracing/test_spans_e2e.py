"""Traces through a real bridge before a real sandbox, read from the in-memory exporter.

Each test drives the bridge over loopback as a client would and asserts on what an
operator's tracing backend would show: one server span per v1 request (parented under the
client's ``traceparent``), a client span per v2 call with its attempt, retries as events,
the ``traceparent`` v2 received, and no key or ``Authorization`` value anywhere.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from proxy import tracing
from proxy.app import create_app
from proxy.config import ConfigError
from proxy.keys import build_key_map
from sandbox import create_app as create_sandbox
from tests.conftest_sandbox import RunningSandbox, make_sandbox_config
from tests.proxy.conftest import FULL, KEYS, Harness, bridge_settings

# Ids a client's tracer would have made; the bridge's spans must continue this trace.
CLIENT_TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN_ID = "00f067aa0ba902b7"
CLIENT_TRACEPARENT = f"00-{CLIENT_TRACE_ID}-{CLIENT_SPAN_ID}-01"
SECRETS = [v1 for v1 in KEYS] + [v2 for _, _, v2 in KEYS.values()] + ["Basic ", "Bearer "]


def _hex_trace(span: ReadableSpan) -> str:
    return f"{span.context.trace_id:032x}"


def _by_kind(spans: Iterable[ReadableSpan], kind: SpanKind) -> list[ReadableSpan]:
    return [span for span in spans if span.kind is kind]


def _children(spans: Iterable[ReadableSpan], parent: ReadableSpan) -> list[ReadableSpan]:
    return [s for s in spans if s.parent is not None and s.parent.span_id == parent.context.span_id]


@pytest.fixture
async def recording_harness(
    bridge_env: None, aiohttp_server: Callable[..., Awaitable[TestServer]]
) -> AsyncIterator[tuple[Harness, list[dict[str, str]]]]:
    """The end-to-end harness, with the headers of every request the sandbox received."""
    received: list[dict[str, str]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        if request.path.startswith("/v2"):
            received.append(dict(request.headers))
        return await handler(request)

    config = make_sandbox_config()
    sandbox_app = create_sandbox(config)
    sandbox_app.middlewares.insert(0, record)  # outermost: sees what fault rules answer too
    sandbox = RunningSandbox(server=await aiohttp_server(sandbox_app), config=config)
    settings = bridge_settings(sandbox)
    bridge = await aiohttp_server(create_app(settings, build_key_map(settings)))
    async with aiohttp.ClientSession() as http:
        yield Harness(bridge, sandbox, http), received


async def test_off_no_span_and_no_traceparent_to_v2(
    recording_harness: tuple[Harness, list[dict[str, str]]],
) -> None:
    harness, received = recording_harness
    assert not tracing.ENABLED
    async with await harness.get("/v1/jobs", headers={"traceparent": CLIENT_TRACEPARENT}) as r:
        assert r.status == 200
        assert int(r.headers["X-Upstream-Calls"]) >= 1
    assert received, "the list reached v2"
    # Off means off: the client's trace is not passed on either.
    assert all("traceparent" not in {k.lower() for k in headers} for headers in received)


async def test_a_request_is_a_server_span_with_a_child_per_v2_call(
    recording_harness: tuple[Harness, list[dict[str, str]]], exported: InMemorySpanExporter
) -> None:
    harness, received = recording_harness
    async with await harness.get("/v1/jobs") as response:
        assert response.status == 200
        calls = int(response.headers["X-Upstream-Calls"])
        request_id = response.headers["X-Request-Id"]
    spans = exported.get_finished_spans()
    (server,) = _by_kind(spans, SpanKind.SERVER)
    assert server.name == "GET /v1/jobs"
    assert server.parent is None  # no traceparent came: the bridge starts the trace
    assert dict(server.attributes or {}) == {
        "http.request.method": "GET",
        "http.route": "/v1/jobs",
        "http.response.status_code": 200,
        "homerun_bridge.request_id": request_id,
        "homerun_bridge.key_label": "careers-site",
        "homerun_bridge.cache_hit": False,
        "homerun_bridge.upstream_calls": calls,
    }
    clients = _by_kind(spans, SpanKind.CLIENT)
    assert len(clients) == calls == len(received)
    assert _children(spans, server) == clients
    for client in clients:
        attributes = dict(client.attributes or {})
        assert client.name == f"GET {attributes['url.template']}"
        assert str(attributes["url.template"]).startswith("/vacancies")
        assert attributes["http.response.status_code"] == 200
        assert attributes["homerun_bridge.attempt"] == 1
        assert client.status.status_code is StatusCode.UNSET
    # v2 got each call's own span as its parent.
    sent = sorted(headers["traceparent"] for headers in received)
    expected = sorted(
        f"00-{_hex_trace(c)}-{c.context.span_id:016x}-{c.context.trace_flags:02x}" for c in clients
    )
    assert sent == expected


async def test_a_client_traceparent_is_continued(
    recording_harness: tuple[Harness, list[dict[str, str]]], exported: InMemorySpanExporter
) -> None:
    harness, received = recording_harness
    async with await harness.get("/v1/jobs", headers={"traceparent": CLIENT_TRACEPARENT}) as r:
        assert r.status == 200
    spans = exported.get_finished_spans()
    (server,) = _by_kind(spans, SpanKind.SERVER)
    assert server.parent is not None and server.parent.is_remote
    assert f"{server.parent.span_id:016x}" == CLIENT_SPAN_ID
    assert {_hex_trace(span) for span in spans} == {CLIENT_TRACE_ID}
    assert received and all(h["traceparent"].split("-")[1] == CLIENT_TRACE_ID for h in received)


@pytest.mark.parametrize(
    "traceparent",
    ["garbage", "00-" + "0" * 32 + "-" + CLIENT_SPAN_ID + "-01", "ff-" + CLIENT_TRACEPARENT[3:]],
)
async def test_a_bad_traceparent_starts_a_new_trace(
    recording_harness: tuple[Harness, list[dict[str, str]]],
    exported: InMemorySpanExporter,
    traceparent: str,
) -> None:
    harness, _ = recording_harness
    async with await harness.get("/v1/jobs", headers={"traceparent": traceparent}) as r:
        assert r.status == 200
    (server,) = _by_kind(exported.get_finished_spans(), SpanKind.SERVER)
    assert server.parent is None
    assert _hex_trace(server) != CLIENT_TRACE_ID


async def test_a_retried_v2_call_is_two_attempts_and_a_retry_event(
    recording_harness: tuple[Harness, list[dict[str, str]]], exported: InMemorySpanExporter
) -> None:
    harness, received = recording_harness
    await harness.faults(method="GET", path="^/v2/vacancies", action="status", status=503)
    async with await harness.get("/v1/jobs") as response:
        assert response.status == 200, await response.text()
        calls = int(response.headers["X-Upstream-Calls"])
    spans = exported.get_finished_spans()
    (server,) = _by_kind(spans, SpanKind.SERVER)
    clients = sorted(_children(spans, server), key=lambda span: span.start_time or 0)
    assert len(clients) == calls == len(received)
    failed, retried = clients[0], clients[1]
    assert failed.name == retried.name
    assert dict(failed.attributes or {})["http.response.status_code"] == 503
    assert dict(failed.attributes or {})["homerun_bridge.attempt"] == 1
    assert failed.status.status_code is StatusCode.ERROR
    assert dict(retried.attributes or {})["http.response.status_code"] == 200
    assert dict(retried.attributes or {})["homerun_bridge.attempt"] == 2
    (retry,) = [event for event in server.events if event.name == "upstream.retry"]
    assert dict(retry.attributes or {}) == {
        "http.request.method": "GET",
        "url.template": dict(failed.attributes or {})["url.template"],
        "homerun_bridge.retry": 1,
    }


async def test_no_key_or_authorization_in_any_span(
    recording_harness: tuple[Harness, list[dict[str, str]]], exported: InMemorySpanExporter
) -> None:
    """A session of reads, a write, a Bearer key, a wrong key and an error, scanned whole."""
    harness, _ = recording_harness
    async with await harness.get("/v1/jobs?status=open") as response:
        job_id = (await response.json())["data"][0]["id"]
    async with await harness.get(f"/v1/jobs/{job_id}") as response:
        assert response.status == 200
    form = {
        "job": job_id,
        "candidate[first_name]": "Sanne",
        "candidate[last_name]": "de Vries",
        "candidate[email]": "sanne@example.com",
    }
    async with await harness.post("/v1/applications", data=form) as response:
        assert response.status == 201, await response.text()
    bearer = {"Authorization": "Bearer demo-v1-readonly"}
    async with harness.http.get(harness.url("/v1/jobs"), headers=bearer) as response:
        assert response.status == 200
    wrong = aiohttp.BasicAuth("demo-v2-key", "")  # a v2 key offered as a v1 key
    async with await harness.get("/v1/jobs", auth=wrong) as response:
        assert response.status == 401
    async with await harness.get("/v1/applications", auth=aiohttp.BasicAuth("v1-revoked")) as r:
        assert r.status == 401  # v2 rejects this integration's v2 key
    async with await harness.get("/v1/jobs/not-an-id", auth=FULL) as response:
        assert response.status in (400, 404)
    spans = exported.get_finished_spans()
    assert len(_by_kind(spans, SpanKind.SERVER)) == 7
    labels = {dict(s.attributes or {}).get("homerun_bridge.key_label") for s in spans}
    assert {"careers-site", "hr-sync", "revoked", "-"} <= labels
    texts: list[str] = []
    for span in spans:
        texts.append(span.name)
        texts += [f"{k}={v}" for k, v in (span.attributes or {}).items()]
        for event in span.events:
            texts.append(event.name)
            texts += [f"{k}={v}" for k, v in (event.attributes or {}).items()]
        texts.append(span.status.description or "")
    assert texts
    leaks = [(secret, text) for text in texts for secret in SECRETS if secret in text]
    assert leaks == []


async def test_pacing_waits_are_an_event_on_the_request(
    bridge_env: None,
    aiohttp_server: Callable[..., Awaitable[TestServer]],
    exported: InMemorySpanExporter,
) -> None:
    config = make_sandbox_config()
    sandbox = RunningSandbox(server=await aiohttp_server(create_sandbox(config)), config=config)
    # One v2 call a second per key, no burst: the second request waits for its slot.
    settings = bridge_settings(sandbox, rate_limit_per_minute=60, rate_limit_burst=1)
    bridge = await aiohttp_server(create_app(settings, build_key_map(settings)))
    async with aiohttp.ClientSession() as http:
        harness = Harness(bridge, sandbox, http)
        responses = []
        for _ in range(2):
            async with await harness.get("/v1/jobs") as response:
                responses.append(response.status)
    assert responses == [200, 200]
    servers = _by_kind(exported.get_finished_spans(), SpanKind.SERVER)
    waits = [e for s in servers for e in s.events if e.name == "rate_limit.wait"]
    assert waits, [s.events for s in servers]
    seconds = [float((e.attributes or {})["homerun_bridge.wait_seconds"]) for e in waits]
    assert all(value > 0 for value in seconds)


async def test_a_client_that_leaves_ends_the_span_as_an_error(
    recording_harness: tuple[Harness, list[dict[str, str]]], exported: InMemorySpanExporter
) -> None:
    harness, _ = recording_harness
    await harness.faults(method="GET", path="^/v2/vacancies", action="latency", latency_ms=3000)
    with pytest.raises(asyncio.TimeoutError):
        async with harness.http.get(
            harness.url("/v1/jobs"), auth=FULL, timeout=aiohttp.ClientTimeout(total=0.5)
        ):
            pass
    for _ in range(100):  # the handler is cancelled once the bridge sees the hang-up
        servers = _by_kind(exported.get_finished_spans(), SpanKind.SERVER)
        if servers:
            break
        await asyncio.sleep(0.05)
    (server,) = servers
    assert server.status.status_code is StatusCode.ERROR
    assert dict(server.attributes or {})["error.type"] == "CancelledError"


@pytest.mark.parametrize(
    ("environ", "on"),
    [
        ({}, False),
        ({"OTEL_SERVICE_NAME": "bridge"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://collector:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "  "}, False),
        ({"OTEL_TRACES_EXPORTER": "otlp"}, True),
        ({"OTEL_TRACES_EXPORTER": "console"}, True),
        ({"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}, False),
        ({"OTEL_SDK_DISABLED": "TRUE", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, False),
        ({"OTEL_SDK_DISABLED": "false", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, True),
    ],
)
def test_which_environment_turns_tracing_on(environ: dict[str, str], on: bool) -> None:
    assert tracing.tracing_requested(environ) is on
    if not on:
        assert tracing.configure_tracing(environ) is False
        assert not tracing.ENABLED


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"OTEL_TRACES_EXPORTER": "zipkin"}, "zipkin"),
        ({"OTEL_TRACES_EXPORTER": "otlp,jaeger"}, "jaeger"),
        (
            {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
            "grpc",
        ),
        (
            {"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/json"},
            "http/json",
        ),
    ],
)
def test_what_the_bridge_cannot_export_is_refused_at_start(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        tracing.configure_tracing(environ)
    assert not tracing.ENABLED

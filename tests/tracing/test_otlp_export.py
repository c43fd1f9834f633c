"""What a real bridge process sends to an OTLP/HTTP collector on loopback.

The collector is a small aiohttp server accepting ``POST /v1/traces`` and decoding the
protobuf with ``opentelemetry.proto``; the bridge is ``python -m proxy serve`` configured
only by the standard ``OTEL_*`` environment, before a real sandbox.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

from proxy import __version__
from tests.conftest_sandbox import StartSandbox
from tests.proxy.processes import AUTH, V1_KEY, spawn_bridge

CLIENT_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CLIENT_SPAN_ID = "b7ad6b7169203331"
COLLECTOR_TOKEN = "collector-token-not-a-bridge-secret"


@dataclass
class Collector:
    """Every export request the bridge made, decoded, with its raw bytes."""

    exports: list[ExportTraceServiceRequest] = field(default_factory=list)
    raw: list[bytes] = field(default_factory=list)
    tokens: list[str | None] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        assert request.content_type == "application/x-protobuf"
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        self.exports.append(export)
        self.raw.append(body)
        self.tokens.append(request.headers.get("X-Collector-Token"))
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )

    def spans(self) -> list[tuple[dict[str, Any], Span]]:
        """(resource attributes, span) for every span received."""
        return [
            (_attributes(resource_spans.resource.attributes), span)
            for export in self.exports
            for resource_spans in export.resource_spans
            for scope_spans in resource_spans.scope_spans
            for span in scope_spans.spans
        ]


def _attributes(pairs: Any) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for pair in pairs:
        assert isinstance(pair, KeyValue)
        kind = pair.value.WhichOneof("value")
        values[pair.key] = getattr(pair.value, kind) if kind else None
    return values


@pytest.fixture
async def collector(
    aiohttp_server: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Collector]:
    """A collector on loopback, and the environment that points a bridge at it."""
    received = Collector()
    app = web.Application()
    app.router.add_post("/v1/traces", received.handle)
    server: TestServer = await aiohttp_server(app)
    for name in (
        "OTEL_SDK_DISABLED",
        "OTEL_TRACES_EXPORTER",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_SERVICE_NAME",
        "OTEL_RESOURCE_ATTRIBUTES",
        "OTEL_TRACES_SAMPLER",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", str(server.make_url("")).rstrip("/"))
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", f"x-collector-token={COLLECTOR_TOKEN}")
    # Batches leave every 100 ms, so the test reads them while the bridge runs.
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    yield received


async def test_a_bridge_process_exports_its_spans_over_otlp_http(
    collector: Collector, start_sandbox: StartSandbox
) -> None:
    sandbox = await start_sandbox()
    traceparent = f"00-{CLIENT_TRACE_ID}-{CLIENT_SPAN_ID}-01"
    async with spawn_bridge(sandbox.api_url) as bridge, aiohttp.ClientSession() as http:
        headers = {**AUTH, "traceparent": traceparent}
        async with http.get(bridge.base + "/v1/jobs", headers=headers) as response:
            assert response.status == 200, await response.text()
            calls = int(response.headers["X-Upstream-Calls"])
        async with http.get(bridge.base + "/healthz") as response:
            assert response.status == 200  # not a v1 request: no span
        for _ in range(300):  # generous: a loaded machine may be slow to start the exporter
            ours = [s for _, s in collector.spans() if s.trace_id.hex() == CLIENT_TRACE_ID]
            if len(ours) >= 1 + calls:
                break
            await asyncio.sleep(0.05)
    spans = collector.spans()
    ours = [span for _, span in spans if span.trace_id.hex() == CLIENT_TRACE_ID]
    (server,) = [span for span in ours if span.kind == Span.SPAN_KIND_SERVER]
    assert server.name == "GET /v1/jobs"
    assert server.parent_span_id.hex() == CLIENT_SPAN_ID
    attributes = _attributes(server.attributes)
    assert attributes["http.route"] == "/v1/jobs"
    assert attributes["http.response.status_code"] == 200
    assert attributes["homerun_bridge.key_label"] == "replica"
    assert attributes["homerun_bridge.upstream_calls"] == calls
    clients = [span for span in ours if span.kind == Span.SPAN_KIND_CLIENT]
    assert len(clients) == calls
    assert {span.parent_span_id for span in clients} == {server.span_id}
    assert all(_attributes(span.attributes)["homerun_bridge.attempt"] == 1 for span in clients)
    # Only v1 requests are traced: the probe made no span.
    assert len(spans) == len(ours) == 1 + calls
    resource = spans[0][0]
    assert resource["service.name"] == "homerun-bridge"
    assert resource["service.version"] == __version__
    # The exporter honoured the standard environment (its headers), and no secret left.
    assert set(collector.tokens) == {COLLECTOR_TOKEN}
    for secret in (V1_KEY, "demo-v2-key", "Bearer", "Basic"):
        assert all(secret.encode() not in body for body in collector.raw), secret

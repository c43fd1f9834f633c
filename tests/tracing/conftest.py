"""Fixtures for the tracing tests: the bridge's tracer swapped for an in-memory exporter.

The end-to-end fixtures of ``tests.proxy.conftest`` (a real bridge before a real sandbox)
are imported here so these tests use the same harness.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from proxy import tracing
from tests.proxy.conftest import bridge_env, make_harness

__all__ = ["bridge_env", "exported", "make_harness"]


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    """Tracing on for the test (spans kept in memory, exported as each ends), then off."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    try:
        yield exporter
    finally:
        tracing.uninstall()
        provider.shutdown()

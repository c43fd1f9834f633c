"""Prometheus metrics (``GET /metrics``), one registry per app so tests stay independent."""

from __future__ import annotations

import re
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

_ID_SEGMENT: Final = re.compile(r"^/(job-applications|vacancies)/[^/]+")
LATENCY_BUCKETS: Final = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
)


class _LabelMemo:
    """``labels(…)`` remembers each child by the values it was given.

    prometheus_client turns every value into text and takes a lock on every call; the
    bridge asks for the same few label sets on every request, so the child is looked
    up once per label set. ``remove`` and ``clear`` forget the memo too.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._children: dict[tuple[object, ...], Any] = {}

    def labels(self, *labelvalues: object, **labelkwargs: object) -> Any:
        if labelkwargs:
            return super().labels(*labelvalues, **labelkwargs)  # type: ignore[misc]
        child = self._children.get(labelvalues)
        if child is None:
            child = super().labels(*labelvalues)  # type: ignore[misc]
            self._children[labelvalues] = child
        return child

    def remove(self, *labelvalues: Any) -> None:
        self._children.clear()
        super().remove(*labelvalues)  # type: ignore[misc]

    def clear(self) -> None:
        self._children.clear()
        super().clear()  # type: ignore[misc]


class _Counter(_LabelMemo, Counter):
    pass


class _Histogram(_LabelMemo, Histogram):
    pass


def v2_endpoint(path: str) -> str:
    """``/job-applications/ap_x/notes`` -> ``/job-applications/{id}/notes`` (bounded labels)."""
    return _ID_SEGMENT.sub(lambda m: f"/{m.group(1)}/{{id}}", path)


class BridgeMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.v1_requests = _Counter(
            "homerun_bridge_v1_requests",
            "v1 requests answered, by route, status and integration",
            ["method", "route", "status", "key_label"],
            registry=self.registry,
        )
        self.v1_latency = _Histogram(
            "homerun_bridge_v1_request_seconds",
            "Time to answer a v1 request",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.v2_calls = _Counter(
            "homerun_bridge_v2_calls",
            "Calls made to API v2, by endpoint and status (0 = no answer)",
            ["method", "endpoint", "status"],
            registry=self.registry,
        )
        self.v2_latency = _Histogram(
            "homerun_bridge_v2_call_seconds",
            "Duration of calls to API v2",
            ["method", "endpoint"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.cache_hits = Counter(
            "homerun_bridge_cache_hits",
            "v1 requests served (at least partly) from the cache or a shared call",
            registry=self.registry,
        )
        self.rate_limit_waits = Counter(
            "homerun_bridge_rate_limit_waits",
            "v1 requests that waited for API v2 budget",
            registry=self.registry,
        )
        self.rate_limit_wait_seconds = Counter(
            "homerun_bridge_rate_limit_wait_seconds",
            "Total time spent waiting for API v2 budget",
            registry=self.registry,
        )
        self.upstream_429 = Counter(
            "homerun_bridge_upstream_429",
            "429 answers received from API v2",
            registry=self.registry,
        )
        self.upstream_shed = Counter(
            "homerun_bridge_upstream_shed",
            "v2 calls refused (v1 503) before sending: no connection to API v2 came free",
            registry=self.registry,
        )
        self.client_connections_refused = Counter(
            "homerun_bridge_client_connections_refused",
            "Client connections answered 503 at once: max_client_connections were open",
            registry=self.registry,
        )
        self.upstream_too_large = Counter(
            "homerun_bridge_upstream_too_large",
            "API v2 answers abandoned for being larger than max_upstream_body_bytes",
            registry=self.registry,
        )
        self.store_errors = _Counter(
            "homerun_bridge_store_errors",
            "Store (Redis) operations that failed",
            ["operation"],
            registry=self.registry,
        )
        self.store_outages = Counter(
            "homerun_bridge_store_outages",
            "Times the shared store was marked down (served without it until it answered)",
            registry=self.registry,
        )
        self.write_answers_degraded = _Counter(
            "homerun_bridge_write_answers_degraded",
            "Writes v2 confirmed and answered as a success with part of the object unreadable",
            ["route"],
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

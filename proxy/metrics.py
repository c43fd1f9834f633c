"""Prometheus metrics (``GET /metrics``), one registry per app so tests stay independent."""

from __future__ import annotations

import re
from typing import Any, Final

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

_PREFIX: Final = "homerun_bridge_"
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
    """The bridge's metrics, each named ``homerun_bridge_<name>`` in its own registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        counter, histogram = self._counter, self._histogram
        self.v1_requests = counter(
            "v1_requests",
            "v1 requests answered, by route, status and integration",
            "method",
            "route",
            "status",
            "key_label",
        )
        self.v1_latency = histogram("v1_request_seconds", "Time to answer a v1 request", "route")
        self.v2_calls = counter(
            "v2_calls",
            "Calls made to API v2, by endpoint and status (0 = no answer)",
            "method",
            "endpoint",
            "status",
        )
        self.v2_latency = histogram(
            "v2_call_seconds", "Duration of calls to API v2", "method", "endpoint"
        )
        self.cache_hits = counter(
            "cache_hits", "v1 requests served (at least partly) from the cache or a shared call"
        )
        self.rate_limit_waits = counter(
            "rate_limit_waits", "v1 requests that waited for API v2 budget"
        )
        self.rate_limit_wait_seconds = counter(
            "rate_limit_wait_seconds", "Total time spent waiting for API v2 budget"
        )
        self.upstream_429 = counter("upstream_429", "429 answers received from API v2")
        self.upstream_shed = counter(
            "upstream_shed",
            "v2 calls refused (v1 503) before sending: no connection to API v2 came free",
        )
        self.client_connections_refused = counter(
            "client_connections_refused",
            "Client connections answered 503 at once: max_client_connections were open",
        )
        self.upstream_too_large = counter(
            "upstream_too_large",
            "API v2 answers abandoned for being larger than max_upstream_body_bytes",
        )
        self.store_errors = counter(
            "store_errors", "Store (Redis) operations that failed", "operation"
        )
        self.store_outages = counter(
            "store_outages",
            "Times the shared store was marked down (served without it until it answered)",
        )
        self.write_answers_degraded = counter(
            "write_answers_degraded",
            "Writes v2 confirmed and answered as a success with part of the object unreadable",
            "route",
        )

    def _counter(self, name: str, documentation: str, *labels: str) -> _Counter:
        return _Counter(f"{_PREFIX}{name}", documentation, labels, registry=self.registry)

    def _histogram(self, name: str, documentation: str, *labels: str) -> _Histogram:
        """Latencies, in the buckets every bridge histogram shares."""
        return _Histogram(
            f"{_PREFIX}{name}",
            documentation,
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    def exposition(self) -> bytes:
        return generate_latest(self.registry)

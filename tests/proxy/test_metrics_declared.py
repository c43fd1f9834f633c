"""The metrics declared through ``BridgeMetrics``' one counter/histogram factory: every
family carries the bridge's prefix and its help text, a metric without labels is exposed
(at zero) before anything happened, so a dashboard's series exist from the start, and
every histogram times in the buckets the bridge shares."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

from proxy.metrics import LATENCY_BUCKETS, BridgeMetrics


def test_every_family_is_prefixed_documented_and_unlabelled_ones_start_at_zero() -> None:
    metrics = BridgeMetrics()
    declared = [m for m in vars(metrics).values() if isinstance(m, Counter | Histogram)]
    assert len(declared) >= 14
    families = list(metrics.registry.collect())
    assert {f.name for f in families} == {m._name for m in declared}
    for family in families:
        assert family.name.startswith("homerun_bridge_") and family.documentation
    unlabelled = {m._name for m in declared if not m._labelnames}
    started = {f.name for f in families if f.samples and f.samples[0].value == 0}
    assert b"homerun_bridge_cache_hits_total 0.0" in metrics.exposition()
    assert unlabelled and unlabelled <= started


def test_histograms_share_the_latency_buckets() -> None:
    metrics = BridgeMetrics()
    metrics.v2_latency.labels("GET", "/vacancies").observe(0.2)
    metrics.v1_latency.labels("GET /v1/jobs").observe(0.2)
    for histogram in (metrics.v1_latency, metrics.v2_latency):
        buckets = {s.labels["le"] for s in histogram.collect()[0].samples if "le" in s.labels}
        assert buckets == {*(str(float(b)) for b in LATENCY_BUCKETS), "+Inf"}

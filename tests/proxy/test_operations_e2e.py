"""Operating the bridge: metrics move, the migration report, secret-free JSON logs."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from proxy.logs import configure_logging
from tests.proxy.conftest import FULL, READONLY, Harness

ADMIN = {"Authorization": "Bearer report-token"}


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _metrics(harness: Harness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with harness.http.get(harness.url("/metrics")) as response:
        assert response.status == 200
        return _samples(await response.text())


async def test_metrics_move_as_requests_flow(harness: Harness) -> None:
    before = await _metrics(harness)
    for _ in range(3):
        async with await harness.get("/v1/jobs"):
            pass
    async with await harness.get("/v1/jobs/job_doesnotexist0000000"):
        pass
    after = await _metrics(harness)
    ok = (
        "homerun_bridge_v1_requests_total",
        (
            ("key_label", "careers-site"),
            ("method", "GET"),
            ("route", "/v1/jobs"),
            ("status", "200"),
        ),
    )
    assert after[ok] - before.get(ok, 0) == 3
    v2 = (
        "homerun_bridge_v2_calls_total",
        (("endpoint", "/vacancies/{id}"), ("method", "GET"), ("status", "404")),
    )
    assert after[v2] == 1
    latency = ("homerun_bridge_v1_request_seconds_count", (("route", "/v1/jobs"),))
    assert after[latency] - before.get(latency, 0) == 3


async def test_report_lists_each_integration_routes_and_hints(
    make_harness: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_ADMIN_TOKEN", "report-token")
    harness: Harness = await make_harness(admin_token_env="TEST_ADMIN_TOKEN")
    async with await harness.get("/v1/jobs", auth=FULL):
        pass
    async with await harness.get("/v1/applications?per_page=2", auth=READONLY) as response:
        application_id = (await response.json())["data"][0]["id"]
    async with harness.http.put(
        harness.url(f"/v1/applications/{application_id}"),
        json={"content": {"pronouns": "he/him"}, "favourite_colour": "green"},
        auth=FULL,
    ) as response:
        assert response.status == 200
    async with harness.http.get(harness.url("/_bridge/report")) as response:
        assert response.status == 401
    async with harness.http.get(harness.url("/_bridge/report"), headers=ADMIN) as response:
        assert response.status == 200
        report = await response.json()
    by_label = {i["label"]: {r["route"]: r for r in i["routes"]} for i in report["integrations"]}
    assert set(by_label) == {"careers-site", "hr-sync"}
    assert set(by_label["careers-site"]) == {"GET /v1/jobs", "PUT /v1/applications/{id}"}
    assert set(by_label["hr-sync"]) == {"GET /v1/applications"}
    put = by_label["careers-site"]["PUT /v1/applications/{id}"]
    assert put["calls"] == 1 and put["v2_call"] == "PATCH /v2/job-applications/{id}"
    assert put["unknown_fields"] == ["favourite_colour"]
    assert "perPage" in by_label["hr-sync"]["GET /v1/applications"]["hint"]


async def test_logs_are_json_and_never_carry_a_secret(
    make_harness: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging("debug", "json")
    try:
        harness: Harness = await make_harness()
        secrets = ["demo-v1-key", "demo-v2-key", "v1-revoked", "no-such-v2-key"]
        encoded = aiohttp.BasicAuth("demo-v1-key", "").encode()
        async with await harness.get("/v1/jobs"):
            pass
        async with await harness.get("/v1/jobs", auth=aiohttp.BasicAuth("v1-revoked", "")):
            pass
        async with await harness.get(
            "/v1/jobs", auth=None, headers={"Authorization": "Bearer demo-v1-kex"}
        ):
            pass
        await harness.faults(path="^/v2/vacancies", action="drop_before", count=5)
        async with await harness.get("/v1/jobs"):
            pass
        await harness.faults(method="POST", path="^/v2/job-applications$", action="drop_after")
        async with await harness.post(
            "/v1/applications",
            data={
                "candidate[first_name]": "A",
                "candidate[last_name]": "B",
                "candidate[email]": "a@b.co",
            },
        ):
            pass
    finally:
        configure_logging("warning", "json")
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    events = [json.loads(line) for line in lines]
    assert {e["event"] for e in events} >= {
        "request",
        "upstream.key_rejected",
        "upstream.write_outcome_unknown",
    }
    requests = [e for e in events if e["event"] == "request"]
    assert all(
        {"request_id", "key_label", "method", "route", "status", "latency_ms", "upstream_calls"}
        <= set(e)
        for e in requests
    )
    text = "\n".join(lines)
    for secret in [*secrets, "demo-v1-kex", encoded, encoded.split()[1]]:
        assert secret not in text, f"{secret!r} reached a log line"
    assert os.environ.get("TEST_V2_FULL") not in text

"""``homerun-bridge report`` prints the dashboard's facts in the terminal: after two replicas
sharing the real Redis answered several integrations, the command reads what both wrote
to the store and prints the summary, each integration's state and a 90-day sparkline
(``--json``: the same facts as ``/_bridge/usage.json``, calls per label and route)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from proxy.cli import main
from proxy.usage import utc_day
from tests.dashboard.session import report_config, usage_in_redis
from tests.proxy.conftest import FULL, READONLY


async def test_report_prints_states_and_a_sparkline_per_integration(
    make_harness: Callable[..., Any],
    redis_prefix: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    started = time.time()
    calls = [(0, "/v1/jobs", FULL), (1, "/v1/jobs", FULL), (0, "/v1/jobs", FULL)]
    calls += [(1, "/v1/applications?per_page=1", READONLY), (1, "/v1/candidates", READONLY)]
    assert await usage_in_redis(make_harness, redis_prefix, calls) == [200] * 5
    config = report_config(tmp_path, redis_prefix, "retirement_quiet_days = 14\n")
    capsys.readouterr()  # the session's log lines
    assert await asyncio.to_thread(main, ["report", "--config", str(config)]) == 0
    text = capsys.readouterr().out
    lines = text.splitlines()
    assert lines[0] == "2 integrations still block removing the bridge: careers-site, hr-sync"
    assert "== careers-site: active" in lines and "== hr-sync: active" in lines
    sparks = [line.split("|")[1] for line in lines if line.startswith("  90 days |")]
    assert len(sparks) == 2 and all(len(s) == 90 for s in sparks)
    if utc_day(started) == utc_day(time.time()):  # every call was today
        assert all(s[:-1] == "·" * 89 and s[-1] == "█" for s in sparks)
    assert "  GET /v1/jobs: 3 calls" in text.replace(", last", "\n").splitlines()
    assert await asyncio.to_thread(main, ["report", "--config", str(config), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["quiet_days"] == 14
    routes = {
        i["label"]: {r["route"]: r["calls"] for r in i["routes"]} for i in report["integrations"]
    }
    assert routes == {
        "careers-site": {"GET /v1/jobs": 3},
        "hr-sync": {"GET /v1/applications": 1, "GET /v1/candidates": 1},
    }
    calls_by_label = {i["label"]: i["calls"] for i in report["integrations"]}
    assert calls_by_label == {"careers-site": 3, "hr-sync": 2}

"""A scripted session of several integrations through a real bridge and sandbox, and the
facts the dashboard must then show (counted from the answers the clients received).

Two integrations call now: ``careers-site`` lists jobs and asks for one that does not
exist; ``hr-sync`` lists applications with a hostile user agent through a reverse proxy.
Two have history the test cannot wait for, recorded through the running bridge's own
usage book with the time of the call: ``noplan`` last called 40 days ago (retired-ready),
``nonotes`` 5 days ago (quiet). ``revoked`` never called.

Also the set-up of the ``homerun-bridge report`` tests: replicas sharing the real Redis
record usage there, and a config file points the command at it.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from proxy.app import BRIDGE
from proxy.usage import DAY_SECONDS, utc_day
from tests.proxy.conftest import FULL, READONLY, Harness

ADMIN_TOKEN = "dashboard-admin-token"
CAREERS_AGENT = "careers-site/2.1 (+https://jobs.example)"
HOSTILE_AGENT = '<img src="https://evil.example/x.png" onerror="alert(1)">=HYPERLINK("x")'
FORWARDED_FOR = "203.0.113.9, 10.0.0.2"


@dataclass
class Session:
    """What the clients did: calls and status classes per (label, route), and the UTC days."""

    calls: Counter[tuple[str, str]] = field(default_factory=Counter)
    statuses: dict[tuple[str, str], Counter[str]] = field(default_factory=dict)
    first_day: str = ""
    last_day: str = ""

    def count(self, label: str, route: str, status: int) -> None:
        self.calls[(label, route)] += 1
        self.statuses.setdefault((label, route), Counter())[f"{status // 100}xx"] += 1


async def run_session(harness: Harness) -> Session:
    session = Session(first_day=utc_day(time.time()))
    careers = {"User-Agent": CAREERS_AGENT}
    for _ in range(3):
        async with await harness.get("/v1/jobs", auth=FULL, headers=careers) as response:
            await response.read()
            session.count("careers-site", "GET /v1/jobs", response.status)
    async with await harness.get("/v1/jobs/no-such-job", auth=FULL, headers=careers) as response:
        await response.read()
        session.count("careers-site", "GET /v1/jobs/{id}", response.status)
    hr = {"User-Agent": HOSTILE_AGENT, "X-Forwarded-For": FORWARDED_FOR}
    for _ in range(2):
        async with await harness.get(
            "/v1/applications?per_page=2", auth=READONLY, headers=hr
        ) as response:
            await response.read()
            session.count("hr-sync", "GET /v1/applications", response.status)
    usage = harness.bridge.app[BRIDGE].usage
    now = time.time()
    usage.record("noplan", "GET /v1/jobs", [], status=200, now=now - 40 * DAY_SECONDS)
    usage.record("nonotes", "GET /v1/applications", [], status=200, now=now - 5 * DAY_SECONDS)
    session.last_day = utc_day(time.time())
    return session


@pytest.fixture
async def dashboard(
    make_harness: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> tuple[Harness, Session]:
    """A bridge with the dashboard on (admin token ``ADMIN_TOKEN``, forwarded addresses
    trusted), after the scripted session; offered to the dashboard tests by their conftest."""
    monkeypatch.setenv("TEST_DASHBOARD_TOKEN", ADMIN_TOKEN)
    harness: Harness = await make_harness(
        admin_token_env="TEST_DASHBOARD_TOKEN", usage_trust_forwarded_for=True
    )
    return harness, await run_session(harness)


EXPECTED_STATES = {
    "careers-site": "active",
    "hr-sync": "active",
    "nonotes": "quiet",
    "noplan": "retired-ready",
    "revoked": "never-called",
}
EXPECTED_BLOCKING = ["careers-site", "hr-sync", "nonotes"]


async def usage_in_redis(
    make_harness: Callable[..., Any],
    redis_prefix: str,
    calls: list[tuple[int, str, aiohttp.BasicAuth]],
) -> list[int]:
    """Two replicas sharing the real Redis under ``redis_prefix`` answer ``calls`` (which
    replica, path, key) and flush their usage there; returns the statuses answered."""
    redis = {"store_url": "redis://127.0.0.1:6379/0", "store_prefix": redis_prefix}
    replicas: list[Harness] = [await make_harness(**redis), await make_harness(**redis)]
    statuses = []
    for replica, path, auth in calls:
        async with await replicas[replica].get(path, auth=auth) as response:
            statuses.append(response.status)
    for harness in replicas:
        await harness.bridge.app[BRIDGE].usage.flush()
    return statuses


def report_config(tmp_path: Path, redis_prefix: str, extra: str = "") -> Path:
    """A config file for ``homerun-bridge report`` that reads that Redis (``extra``: more
    TOML lines)."""
    config = tmp_path / "bridge.toml"
    config.write_text(
        f'store_url = "redis://127.0.0.1:6379/0"\nstore_prefix = "{redis_prefix}"\n'
        'key_mode = "passthrough"\n' + extra
    )
    return config

"""The bench harness still starts what every benchmark measures: a sandbox and a bridge
that answer, settings that reach the bridge, and a failed start that says why.

Real processes (``python -m sandbox``, ``python -m proxy serve``) on real sockets, as the
benchmarks run them; nothing here measures time.
"""

from __future__ import annotations

from pathlib import Path

import aiohttp
import pytest

from bench import harness

WIDGET = "https://careers.example.com"


async def test_a_sandbox_and_a_bridge_started_through_the_harness_both_answer() -> None:
    async with (
        harness.sandbox() as upstream,
        harness.bridge(
            upstream.base + "/v2",
            rate_limit_per_minute=0,
            cache_ttl_seconds=0,
            cors_allowed_origins=[WIDGET],  # a list setting, encoded for the environment
        ) as bridge,
        aiohttp.ClientSession() as http,
    ):
        async with http.get(upstream.base + "/v2/ping", headers=harness.V2_AUTH) as response:
            assert response.status == 200
        async with http.get(bridge.base + "/healthz") as response:
            assert response.status == 200
        headers = {**harness.BENCH.auth, "Origin": WIDGET}
        async with http.get(bridge.base + "/v1/jobs", headers=headers) as response:
            body = await response.json()
            assert response.status == 200, body
            assert body["data"], "the sandbox's demo jobs reach the v1 client"
            assert int(response.headers["X-Upstream-Calls"]) >= 1
            assert response.headers["Access-Control-Allow-Origin"] == WIDGET
        assert bridge.alive and upstream.alive
        assert harness.cpu_seconds(bridge.pid) > 0
        resident = harness.rss_bytes(bridge.pid)
        assert resident is not None and 0 < resident <= harness.peak_rss_bytes(bridge.pid)
    assert not bridge.alive and not upstream.alive, "both are stopped at the end of the block"
    assert harness.rss_bytes(bridge.pid) is None
    assert not bridge.log.exists(), "a log nobody asked to keep is deleted"


async def test_a_bridge_that_cannot_start_fails_with_the_tail_of_its_log(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="exited with status") as failed:
        async with harness.bridge("http://127.0.0.1:9/v2", logs=tmp_path, log_level="loud"):
            pytest.fail("a bridge with an invalid log level must not start")
    assert "log_level" in str(failed.value), failed.value
    assert "log_level" in (tmp_path / "bridge.log").read_text(), "a kept log stays"


def test_a_misspelt_setting_is_refused_before_anything_starts() -> None:
    with pytest.raises(TypeError, match="not bridge settings: cache_ttl"):
        harness.bridge("http://127.0.0.1:9/v2", cache_ttl=5)


def test_integrations_that_share_a_v2_key_share_its_variable() -> None:
    integrations = [
        harness.Integration("flood", "flood-v1", "shared-v2"),
        harness.Integration("quiet", "quiet-v1", "shared-v2"),
        harness.Integration("other", "other-v1", "own-v2"),
    ]
    env = harness.bridge_env("http://127.0.0.1:9/v2", 8080, integrations, {"log_level": "info"})
    assert env["BENCH_V2_KEY_1"] == "shared-v2" and env["BENCH_V2_KEY_2"] == "own-v2"
    assert "BENCH_V2_KEY_3" not in env
    assert env["HOMERUN_BRIDGE_PORT"] == "8080"
    assert env["HOMERUN_BRIDGE_LOG_LEVEL"] == "info"
    assert "flood-v1" not in env["HOMERUN_BRIDGE_KEYS"], "only the v1 keys' hashes are passed"

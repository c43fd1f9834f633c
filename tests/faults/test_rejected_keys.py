"""A v2 key that v2 rejected is remembered briefly, by digest (issue 11, passthrough).

In passthrough mode each presented key goes to v2 as is; a stream of bad keys used to
cost one v2 call each, and one ``upstream.key_rejected`` line each. Now the first 401
for a key is remembered (its SHA-256 digest, for ``REJECTED_KEY_SECONDS``): later
requests with it are answered the v1 401 at once, and the rejection is logged once per
key and interval, without the key.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
from structlog.testing import capture_logs

from proxy.keys import RejectedKeys
from tests.proxy.conftest import Harness

BAD_KEYS = ("not-a-v2-key", "also-not-a-v2-key")
REPEATS = 10


def _rejections(logs: list[Any]) -> list[Any]:
    # The upstream client's line; v1_routes' own older line is another logger's.
    return [line for line in logs if line["event"] == "upstream.key_rejected" and "key_id" in line]


async def test_a_stream_of_bad_passthrough_keys_costs_one_v2_call_per_key(
    make_harness: Callable[..., Any],
) -> None:
    harness: Harness = await make_harness(key_mode="passthrough", keys=[])
    before = harness.sandbox.state.stats.unauthenticated
    calls: list[int] = []
    with capture_logs() as logs:
        for key in BAD_KEYS:
            for _ in range(REPEATS):
                async with await harness.get("/v1/jobs", auth=aiohttp.BasicAuth(key, "")) as r:
                    assert r.status == 401
                    assert "WWW-Authenticate" in r.headers
                    assert "v2 key" in (await r.json())["message"]
                    calls.append(int(r.headers["X-Upstream-Calls"]))
        # A good key is not affected by the bad ones.
        async with await harness.get("/v1/jobs", auth=aiohttp.BasicAuth("demo-v2-key", "")) as r:
            assert r.status == 200
    assert calls == ([1] + [0] * (REPEATS - 1)) * len(BAD_KEYS)
    assert harness.sandbox.state.stats.unauthenticated - before == len(BAD_KEYS)
    rejections = _rejections(logs)
    assert len(rejections) == len(BAD_KEYS)
    assert not any(key in repr(logs) for key in BAD_KEYS), "a key never reaches a log line"


def test_a_remembered_key_is_forgotten_after_its_interval_and_past_the_bound() -> None:
    now = [0.0]
    rejected = RejectedKeys(60, max_keys=3, clock=lambda: now[0])
    assert not rejected.holds("k1")
    assert rejected.remember("k1") is True  # worth a log line
    assert rejected.holds("k1")
    now[0] = 59.0
    assert rejected.holds("k1")
    now[0] = 60.0
    assert not rejected.holds("k1")  # the interval is over: v2 is asked again
    assert rejected.remember("k1") is True  # and a new rejection is logged again
    for key in ("k2", "k3", "k4"):
        rejected.remember(key)
    assert not rejected.holds("k1"), "the oldest entry went first"
    assert all(rejected.holds(key) for key in ("k2", "k3", "k4"))

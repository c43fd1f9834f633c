"""Every upstream fault, for every v1 endpoint class, maps to the contract's answer (§3).

The classes: a list read, a detail read, an update (PATCH: idempotent, retried), and
three writes that are never resent (a create, a note, a file upload). Each fault rule
targets exactly the one v2 call the class makes. For each: the v1 status and body, the
v2 attempts the bridge made (``X-Upstream-Calls``), the wall time (never a hang past
what the timeout allows), and for writes what the sandbox really holds afterwards.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest

from tests.faults.endpoints import (
    ENDPOINTS,
    IDEMPOTENT,
    NAMES,
    SLACK,
    TIMEOUT,
    WRITES,
    Endpoint,
    Outcome,
    application_with_job,
    call,
)
from tests.proxy.conftest import Harness

LATENCY_MS = 1000  # twice the timeout
RETRY_AFTER_FAR = "30"  # further away than the bridge's deadline


class Scene:
    """One endpoint class under one fault, with the sandbox's counters around the call."""

    def __init__(self, harness: Harness, name: str) -> None:
        self.harness = harness
        self.endpoint: Endpoint = ENDPOINTS[name]
        self.state = harness.sandbox.state
        self.application_id = application_with_job(self.state)
        self._written = self._count()
        self._faults = self.state.stats.faults_injected

    def _count(self) -> int:
        return self.endpoint.count(self.state, self.application_id) if self.endpoint.writes else 0

    async def inject(self, action: str, **fields: Any) -> None:
        await self.harness.faults(**self.endpoint.rule(action, **fields))

    async def call(self) -> Outcome:
        return await call(self.harness, self.endpoint, self.application_id)

    @property
    def written(self) -> int:
        """What the class's write added to the sandbox since the scene began."""
        return self._count() - self._written

    @property
    def faults_hit(self) -> int:
        return self.state.stats.faults_injected - self._faults


@pytest.fixture
def scene(fault_harness: Harness) -> Callable[[str], Scene]:
    return lambda name: Scene(fault_harness, name)


SceneOf = Callable[[str], Scene]


def assert_timed_out(scene: Scene, outcome: Outcome) -> None:
    endpoint = scene.endpoint
    outcome.assert_v1_error(504)
    assert f"{TIMEOUT:g} s" in outcome.body["message"]
    attempts = endpoint.attempts(failing=True)
    assert outcome.calls == attempts
    assert attempts * TIMEOUT * 0.95 <= outcome.seconds <= endpoint.time_bound(), outcome.seconds


@pytest.mark.parametrize("name", NAMES)
async def test_latency_past_the_timeout_is_504(scene: SceneOf, name: str) -> None:
    s = scene(name)
    await s.inject("latency", latency_ms=LATENCY_MS, count=s.endpoint.attempts(failing=True))
    outcome = await s.call()
    assert_timed_out(s, outcome)
    if s.endpoint.writes:
        # The slow upstream may still complete the write after the bridge gave up:
        # once at most, since the bridge never resends it.
        await asyncio.sleep(max(0.0, LATENCY_MS / 1000 - outcome.seconds) + 0.1)
        assert s.written <= 1


@pytest.mark.parametrize(
    ("upstream", "html", "v1"),
    [(500, False, 502), (502, False, 502), (503, False, 503), (504, False, 504), (502, True, 502)],
    ids=["500", "502", "503", "504", "502-html-from-a-load-balancer"],
)
@pytest.mark.parametrize("name", NAMES)
async def test_5xx_maps_after_retries_of_idempotent_calls_only(
    scene: SceneOf, name: str, upstream: int, html: bool, v1: int
) -> None:
    s = scene(name)
    # Enough failures for every attempt an idempotent call may make.
    await s.inject("status", status=upstream, html=html, count=s.endpoint.attempts(failing=True))
    outcome = await s.call()
    outcome.assert_v1_error(v1)
    assert "<html" not in outcome.text.lower()
    expected = s.endpoint.attempts(failing=True)
    assert outcome.calls == expected, "a POST is tried once, idempotent calls 1 + retries"
    assert s.faults_hit == expected
    assert outcome.seconds <= s.endpoint.time_bound()
    assert s.written == 0  # the sandbox answered without handling the request


@pytest.mark.parametrize("action", ["drop_before", "drop_after"])
@pytest.mark.parametrize("name", IDEMPOTENT)
async def test_a_dropped_connection_is_retried_to_success(
    scene: SceneOf, name: str, action: str
) -> None:
    s = scene(name)
    await s.inject(action, count=1)
    outcome = await s.call()
    outcome.assert_ok(s.endpoint)
    assert s.faults_hit == 1
    assert outcome.seconds <= TIMEOUT + SLACK
    if s.endpoint.v2_method == "GET":
        # aiohttp itself resends a GET once when the connection drops (RFC 9112 §9.3.1),
        # before the bridge sees an error: that resend is not in X-Upstream-Calls.
        assert outcome.calls in (1, 2)
    else:
        assert outcome.calls == 2 + s.endpoint.extra_calls, "the dropped attempt and its retry"


@pytest.mark.parametrize("action", ["drop_before", "drop_after"])
@pytest.mark.parametrize("name", IDEMPOTENT)
async def test_a_connection_dropped_on_every_attempt_is_502(
    scene: SceneOf, name: str, action: str
) -> None:
    s = scene(name)
    await s.inject(action, count=100)
    outcome = await s.call()
    outcome.assert_v1_error(502)
    assert outcome.calls == s.endpoint.attempts(failing=True)
    assert outcome.seconds <= s.endpoint.time_bound()
    # Each GET attempt of the bridge may be two requests upstream (aiohttp's resend).
    per_attempt = 2 if s.endpoint.v2_method == "GET" else 1
    assert outcome.calls <= s.faults_hit <= per_attempt * outcome.calls


@pytest.mark.parametrize(("action", "landed"), [("drop_before", 0), ("drop_after", 1)])
@pytest.mark.parametrize("name", WRITES)
async def test_a_dropped_write_is_502_and_never_resent(
    scene: SceneOf, name: str, action: str, landed: int
) -> None:
    s = scene(name)
    await s.inject(action, count=1)
    outcome = await s.call()
    outcome.assert_v1_error(502)
    assert outcome.calls == 1
    assert outcome.seconds <= TIMEOUT + SLACK
    # drop_before: nothing happened upstream; drop_after: the write happened, once.
    assert s.written == landed
    # The next call goes through normally: the broken connection left the pool.
    again = await s.call()
    again.assert_ok(s.endpoint)
    assert s.written == landed + 1


@pytest.mark.parametrize("action", ["malformed", "schema_mismatch"])
@pytest.mark.parametrize("name", NAMES)
async def test_a_body_that_is_not_v2_is_502_unless_it_confirms_a_write(
    scene: SceneOf, name: str, action: str
) -> None:
    s = scene(name)
    await s.inject(action, count=3)
    outcome = await s.call()
    if s.endpoint.v2_method == "GET":
        outcome.assert_v1_error(502)
        assert "cannot read" in outcome.body["message"]
    else:
        # v2 confirmed the write (2xx): it is answered as a success with what could be
        # read (contract §3, rev 2), never a 502 the client would retry into a duplicate.
        assert outcome.status == s.endpoint.ok_status, outcome.text
    # A 2xx answer is not retried, however broken (a note or an upload may cost one
    # follow-up read of the listing, for the id it shows: a GET, which the POST's rule
    # does not match).
    assert s.faults_hit == 1, "a 2xx answer is not retried, however broken"
    assert outcome.calls == 1 or (name in ("note", "upload") and outcome.calls == 2), outcome.calls
    assert outcome.seconds <= TIMEOUT + SLACK
    assert s.written == 0  # the sandbox synthesizes these without handling the request


@pytest.mark.parametrize("name", NAMES)
async def test_a_slow_drip_past_the_timeout_is_504(scene: SceneOf, name: str) -> None:
    s = scene(name)
    # 8 bytes every 100 ms: any v2 body takes many seconds to arrive.
    await s.inject(
        "slow_drip",
        drip_interval_ms=100,
        drip_chunk_bytes=8,
        count=s.endpoint.attempts(failing=True),
    )
    outcome = await s.call()
    assert_timed_out(s, outcome)
    if s.endpoint.writes:
        # The sandbox handled the write before dripping its answer: it exists, once.
        assert s.written == 1


@pytest.mark.parametrize("name", NAMES)
async def test_a_drip_that_ends_within_the_timeout_completes(scene: SceneOf, name: str) -> None:
    s = scene(name)
    await s.inject("slow_drip", drip_interval_ms=2, drip_chunk_bytes=512, count=3)
    outcome = await s.call()
    outcome.assert_ok(s.endpoint)
    assert outcome.calls == 1 + s.endpoint.extra_calls
    assert s.faults_hit == 1
    assert outcome.seconds <= TIMEOUT + SLACK
    if s.endpoint.writes:
        assert s.written == 1


@pytest.mark.parametrize("name", NAMES)
async def test_upstream_429_beyond_the_deadline_is_a_v1_429(scene: SceneOf, name: str) -> None:
    s = scene(name)
    await s.inject("status", status=429, headers={"Retry-After": RETRY_AFTER_FAR}, count=10)
    outcome = await s.call()
    outcome.assert_v1_error(429)
    assert outcome.headers["Retry-After"] == RETRY_AFTER_FAR
    assert outcome.calls == 1, "a wait past the deadline is not even started"
    assert outcome.seconds <= SLACK
    assert s.written == 0


@pytest.mark.parametrize("name", NAMES)
async def test_upstream_429_within_the_deadline_is_waited_out(
    make_harness: Callable[..., Any], name: str
) -> None:
    harness: Harness = await make_harness(
        upstream_timeout_seconds=TIMEOUT, rate_limit_deadline_seconds=5
    )
    s = Scene(harness, name)
    await s.inject("status", status=429, headers={"Retry-After": "1"}, count=1)
    outcome = await s.call()
    if name == "upload":
        # A streamed upload cannot be sent twice: the client is told when to retry.
        outcome.assert_v1_error(429)
        assert outcome.headers["Retry-After"] == "1"
        assert (outcome.calls, s.written) == (1, 0)
        return
    # A 429 means upstream refused the call: resending it is safe, POSTs included.
    outcome.assert_ok(s.endpoint)
    assert outcome.calls == 2 + s.endpoint.extra_calls
    assert 1.0 <= outcome.seconds <= 1.0 + TIMEOUT + SLACK
    if s.endpoint.writes:
        assert s.written == 1

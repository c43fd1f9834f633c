"""A write whose outcome the bridge cannot know is always logged (issue 10).

A 5xx answer to a write means only "outcome unknown", like a timeout or a dropped
connection after the write may have reached v2: each is logged as
``upstream.write_outcome_unknown`` with the request id, the integration's label, the
method, the v2 path and the status (0: no answer), so an operator can reconcile. A
PATCH is retried; only its last unanswered attempt makes the outcome unknown. A write
that v2 refused for sure (4xx) or confirmed is not logged so, and no line holds a key.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import pytest
from structlog.testing import capture_logs

from tests.faults.endpoints import ENDPOINTS, RETRIES, TIMEOUT, Outcome, application_with_job, call
from tests.proxy.conftest import KEYS, Harness

UNKNOWN = "upstream.write_outcome_unknown"
Logs = list[MutableMapping[str, Any]]


@pytest.fixture
def logs() -> Iterator[Logs]:
    with capture_logs() as captured:
        yield captured


def unknown_lines(logs: Logs) -> Logs:
    return [line for line in logs if line["event"] == UNKNOWN]


def assert_logged_once(logs: Logs, outcome: Outcome, status: int) -> None:
    lines = unknown_lines(logs)
    assert len(lines) == 1, lines
    line = lines[0]
    assert line["request_id"] == outcome.headers["X-Request-Id"]
    assert line["key_label"] == "careers-site"
    assert line["status"] == status
    assert line["log_level"] == "error"
    secrets = [v1 for v1 in KEYS] + [v2 for _, _, v2 in KEYS.values()]
    assert not any(secret in repr(logs) for secret in secrets)


async def _scene(make_harness: Callable[..., Any]) -> tuple[Harness, str]:
    harness: Harness = await make_harness(
        upstream_timeout_seconds=TIMEOUT, upstream_retries=RETRIES
    )
    return harness, application_with_job(harness.sandbox.state)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
@pytest.mark.parametrize("name", ["create", "note", "upload"])
async def test_a_5xx_answer_to_a_post_is_logged_as_outcome_unknown(
    make_harness: Callable[..., Any], logs: Logs, name: str, status: int
) -> None:
    harness, application_id = await _scene(make_harness)
    endpoint = ENDPOINTS[name]
    await harness.faults(**endpoint.rule("status", status=status, count=1))
    outcome = await call(harness, endpoint, application_id)
    assert outcome.status >= 500 and outcome.calls == 1
    assert_logged_once(logs, outcome, status)
    line = unknown_lines(logs)[0]
    assert line["method"] == "POST"
    assert line["path"].startswith("/job-applications")


@pytest.mark.parametrize(
    ("fault", "fields"),
    [
        ("latency", {"latency_ms": 1500}),
        ("drop_after", {}),
        ("slow_drip", {"drip_interval_ms": 100}),
    ],
)
async def test_no_answer_to_a_post_is_logged_as_outcome_unknown(
    make_harness: Callable[..., Any],
    logs: Logs,
    fault: str,
    fields: dict[str, Any],
) -> None:
    harness, application_id = await _scene(make_harness)
    endpoint = ENDPOINTS["create"]
    await harness.faults(**endpoint.rule(fault, count=1, **fields))
    outcome = await call(harness, endpoint, application_id)
    assert outcome.status in (502, 504)
    assert_logged_once(logs, outcome, 0)


async def test_a_patch_failing_every_attempt_is_logged_once(
    make_harness: Callable[..., Any], logs: Logs
) -> None:
    harness, application_id = await _scene(make_harness)
    endpoint = ENDPOINTS["update"]
    await harness.faults(**endpoint.rule("status", status=502, count=1 + RETRIES))
    outcome = await call(harness, endpoint, application_id)
    outcome.assert_v1_error(502)
    assert outcome.calls == 1 + RETRIES
    assert_logged_once(logs, outcome, 502)
    assert unknown_lines(logs)[0]["method"] == "PATCH"


async def test_a_patch_that_succeeds_on_a_retry_is_not_unknown(
    make_harness: Callable[..., Any], logs: Logs
) -> None:
    harness, application_id = await _scene(make_harness)
    endpoint = ENDPOINTS["update"]
    await harness.faults(**endpoint.rule("status", status=503, count=1))
    outcome = await call(harness, endpoint, application_id)
    outcome.assert_ok(endpoint)
    assert outcome.calls == 2 + endpoint.extra_calls
    assert unknown_lines(logs) == []


@pytest.mark.parametrize("name", ["create", "note"])
async def test_a_refused_or_confirmed_write_is_not_unknown(
    make_harness: Callable[..., Any], logs: Logs, name: str
) -> None:
    harness, application_id = await _scene(make_harness)
    endpoint = ENDPOINTS[name]
    await harness.faults(**endpoint.rule("status", status=403, count=1))
    refused = await call(harness, endpoint, application_id)
    assert 400 <= refused.status < 500
    confirmed = await call(harness, endpoint, application_id)
    confirmed.assert_ok(endpoint)
    assert unknown_lines(logs) == []

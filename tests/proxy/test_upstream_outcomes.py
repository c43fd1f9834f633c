"""A write v2 may hold unanswered is raised as ``OutcomeUnknown`` (issue 12), through the
bridge's own upstream client against the sandbox on loopback.

Whatever made it unknown (a 5xx answer, a timeout, a dropped connection after sending),
the error answers as that failure always did (status and message), so a client sees no
change while a handler may catch the class. A write v2 answered for sure (4xx), and a
read however it failed, is not one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mappings.errors import OutcomeUnknown, UpstreamError, V1Error, v2_error_to_v1
from mappings.plan import V2Request
from proxy.context import RequestContext
from proxy.state import BRIDGE
from proxy.upstream import UpstreamClient
from tests.faults.endpoints import ENDPOINTS, RETRIES, TIMEOUT, application_with_job
from tests.proxy.conftest import KEYS, Harness

V2_KEY = KEYS["demo-v1-key"][2]
NOTE = ENDPOINTS["note"]
UPDATE = ENDPOINTS["update"]


async def _scene(make_harness: Callable[..., Any]) -> tuple[Harness, UpstreamClient, str]:
    harness: Harness = await make_harness(
        upstream_timeout_seconds=TIMEOUT, upstream_retries=RETRIES
    )
    client = harness.bridge.app[BRIDGE].upstream
    return harness, client, application_with_job(harness.sandbox.state)


def _note(application_id: str) -> V2Request:
    body = {"note": "An unknown outcome", "display_name": "Ted", "is_sensitive": False}
    return V2Request("POST", f"/job-applications/{application_id}/notes", json=body)


async def _sent(client: UpstreamClient, call: V2Request) -> V1Error:
    with pytest.raises(V1Error) as raised:
        await client.send(RequestContext("outcome-test"), V2_KEY, call)
    return raised.value


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_5xx_answer_to_a_write_is_outcome_unknown_answered_as_before(
    make_harness: Callable[..., Any], status: int
) -> None:
    harness, client, application_id = await _scene(make_harness)
    await harness.faults(**NOTE.rule("status", status=status, count=1))
    call = _note(application_id)
    error = await _sent(client, call)
    assert isinstance(error, OutcomeUnknown) and isinstance(error, UpstreamError)
    before = v2_error_to_v1(status, None, call)  # what the handler answered from the 5xx
    assert (error.status, error.body()) == (before.status, before.body())
    assert type(error.seen) is type(before) and error.status in (502, 503, 504)


@pytest.mark.parametrize(
    ("fault", "fields", "answered", "words"),
    [
        ("latency", {"latency_ms": 1500}, 504, "did not answer within"),
        ("drop_after", {}, 502, "dropped the connection"),
    ],
)
async def test_no_answer_to_a_sent_write_is_outcome_unknown(
    make_harness: Callable[..., Any],
    fault: str,
    fields: dict[str, Any],
    answered: int,
    words: str,
) -> None:
    harness, client, application_id = await _scene(make_harness)
    await harness.faults(**NOTE.rule(fault, count=1, **fields))
    error = await _sent(client, _note(application_id))
    assert isinstance(error, OutcomeUnknown)
    assert error.status == answered and words in error.message


async def test_a_patch_whose_every_attempt_failed_is_outcome_unknown(
    make_harness: Callable[..., Any],
) -> None:
    harness, client, application_id = await _scene(make_harness)
    await harness.faults(**UPDATE.rule("status", status=500, count=1 + RETRIES))
    call = V2Request("PATCH", f"/job-applications/{application_id}", json={"custom_data": {}})
    error = await _sent(client, call)
    assert isinstance(error, OutcomeUnknown) and error.status == 502
    assert (await harness.stats())["faults_injected"] == 1 + RETRIES


async def test_a_write_v2_refused_and_a_failed_read_are_not_outcome_unknown(
    make_harness: Callable[..., Any],
) -> None:
    harness, client, application_id = await _scene(make_harness)
    ctx = RequestContext("outcome-test")
    refused = await client.send(ctx, V2_KEY, _note("ap_no_such_application"))
    assert refused.status == 404
    await harness.faults(**ENDPOINTS["detail"].rule("status", status=500, count=1 + RETRIES))
    read = await client.send(ctx, V2_KEY, V2Request("GET", f"/job-applications/{application_id}"))
    assert read.status == 500

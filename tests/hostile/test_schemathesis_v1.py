"""Property-based conformance of the v1 face: schemathesis against the bridge's own document.

The bridge serves ``/v1/openapi.json`` (built by ``proxy.openapi.v1_openapi_document``,
checked below to be what is served); schemathesis generates requests from it, valid and
invalid ones, and sends them with a v1 key to a real bridge in front of a real sandbox
(both on loopback ports, in a background thread). Every answer is checked: never a 500
and no 5xx but the contract's 502/503/504, a documented status, the documented content
type, a body that matches the document's schema, and the contract's rev-2 rules that hold
for every answer (``tests.hostile.rev2_checks``: the v1 headers, CORS for an allowed origin,
gzip over 1 KiB, a GET answered alike as HEAD, a created id read back, a cursor page next
to its object, a 400 naming its params). Each case is sent from a browser origin (three in
four the allowed one) and allows gzip or not, picked from the case so the draws stay
reproducible. Two generated ids in three (path ids, cursors of the lists the fixture
served, and the ``job`` of a create) are replaced with seeded ones, so the success paths
run too, not only the 404s and 400s. Reproducible: the draws follow the session's Hypothesis
profile (``tests.hypothesis_profiles``: derandomized by default; under ``explore`` the printed
seed replays them). Bounded: schemathesis's coverage cases (boundary values, unexpected
methods) plus 8 generated examples per operation and mode, 25-35 s on two cores.
"""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from proxy.openapi import v1_openapi_document
from tests.hostile.live import LiveBridge, live_bridge
from tests.hostile.rev2_checks import ALLOWED_ORIGIN, OTHER_ORIGIN, REV2_CHECKS
from tests.hostile.support import assert_no_secrets
from tests.hypothesis_profiles import SEED

AUTH_HEADERS = {"Authorization": "Basic " + base64.b64encode(b"demo-v1-key:").decode()}
CONTRACT_5XX = frozenset({502, 503, 504})
# The lists the fixture serves once, so that cursors on their seeded ids can be placed.
SERVED_LISTS = ("/v1/jobs", "/v1/applications", "/v1/candidates")

schema = schemathesis.openapi.from_dict(v1_openapi_document())
schema.config.generation.update(modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
if SEED is not None:
    # explore profile: schemathesis derives each operation's seed from this one.
    schema.config.seed = SEED


def no_500_and_only_contract_5xx(ctx: Any, response: Any, case: schemathesis.Case[Any]) -> None:
    """The contract's 5xx are 502/503/504 (upstream trouble); a 500 is always a bridge bug."""
    status = response.status_code
    if status >= 500 and status not in CONTRACT_5XX:
        raise AssertionError(f"{case.method} {case.formatted_path} answered {status}")


def sent_bytes(request: requests.PreparedRequest) -> bytes:
    """What a request carried, as sent: its URL, its headers and its body."""
    body = request.body or b""
    head = [str(request.url)] + [f"{name}: {value}" for name, value in request.headers.items()]
    return "\n".join(head).encode() + b"\n" + (body.encode() if isinstance(body, str) else body)


def no_secret_in_the_body(ctx: Any, response: Any, case: schemathesis.Case[Any]) -> None:
    """No secret the request did not itself send: generated text may quote a key (Hypothesis
    draws string constants from the source tree) and the bridge rightly echoes it back."""
    assert_no_secrets(response.content, sent_bytes(response.request))


CHECKS = [
    no_500_and_only_contract_5xx,
    no_secret_in_the_body,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    *REV2_CHECKS,
]


@pytest.fixture(scope="module")
def bridge() -> Iterator[LiveBridge]:
    with live_bridge(cors_allowed_origins=[ALLOWED_ORIGIN]) as running:
        # The bridge places a cursor where it served that id: serve the lists once.
        for path in SERVED_LISTS:
            served = requests.get(f"{running.base_url}{path}", headers=AUTH_HEADERS, timeout=30)
            assert served.status_code == 200, served.text
        yield running


def test_the_served_document_is_the_one_tested(bridge: LiveBridge) -> None:
    response = requests.get(f"{bridge.base_url}/v1/openapi.json", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json; charset=utf-8"
    assert response.json() == v1_openapi_document()


def _use_seeded_ids(case: schemathesis.Case[Any], bridge: LiveBridge) -> None:
    """Point two generated ids (and cursors) in three at seeded objects (random ids only
    reach 404)."""
    if isinstance(case.body, dict) and isinstance(case.body.get("job"), str):
        pick = zlib.crc32(case.body["job"].encode())
        if pick % 3:
            case.body["job"] = bridge.vacancy_ids[pick % len(bridge.vacancy_ids)]
    _use_seeded_cursors(case, bridge)
    generated = (case.path_parameters or {}).get("id")
    if not isinstance(generated, str):
        return
    pick = zlib.crc32(generated.encode())
    if not pick % 3:
        return
    case.path_parameters["id"] = _seeded_id(case.operation.path, bridge, pick)


def _seeded_id(path: str, bridge: LiveBridge, pick: int) -> str:
    """A seeded object for the path: a vacancy under /v1/jobs, a candidate under
    /v1/candidates, else an application."""
    if path.startswith("/v1/jobs"):
        return bridge.vacancy_ids[pick % len(bridge.vacancy_ids)]
    application = bridge.application_ids[pick % len(bridge.application_ids)]
    if path.startswith("/v1/candidates"):
        return "ca_" + application.removeprefix("ap_")
    return application


def _use_seeded_cursors(case: schemathesis.Case[Any], bridge: LiveBridge) -> None:
    """Point two generated cursors in three at seeded objects of their list, which the
    fixture served (random ids only reach the 400 of an id the bridge cannot place)."""
    for name in ("starting_after", "ending_before"):
        generated = (case.query or {}).get(name)
        if not isinstance(generated, str) or not generated.strip():
            continue
        pick = zlib.crc32(generated.encode())
        if pick % 3 and case.operation.path in SERVED_LISTS:
            case.query[name] = _seeded_id(case.operation.path, bridge, pick)


def _browser_headers(case: schemathesis.Case[Any]) -> dict[str, str]:
    """Origin and Accept-Encoding as browsers and other clients send them, picked from the
    case (so the draws stay reproducible): three cases in four from the allowed origin, one
    from another; one in four refuses gzip, so both sides of the CORS and gzip checks run."""
    pick = zlib.crc32(f"{case.method} {case.formatted_path} {case.query!r}".encode())
    return {
        "Origin": OTHER_ORIGIN if pick % 4 == 0 else ALLOWED_ORIGIN,
        "Accept-Encoding": "identity" if (pick >> 2) % 4 == 0 else "gzip, deflate",
    }


@schema.parametrize()
@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)
def test_bridge_conforms_to_its_v1_document(
    case: schemathesis.Case[Any], bridge: LiveBridge
) -> None:
    _use_seeded_ids(case, bridge)
    headers = {**AUTH_HEADERS, **_browser_headers(case)}
    case.call_and_validate(base_url=bridge.base_url, headers=headers, checks=CHECKS)

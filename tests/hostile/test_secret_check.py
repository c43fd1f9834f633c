"""The secret check of the schemathesis suite flags leaks, not echoes.

Regression: Hypothesis draws string constants from the source tree, so a generated note
body can say ``demo-v2-key``; the bridge echoing the client's own text is not a leak.
The bridge putting its v2 key in an answer to a request that did not carry it still is.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator

import pytest
import requests

from tests.hostile.live import LiveBridge, live_bridge
from tests.hostile.support import SECRETS, leaked_secrets
from tests.hostile.test_schemathesis_v1 import no_secret_in_the_body

V2_KEY = "demo-v2-key"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"demo-v1-key:").decode()}


@pytest.fixture(scope="module")
def bridge() -> Iterator[LiveBridge]:
    with live_bridge() as running:
        yield running


def _crafted(body: bytes, request: requests.PreparedRequest) -> requests.Response:
    """An answer the bridge never gave, for proving the check still bites."""
    response = requests.Response()
    response.status_code = 200
    response._content = body
    response.request = request
    return response


def test_a_note_quoting_the_v2_key_is_echoed_and_not_a_leak(bridge: LiveBridge) -> None:
    assert V2_KEY in SECRETS
    application = bridge.application_ids[0]
    for send in ({"json": {"body": f"rotate {V2_KEY} soon"}}, {"data": {"body": V2_KEY}}):
        response = requests.post(
            f"{bridge.base_url}/v1/applications/{application}/notes",
            headers=AUTH,
            timeout=10,
            **send,  # type: ignore[arg-type]
        )
        assert response.status_code == 201, response.text
        assert V2_KEY in response.text, "the note's own text came back"
        no_secret_in_the_body(None, response, None)  # type: ignore[arg-type]


def test_the_bridge_leaking_its_own_v2_key_is_still_caught(bridge: LiveBridge) -> None:
    real = requests.get(f"{bridge.base_url}/v1/jobs?per_page=1", headers=AUTH, timeout=10)
    assert real.status_code == 200
    no_secret_in_the_body(None, real, None)  # type: ignore[arg-type]
    leaked = real.content[:-1] + f', "debug": "Bearer {V2_KEY}"}}'.encode()
    with pytest.raises(AssertionError, match="secret"):
        no_secret_in_the_body(None, _crafted(leaked, real.request), None)  # type: ignore[arg-type]


def test_only_what_the_request_carried_is_excused() -> None:
    # A request quoting one key excuses that key, not the other keys nor the digests.
    sent = f"POST /v1/applications/ap_1/notes\n\nbody={V2_KEY}".encode()
    others = [secret for secret in SECRETS if secret != V2_KEY]
    answer = f'{{"body": "{V2_KEY}", "x": "{others[0]}", "y": "{others[-1]}"}}'.encode()
    assert leaked_secrets(answer, sent) == [others[0], others[-1]]
    # Percent-encoded in the URL is still what the request sent.
    assert leaked_secrets(V2_KEY.encode(), b"GET /v1/jobs?q=demo%2Dv2%2Dkey") == []
    assert leaked_secrets(V2_KEY.encode(), b"GET /v1/jobs") == [V2_KEY]

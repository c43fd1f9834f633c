"""The v2 scopes a v1 endpoint needs are its row's (``mappings.v1_endpoints``), and only
there (issue 12): a v2 key lacking one gets a v1 403 naming the row's scopes, and a key
holding exactly the row's scopes is served. Every row that declares scopes is covered,
against the sandbox, whose keys carry the scopes each test gives them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from mappings.ids import candidate_id_for_application
from mappings.v1_endpoints import ENDPOINTS, V1Endpoint
from sandbox.config import ALL_SCOPES, DEMO_KEYS, KeySpec
from tests.faults.endpoints import application_with_job
from tests.proxy.conftest import KEYS, Harness

# The v1 key whose v2 key each test gives the scopes it wants.
V1_KEY = "v1-nonotes"
V2_KEY = KEYS[V1_KEY][2]
SCOPED = [entry for entry in ENDPOINTS if entry.scopes]


def _body(entry: type[V1Endpoint]) -> dict[str, Any]:
    """A valid v1 body for the row (its request model's name says which)."""
    model = entry.request.__name__ if entry.request else ""
    if entry.upload:
        form = aiohttp.FormData()
        form.add_field("file", b"%PDF-1.4 scopes", filename="cv.pdf", content_type="x/pdf")
        return {"data": form}
    forms = {
        "ApplicationCreate": {
            "candidate[first_name]": "Scope",
            "candidate[last_name]": "Checked",
            "candidate[email]": "scope-checked@example.com",
        },
        "ApplicationUpdate": {"content[pronouns]": "they/them"},
        "NoteCreate": {"body": "A scoped note", "name": "Ted"},
    }
    return {"data": forms[model]} if model else {}


async def _answer(
    make_harness: Callable[..., Any], entry: type[V1Endpoint], scopes: frozenset[str]
) -> tuple[int, dict[str, Any]]:
    """The row's v1 call, made with a v2 key holding ``scopes``."""
    keys = {**DEMO_KEYS, V2_KEY: KeySpec.with_scopes(scopes)}
    harness: Harness = await make_harness({"keys": keys})
    state = harness.sandbox.state
    application_id = application_with_job(state)
    ids = {
        "/v1/jobs/": next(iter(state.vacancies)),
        "/v1/candidates/": candidate_id_for_application(application_id),
        "/v1/applications/": application_id,
    }
    path = entry.path
    for prefix, value in ids.items():
        if path.startswith(prefix):
            path = path.replace("{id}", value)
    auth = aiohttp.BasicAuth(V1_KEY, "")
    url = harness.url(path)
    async with harness.http.request(entry.method, url, auth=auth, **_body(entry)) as response:
        return response.status, await response.json()


def test_every_scoped_row_has_a_body_and_a_path_here() -> None:
    assert len(SCOPED) >= 15
    for entry in SCOPED:
        assert "{" not in entry.path.replace("{id}", ""), entry.__name__
        _body(entry)  # a new request model fails here until it has a body


@pytest.mark.parametrize("entry", SCOPED, ids=lambda entry: entry.__name__)
async def test_a_key_lacking_the_rows_scope_is_a_403_naming_the_rows_scopes(
    make_harness: Callable[..., Any], entry: type[V1Endpoint]
) -> None:
    lacking = entry.scopes[0]  # the scope of the row's first v2 call
    status, body = await _answer(make_harness, entry, ALL_SCOPES - {lacking})
    assert status == 403, body
    assert body["status"] == 403
    expected = " and ".join(entry.scopes)
    assert (
        body["message"]
        == f"The bridge's API v2 key lacks the scope {expected} needed for this call"
    )


@pytest.mark.parametrize("entry", SCOPED, ids=lambda entry: entry.__name__)
async def test_a_key_holding_exactly_the_rows_scopes_is_served(
    make_harness: Callable[..., Any], entry: type[V1Endpoint]
) -> None:
    status, body = await _answer(make_harness, entry, frozenset(entry.scopes))
    assert entry.answer is not None
    assert status == entry.answer.status, body

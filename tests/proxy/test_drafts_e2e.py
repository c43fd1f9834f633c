"""Draft candidates (``POST /v1/candidates``) through the bridge: a draft no application
used answers from the store; one an application used reads its person from that
application, where the person is updated from then on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.proxy.conftest import FULL, Harness
from tests.store.own_redis import own_redis

PERSON = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}


async def _json(harness: Harness, method: str, path: str, status: int, **kw: Any) -> Any:
    """One v1 call: its status, and its body with the v2 calls it cost."""
    async with harness.http.request(method, harness.url(path), auth=FULL, **kw) as response:
        body = await response.json()
        assert response.status == status, body
        return body, int(response.headers["X-Upstream-Calls"])


async def _used_draft(harness: Harness) -> tuple[dict[str, Any], str]:
    """A draft, and the application made from it."""
    draft, _ = await _json(harness, "POST", "/v1/candidates", 201, json=PERSON)
    created, _ = await _json(
        harness, "POST", "/v1/applications", 201, json={"candidate": draft["id"]}
    )
    return draft, str(created["id"])


async def test_an_unused_draft_answers_from_the_store(harness: Harness) -> None:
    draft, _ = await _json(harness, "POST", "/v1/candidates", 201, json=PERSON)
    again, calls = await _json(harness, "GET", f"/v1/candidates/{draft['id']}", 200)
    assert again == draft and calls == 0


async def test_a_used_draft_reads_its_person_from_the_application(harness: Harness) -> None:
    draft, application_id = await _used_draft(harness)
    changed = {"candidate": {"email": "ada@lovelace.org", "city": "London"}}
    await _json(harness, "PATCH", f"/v1/applications/{application_id}", 200, json=changed)
    candidate, calls = await _json(harness, "GET", f"/v1/candidates/{draft['id']}", 200)
    assert calls == 1, "one read of the application it became"
    assert candidate == {
        **draft,
        "email": "ada@lovelace.org",
        "city": "London",
        "applications": [application_id],
    }
    # The person is the one the application's own candidate shows.
    alias, _ = await _json(
        harness, "GET", "/v1/candidates/ca_" + application_id.removeprefix("ap_"), 200
    )
    assert {k: v for k, v in alias.items() if k not in ("id", "created_at")} == {
        k: v for k, v in candidate.items() if k not in ("id", "created_at")
    }


async def test_another_application_from_a_used_draft_takes_the_person_as_updated(
    harness: Harness,
) -> None:
    draft, first = await _used_draft(harness)
    changed = {"candidate": {"email": "ada@lovelace.org"}}
    await _json(harness, "PATCH", f"/v1/applications/{first}", 200, json=changed)
    second, calls = await _json(
        harness, "POST", "/v1/applications", 201, json={"candidate": draft["id"]}
    )
    assert second["candidate"]["email"] == "ada@lovelace.org"
    assert second["candidate"]["last_name"] == "Lovelace"
    assert calls == 2, "the person read from the first application, then the create"
    candidate, _ = await _json(harness, "GET", f"/v1/candidates/{draft['id']}", 200)
    assert candidate["applications"] == [first, second["id"]]


async def test_a_used_draft_whose_application_is_gone_answers_the_stored_draft(
    harness: Harness,
) -> None:
    draft, application_id = await _used_draft(harness)
    harness.sandbox.state.delete_application(application_id)
    candidate, calls = await _json(harness, "GET", f"/v1/candidates/{draft['id']}", 200)
    assert candidate == {**draft, "applications": [application_id]} and calls == 1


async def test_with_the_store_down_a_used_draft_is_a_503_as_before(
    make_harness: Callable[..., Any],
) -> None:
    with own_redis() as server:
        harness: Harness = await make_harness(store_url=server.url, store_timeout_seconds=0.5)
        draft, _ = await _used_draft(harness)
        server.kill()
        body, calls = await _json(harness, "GET", f"/v1/candidates/{draft['id']}", 503)
    assert "store is unavailable" in body["message"] and "draft" in body["message"]
    assert calls == 1, "as before: the application its id would name is asked, in vain"

"""The issue's acceptance checks, end to end over loopback."""

from __future__ import annotations

from typing import Any

from tests.conftest_sandbox import RunningSandbox, StartSandbox
from tests.sandbox.support import bearer, call


async def test_page_two_of_twenty_has_laravel_meta(
    sandbox_client: Any, sandbox_server: RunningSandbox
) -> None:
    status, body = await call(sandbox_client, "GET", "/v2/job-applications?page=2&perPage=20")

    assert status == 200
    state = sandbox_server.state
    oldest_first = sorted(state.applications.values(), key=lambda item: (item.created_at, item.id))
    assert [item["id"] for item in body["data"]] == [item.id for item in oldest_first[20:40]]
    path = f"{sandbox_server.base_url}/v2/job-applications"
    total = len(state.applications)
    last_page = -(-total // 20)
    meta = body["meta"]
    assert {key: meta[key] for key in meta if key != "links"} == {
        "current_page": 2,
        "from": 21,
        "last_page": last_page,
        "path": path,
        "per_page": 20,
        "to": 40,
        "total": total,
    }
    assert list(meta) == [
        "current_page",
        "from",
        "last_page",
        "links",
        "path",
        "per_page",
        "to",
        "total",
    ]
    assert meta["links"][0] == {
        "url": f"{path}?page=1",
        "label": "&laquo; Previous",
        "active": False,
    }
    assert meta["links"][-1] == {"url": f"{path}?page=3", "label": "Next &raquo;", "active": False}
    active = [link for link in meta["links"] if link["active"]]
    assert active == [{"url": f"{path}?page=2", "label": "2", "active": True}]
    assert body["links"] == {
        "first": f"{path}?page=1",
        "last": f"{path}?page={last_page}",
        "prev": f"{path}?page=1",
        "next": f"{path}?page=3",
    }


async def test_wrong_key_gets_the_exact_401_body(sandbox_client: Any) -> None:
    async with sandbox_client.get("/v2/vacancies", headers=bearer("not-a-key")) as response:
        assert response.status == 401
        assert response.content_type == "application/json"
        assert await response.read() == b'{"code":401,"error":true,"message":"Unauthenticated"}'


async def test_sixty_first_call_in_a_minute_is_429_with_retry_after(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    sandbox = await start_sandbox(rate_limit_per_minute=60)
    client = await aiohttp_client(sandbox.server, headers=bearer("demo-v2-key"))
    for expected_remaining in range(59, -1, -1):
        async with client.get("/v2/ping") as response:
            assert response.status == 200
            assert response.headers["X-RateLimit-Limit"] == "60"
            assert response.headers["X-RateLimit-Remaining"] == str(expected_remaining)

    async with client.get("/v2/ping") as response:
        assert response.status == 429
        assert await response.json() == {
            "code": 429,
            "error": True,
            "message": "Too Many Attempts.",
        }
        assert 1 <= int(response.headers["Retry-After"]) <= 60
        assert response.headers["X-RateLimit-Remaining"] == "0"
        assert int(response.headers["X-RateLimit-Reset"]) > 0
    assert sandbox.state.stats.rate_limited["demo-v2-key"] == 1

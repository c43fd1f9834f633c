"""The per-key fixed-window rate limiter and its headers."""

from __future__ import annotations

from typing import Any

from tests.conftest_sandbox import StartSandbox
from tests.sandbox.support import FakeClock, bearer, call, status_of


async def test_windows_are_per_key_and_reset_after_sixty_seconds(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    clock = FakeClock()
    sandbox = await start_sandbox(rate_limit_per_minute=3, clock=clock)
    client = await aiohttp_client(sandbox.server)
    demo, readonly = bearer("demo-v2-key"), bearer("demo-readonly-v2-key")
    for _ in range(3):
        assert await status_of(client, "GET", "/v2/ping", headers=demo) == 200
    clock.advance(20)
    async with client.get("/v2/ping", headers=demo) as response:
        assert response.status == 429
        assert response.headers["Retry-After"] == "40"
        assert response.headers["X-RateLimit-Reset"] == str(int(clock.now + 40))
    # Another key has its own window.
    async with client.get("/v2/vacancies", headers=readonly) as response:
        assert response.status == 200 and response.headers["X-RateLimit-Remaining"] == "2"
    clock.advance(39.5)
    async with client.get("/v2/ping", headers=demo) as response:
        assert response.status == 429 and response.headers["Retry-After"] == "1"
    clock.advance(0.5)
    async with client.get("/v2/ping", headers=demo) as response:
        assert response.status == 200 and response.headers["X-RateLimit-Remaining"] == "2"
    stats = sandbox.state.stats
    assert stats.rate_limited == {"demo-v2-key": 2}
    assert stats.requests["demo-v2-key"] == 6


async def test_every_counted_response_carries_the_headers_errors_included(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    sandbox = await start_sandbox(rate_limit_per_minute=10)
    client = await aiohttp_client(sandbox.server, headers=bearer("demo-v2-key"))
    expected_remaining = 9
    for method, path in [
        ("GET", "/v2/vacancies/job_x"),
        ("GET", "/v2/unknown"),
        ("POST", "/v2/job-applications"),
    ]:
        async with client.request(method, path, json={}) as response:
            assert response.status in (400, 404)
            assert response.headers["X-RateLimit-Limit"] == "10"
            assert response.headers["X-RateLimit-Remaining"] == str(expected_remaining)
            expected_remaining -= 1
    async with client.get("/v2/ping", headers=bearer("nope")) as response:
        assert response.status == 401 and "X-RateLimit-Remaining" not in response.headers
    async with client.get("/v2/ping", headers=bearer("demo-noplan-v2-key")) as response:
        assert response.status == 402 and response.headers["X-RateLimit-Remaining"] == "9"


async def test_limiter_off_sends_no_headers_and_never_refuses(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    sandbox = await start_sandbox(rate_limit_per_minute=None)
    client = await aiohttp_client(sandbox.server, headers=bearer("demo-v2-key"))
    for _ in range(80):
        async with client.get("/v2/ping") as response:
            assert response.status == 200 and "X-RateLimit-Limit" not in response.headers
    assert sandbox.state.stats.rate_limited == {}


async def test_custom_rate_limit_message(start_sandbox: StartSandbox, aiohttp_client: Any) -> None:
    sandbox = await start_sandbox(rate_limit_per_minute=1, rate_limit_message="Slow down.")
    client = await aiohttp_client(sandbox.server, headers=bearer("demo-v2-key"))
    await call(client, "GET", "/v2/ping")
    assert await call(client, "GET", "/v2/ping") == (
        429,
        {"code": 429, "error": True, "message": "Slow down."},
    )

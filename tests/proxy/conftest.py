"""End-to-end fixtures: a real bridge in front of a real sandbox, both on loopback.

The sandbox comes from ``tests.conftest_sandbox`` (every answer it gives is checked
against the v2 OpenAPI document); the bridge is the real app with the demo key map.

``harness`` runs the sandbox as it always answers (every member sent). A test marked
``@pytest.mark.sandbox_modes`` runs twice, once against that ("full") and once against the
sandbox's seeded sparse mode ("sparse": only ``data`` and the ids guaranteed, the rest
left out or null): for tests whose assertions hold for any answer the spec allows.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestServer

from proxy.app import create_app
from proxy.config import BridgeSettings
from proxy.keys import build_key_map, hash_key
from tests.conftest_sandbox import RunningSandbox, StartSandbox

FULL = aiohttp.BasicAuth("demo-v1-key", "")
READONLY = aiohttp.BasicAuth("demo-v1-readonly", "")

KEYS = {
    # v1 key -> (label, env var, v2 key)
    "demo-v1-key": ("careers-site", "TEST_V2_FULL", "demo-v2-key"),
    "demo-v1-readonly": ("hr-sync", "TEST_V2_READONLY", "demo-readonly-v2-key"),
    "v1-noplan": ("noplan", "TEST_V2_NOPLAN", "demo-noplan-v2-key"),
    "v1-nonotes": ("nonotes", "TEST_V2_NONOTES", "demo-nonotes-v2-key"),
    "v1-revoked": ("revoked", "TEST_V2_REVOKED", "no-such-v2-key"),
}


@dataclass
class Harness:
    """The bridge under test, the sandbox behind it, and a client for the bridge."""

    bridge: TestServer
    sandbox: RunningSandbox
    http: aiohttp.ClientSession
    mode: str = "full"  # "sparse": the sandbox answers only what the spec guarantees

    def url(self, path: str) -> str:
        return str(self.bridge.make_url(path))

    def sandbox_url(self, path: str) -> str:
        return self.sandbox.url(path)

    async def get(self, path: str, auth: aiohttp.BasicAuth | None = FULL, **kw: Any) -> Any:
        return await self.http.get(self.url(path), auth=auth, **kw)

    async def post(self, path: str, auth: aiohttp.BasicAuth | None = FULL, **kw: Any) -> Any:
        return await self.http.post(self.url(path), auth=auth, **kw)

    async def first_id(self, listing: str) -> str:
        """The id of the first item a v1 list (path and query) shows."""
        async with await self.get(listing) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["data"][0]["id"])

    async def created_application(self, **body: Any) -> dict[str, Any]:
        """``POST /v1/applications`` (``data=`` a form, or ``json=``): the 201 answer's body."""
        async with await self.post("/v1/applications", **body) as response:
            assert response.status == 201, await response.text()
            created: dict[str, Any] = await response.json()
        return created

    async def faults(self, **fault: Any) -> None:
        async with self.http.post(self.sandbox_url("/_sandbox/faults"), json=fault) as r:
            assert r.status == 201, await r.text()

    async def stats(self) -> dict[str, Any]:
        async with self.http.get(self.sandbox_url("/_sandbox/stats")) as r:
            return dict(await r.json())


def bridge_settings(sandbox: RunningSandbox, **overrides: Any) -> BridgeSettings:
    keys = [
        {"label": label, "v1_key_sha256": hash_key(v1), "v2_key_env": env}
        for v1, (label, env, _) in KEYS.items()
    ]
    values: dict[str, Any] = {
        "upstream_url": sandbox.api_url,
        "rate_limit_per_minute": 0,
        "cache_ttl_seconds": 0,
        "keys": keys,
        "upstream_timeout_seconds": 5,
        **overrides,
    }
    return BridgeSettings(**values)


@pytest.fixture
def bridge_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for _, env, v2 in KEYS.values():
        monkeypatch.setenv(env, v2)


@pytest.fixture
async def make_harness(
    bridge_env: None, start_sandbox: StartSandbox, aiohttp_server: Callable[..., Any]
) -> AsyncIterator[Callable[..., Any]]:
    sessions: list[aiohttp.ClientSession] = []

    async def build(sandbox_overrides: dict[str, Any] | None = None, **overrides: Any) -> Harness:
        sandbox = await start_sandbox(**(sandbox_overrides or {}))
        settings = bridge_settings(sandbox, **overrides)
        bridge = await aiohttp_server(create_app(settings, build_key_map(settings)))
        http = aiohttp.ClientSession()
        sessions.append(http)
        return Harness(bridge, sandbox, http)

    yield build
    for http in sessions:
        await http.close()


SANDBOX_MODES = ("full", "sparse")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sandbox_modes: run the test against the full and the sparse sandbox"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "harness" in metafunc.fixturenames and metafunc.definition.get_closest_marker(
        "sandbox_modes"
    ):
        metafunc.parametrize("harness", SANDBOX_MODES, indirect=True)


@pytest.fixture
async def harness(request: pytest.FixtureRequest, make_harness: Callable[..., Any]) -> Harness:
    mode = getattr(request, "param", "full")
    harness: Harness = await make_harness({"sparse": mode == "sparse"})
    harness.mode = mode
    return harness

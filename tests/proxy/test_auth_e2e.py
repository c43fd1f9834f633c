"""Authentication and the translation of upstream 401/402/403."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest

from tests.proxy.conftest import FULL, READONLY, Harness


@pytest.mark.sandbox_modes
async def test_basic_with_empty_password_and_bearer_both_work(harness: Harness) -> None:
    async with await harness.get("/v1/jobs", auth=FULL) as response:
        assert response.status == 200
    bearer = {"Authorization": "Bearer demo-v1-key"}
    async with await harness.get("/v1/jobs", auth=None, headers=bearer) as response:
        assert response.status == 200
    with_password = aiohttp.BasicAuth("demo-v1-key", "ignored")
    async with await harness.get("/v1/jobs", auth=with_password) as response:
        assert response.status == 200
    bare = {"Authorization": "Basic " + base64.b64encode(b"demo-v1-key").decode()}
    async with await harness.get("/v1/jobs", auth=None, headers=bare) as response:
        assert response.status == 200


@pytest.mark.sandbox_modes
async def test_missing_or_unknown_key_is_401_with_basic_challenge(harness: Harness) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer demo-v1-kez"},  # one character off
        {"Authorization": "Basic !!!notbase64"},
        {"Authorization": "Digest abc"},
        {"Authorization": "Bearer demo-v2-key"},  # a v2 key is not a v1 key
    ):
        async with await harness.get("/v1/jobs", auth=None, headers=headers) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == 'Basic realm="Homerun API v1"'
            body = await response.json()
            assert body["status"] == 401 and "key" in body["message"]
            assert response.headers["X-Upstream-Calls"] == "0"


@pytest.mark.sandbox_modes
async def test_missing_scope_is_403_naming_the_v2_scope(harness: Harness) -> None:
    form = {"candidate[first_name]": "A", "candidate[last_name]": "B", "candidate[email]": "a@b.co"}
    async with await harness.post("/v1/applications", data=form, auth=READONLY) as response:
        assert response.status == 403
        assert "job-applications:write" in (await response.json())["message"]
    nonotes = aiohttp.BasicAuth("v1-nonotes", "")
    async with await harness.get("/v1/applications?per_page=1", auth=nonotes) as response:
        application_id = (await response.json())["data"][0]["id"]
    async with await harness.get(
        f"/v1/applications/{application_id}/notes", auth=nonotes
    ) as response:
        assert response.status == 403
        assert "job-application-notes:read" in (await response.json())["message"]


@pytest.mark.sandbox_modes
async def test_plan_without_api_is_403(harness: Harness) -> None:
    async with await harness.get("/v1/jobs", auth=aiohttp.BasicAuth("v1-noplan", "")) as response:
        assert response.status == 403
        assert "plan" in (await response.json())["message"]


@pytest.mark.sandbox_modes
async def test_revoked_v2_key_is_401_naming_the_bridge_key(harness: Harness) -> None:
    async with await harness.get("/v1/jobs", auth=aiohttp.BasicAuth("v1-revoked", "")) as r:
        assert r.status == 401
        assert "v2 key" in (await r.json())["message"]


async def test_passthrough_mode_uses_the_presented_key(
    make_harness: Callable[..., Any],
) -> None:
    harness = await make_harness(key_mode="passthrough", keys=[])
    async with await harness.get("/v1/jobs", auth=aiohttp.BasicAuth("demo-v2-key", "")) as r:
        assert r.status == 200
    async with await harness.get("/v1/jobs", auth=aiohttp.BasicAuth("nonsense", "")) as r:
        assert r.status == 401

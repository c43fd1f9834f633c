"""Sparse mode: answers thinned to what the spec guarantees, seeded, still spec-valid.

Every answer these tests cause is checked against homerun-v2.openapi.yaml by the session's
SpecRecorder (tests.conftest_sandbox): a thinned answer that broke the spec fails the test.
"""

from __future__ import annotations

import argparse
from typing import Any

import orjson
import pytest
from aiohttp.test_utils import TestClient

from sandbox.cli import add_arguments, config_from_args
from sandbox.config import SandboxConfig
from tests.conftest_sandbox import AUTH_HEADERS, StartSandbox
from tests.sandbox.support import call, file_form

NEW_APPLICANT = {"first_name": "Sparse", "last_name": "Test", "email": "sparse@example.com"}


async def _client(start_sandbox: StartSandbox, aiohttp_client: Any, **config: Any) -> Any:
    sandbox = await start_sandbox(**config)
    return sandbox, await aiohttp_client(sandbox.server, headers=AUTH_HEADERS)


async def _raw(client: TestClient[Any, Any], method: str, path: str, **kw: Any) -> bytes:
    async with client.request(method, path, **kw) as response:
        assert 200 <= response.status < 300, await response.text()
        return await response.read()


async def _walk(client: TestClient[Any, Any]) -> list[bytes]:
    """One answer of every kind the bridge reads, writes included."""
    answers = [
        await _raw(client, "GET", "/v2/vacancies?include[]=location&include[]=department"),
        await _raw(client, "GET", "/v2/job-applications?include[]=vacancy&include[]=stage"),
    ]
    vacancy_id = orjson.loads(await _raw(client, "GET", "/v2/vacancies"))["data"][0]["id"]
    answers.append(await _raw(client, "GET", f"/v2/vacancies/{vacancy_id}?include[]=location"))
    created = await _raw(
        client, "POST", "/v2/job-applications", json={**NEW_APPLICANT, "vacancy_id": vacancy_id}
    )
    application_id = orjson.loads(created)["data"]["id"]
    answers.append(created)
    path = f"/v2/job-applications/{application_id}"
    answers.append(await _raw(client, "PATCH", path, json={"education": "MSc"}))
    note = {"note": "Seen", "display_name": "Ted"}
    answers.append(await _raw(client, "POST", f"{path}/notes", json=note))
    answers.append(await _raw(client, "POST", f"{path}/files", data=file_form(file_first=True)))
    answers.append(await _raw(client, "GET", f"{path}?include[]=vacancy&include[]=notes"))
    return answers


def _members(value: Any) -> int:
    if isinstance(value, dict):
        return len(value) + sum(_members(v) for v in value.values())
    if isinstance(value, list):
        return sum(_members(v) for v in value)
    return 0


async def test_sparse_answers_keep_data_and_ids_and_leave_out_much(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    _, full = await _client(start_sandbox, aiohttp_client)
    _, sparse = await _client(start_sandbox, aiohttp_client, sparse=True)
    full_answers = [orjson.loads(raw) for raw in await _walk(full)]
    sparse_answers = [orjson.loads(raw) for raw in await _walk(sparse)]
    assert all("data" in answer for answer in sparse_answers)
    # A small answer may keep all its few members by chance; most answers are thinner.
    pairs = list(zip(full_answers, sparse_answers, strict=True))
    thinner = [_members(sparse) < _members(full) for full, sparse in pairs]
    assert sum(thinner) >= len(pairs) - 2, thinner
    assert sum(map(_members, sparse_answers)) < sum(map(_members, full_answers)) * 0.8
    # Ids survive everywhere they are guaranteed: every list item, every single object.
    for answer in sparse_answers[:2]:
        assert all(isinstance(item["id"], str) for item in answer["data"])
    assert all(isinstance(a["data"]["id"], str) for a in sparse_answers[2:5])
    nulls = sum(raw.count(b":null") for raw in map(orjson.dumps, sparse_answers))
    assert nulls > 0


async def test_the_same_seed_thins_the_same_way(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    # One public base URL: the pagination URLs must not differ by the servers' ports.
    same = {"sparse": True, "public_base_url": "http://sandbox.test"}
    _, first = await _client(start_sandbox, aiohttp_client, **same, sparse_seed=7)
    _, again = await _client(start_sandbox, aiohttp_client, **same, sparse_seed=7)
    _, other = await _client(start_sandbox, aiohttp_client, **same, sparse_seed=8)
    listing = "/v2/job-applications?include[]=vacancy&perPage=50"
    assert await _raw(first, "GET", listing) == await _raw(again, "GET", listing)
    # The n-th answer to one path differs from the first, and another seed thins otherwise.
    assert await _raw(first, "GET", listing) != await _raw(again, "GET", "/v2/vacancies")
    assert await _raw(first, "GET", listing) != await _raw(other, "GET", listing)


async def test_sparse_mode_leaves_errors_whole(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    _, client = await _client(start_sandbox, aiohttp_client, sparse=True)
    status, body = await call(client, "GET", "/v2/job-applications/ap_nope")
    assert status == 404 and body == {"code": 404, "error": True, "message": "Not found"}


def test_cli_and_config_take_the_sparse_switch() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    config = config_from_args(parser.parse_args(["--sparse", "--sparse-seed", "3"]))
    assert (config.sparse, config.sparse_seed) == (True, 3)
    assert config_from_args(parser.parse_args([])).sparse is False
    with pytest.raises(ValueError, match="sparse_seed"):
        SandboxConfig(sparse=True, sparse_seed="x")  # type: ignore[arg-type]


async def test_unreadable_after_write_creates_once_and_answers_its_status(
    start_sandbox: StartSandbox, aiohttp_client: Any
) -> None:
    sandbox, client = await _client(start_sandbox, aiohttp_client, faults_enabled=True)
    before = len(sandbox.state.applications)
    fault = {"method": "POST", "path": "^/v2/job-applications$"}
    await call(
        client, "POST", "/_sandbox/faults", json={**fault, "action": "unreadable_after_write"}
    )
    async with client.post("/v2/job-applications", json=NEW_APPLICANT) as response:
        assert response.status == 201
        raw = await response.read()
    with pytest.raises(orjson.JSONDecodeError):
        orjson.loads(raw)
    assert len(sandbox.state.applications) == before + 1
    # With a body: the answer v2 gives is that JSON (here: no id).
    rule = {**fault, "action": "unreadable_after_write", "body": {"data": {}}}
    await call(client, "POST", "/_sandbox/faults", json=rule)
    assert await call(client, "POST", "/v2/job-applications", json=NEW_APPLICANT) == (
        201,
        {"data": {}},
    )
    assert len(sandbox.state.applications) == before + 2
    # A refused write stays refused (nothing created, the v2 error answered).
    await call(
        client, "POST", "/_sandbox/faults", json={**fault, "action": "unreadable_after_write"}
    )
    status, _ = await call(client, "POST", "/v2/job-applications", json={"first_name": "x"})
    assert status == 400
    assert len(sandbox.state.applications) == before + 2

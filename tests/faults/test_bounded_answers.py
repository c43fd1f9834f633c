"""Upstream answers are read up to ``max_upstream_body_bytes`` and no further (issue 11).

A stand-in upstream answers a vacancy list with 500 MB (announced, or chunked), with a
lying Content-Length, or endlessly. Each time the bridge answers a v1 502 saying the
answer was too large, stops reading (the stand-in sees the connection closed long
before its body ends), caches nothing, and a bridge process's peak RSS grows by less
than 50 MiB.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.faults.standin import (
    StandIn,
    settings_for,
    start_bridge,
    start_lying_standin,
    start_standin,
)
from tests.proxy.conftest import FULL
from tests.proxy.processes import AUTH, spawn_bridge

MIB = 1024 * 1024
LIMIT = 8 * MIB  # the setting's default
HUGE = 500 * MIB
# What may be in flight beyond the limit when the bridge hangs up: socket buffers.
READ_PAST_LIMIT = 32 * MIB
# Generous for a loaded 2-core runner; the old code took minutes (or never) here.
PROMPT = 10.0


async def huge_announced(request: web.Request, standin: StandIn) -> web.StreamResponse:
    return await standin.stream(request, HUGE, content_length=HUGE)


async def huge_chunked(request: web.Request, standin: StandIn) -> web.StreamResponse:
    return await standin.stream(request, HUGE)


async def endless(request: web.Request, standin: StandIn) -> web.StreamResponse:
    return await standin.stream(request, None)


async def _until(condition: Callable[[], bool], seconds: float) -> bool:
    """Polls (the stand-in's counters change in its own handler)."""
    for _ in range(int(seconds / 0.05)):
        if condition():
            break
        await asyncio.sleep(0.05)
    return condition()


async def _get_jobs(url: str, **kw: Any) -> tuple[int, dict[str, Any], float]:
    started = time.perf_counter()
    async with aiohttp.ClientSession() as http:
        async with asyncio.timeout(60):
            async with http.get(url + "/v1/jobs", **kw) as response:
                body = await response.json()
                return response.status, body, time.perf_counter() - started


@pytest.mark.parametrize(
    "answer", [huge_announced, huge_chunked, endless], ids=lambda a: a.__name__
)
async def test_an_oversized_answer_is_a_prompt_502_and_is_not_read_on(
    bridge_env: None, aiohttp_server: Callable[..., Any], answer: Any
) -> None:
    standin = await start_standin(aiohttp_server, answer)
    bridge = await start_bridge(aiohttp_server, settings_for(standin.api_url, cache_ttl_seconds=60))
    url = str(bridge.make_url("")).rstrip("/")
    status, body, seconds = await _get_jobs(url, auth=FULL)
    assert status == 502, body
    assert body["status"] == 502
    assert "too large" in body["message"] and str(LIMIT) in body["message"]
    assert seconds < PROMPT
    # The bridge hung up: the stand-in's body stops being written, far short of its end.
    if answer is huge_announced:
        assert standin.bytes_written < READ_PAST_LIMIT  # refused on Content-Length
    else:
        assert await _until(lambda: standin.hung_up == 1, PROMPT), standin.bytes_written
        assert standin.bytes_written < LIMIT + READ_PAST_LIMIT
    # Nothing entered the cache: the same read asks upstream again (and is refused again).
    status, _, _ = await _get_jobs(url, auth=FULL)
    assert status == 502
    assert standin.calls == 2, "an oversized answer is neither cached nor retried"


async def test_a_lying_content_length_is_not_taken_for_an_answer(
    bridge_env: None, aiohttp_server: Callable[..., Any]
) -> None:
    # Announces 1 MiB and sends without end: what follows the announced length must not
    # be read as anything, nor left on a pooled connection.
    standin = await start_lying_standin(MIB)
    bridge = await start_bridge(aiohttp_server, settings_for(standin.api_url))
    url = str(bridge.make_url("")).rstrip("/")
    status, body, seconds = await _get_jobs(url, auth=FULL)
    assert status == 502, body  # 1 MiB of "x" is not v2
    assert seconds < PROMPT
    # The rest of the endless body is not read: the connection was not kept.
    assert await _until(lambda: standin.hung_up == 1, PROMPT), standin.bytes_written
    assert standin.bytes_written < LIMIT + READ_PAST_LIMIT
    assert standin.server is not None
    standin.server.close()


def _peak_rss_bytes(pid: int) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM in /proc status")


async def test_a_bridge_process_reading_huge_answers_grows_by_less_than_50_mib(
    aiohttp_server: Callable[..., Any],
) -> None:
    answers = iter([huge_chunked, endless, huge_announced, huge_chunked, endless])

    async def next_answer(request: web.Request, standin: StandIn) -> web.StreamResponse:
        if request.path == "/v2/ping":
            return web.json_response({"pong": True})
        return await next(answers)(request, standin)

    standin = await start_standin(aiohttp_server, next_answer)
    async with spawn_bridge(standin.api_url, rate_limit_per_minute=0) as bridge:
        async with aiohttp.ClientSession() as http:
            async with http.get(bridge.base + "/healthz") as response:
                assert response.status == 200
        before = _peak_rss_bytes(bridge.pid)
        for _ in range(5):
            status, body, _ = await _get_jobs(bridge.base, headers=AUTH)
            assert status == 502, body
        grown = _peak_rss_bytes(bridge.pid) - before
        print(f"bridge peak RSS grew by {grown / MIB:.1f} MiB over five oversized answers")
        assert grown < 50 * MIB


async def _note_posted_to(
    aiohttp_server: Callable[..., Any], answer: Any
) -> tuple[int, dict[str, Any], StandIn]:
    """POST a v1 note through a bridge whose v2 is a stand-in answering with ``answer``:
    the v1 status and body, and the stand-in (with the v2 calls it saw)."""
    standin = await start_standin(aiohttp_server, answer)
    bridge = await start_bridge(aiohttp_server, settings_for(standin.api_url))
    url = str(bridge.make_url("")).rstrip("/")
    async with aiohttp.ClientSession() as http:
        async with asyncio.timeout(60):
            async with http.post(
                url + "/v1/applications/ap_abc/notes", auth=FULL, data={"body": "Hello"}
            ) as response:
                return response.status, await response.json(), standin


def _posts_of(standin: StandIn) -> list[str]:
    return [p for p in standin.paths if p.endswith("/notes")]


async def test_an_oversized_2xx_answer_to_a_write_is_answered_as_the_success_v2_confirmed(
    bridge_env: None, aiohttp_server: Callable[..., Any]
) -> None:
    # v2 created the note and then sent an endless answer: the write happened, so the
    # client gets its 201 (what could be read: nothing), never a 502 that invites a retry.
    async def created_then_endless(request: web.Request, standin: StandIn) -> web.StreamResponse:
        if request.method == "POST":
            return await standin.stream(request, None)
        return web.json_response({"data": {"id": request.match_info["tail"].split("/")[1]}})

    status, body, standin = await _note_posted_to(aiohttp_server, created_then_endless)
    assert status == 201, body
    assert body["body"] == "Hello"  # taken from what the bridge sent
    assert len(_posts_of(standin)) == 1, standin.paths  # sent once, never retried
    assert await _until(lambda: standin.hung_up >= 1, PROMPT), standin.bytes_written


async def test_an_oversized_5xx_answer_to_a_write_is_an_outcome_unknown_never_retried(
    bridge_env: None, aiohttp_server: Callable[..., Any], capsys: pytest.CaptureFixture[str]
) -> None:
    # v2 may or may not have created the note: the client gets a 5xx, the write is sent
    # once, and the operator's log says the outcome is unknown (contract §3).
    async def failed_endlessly(request: web.Request, standin: StandIn) -> web.StreamResponse:
        return await standin.stream(request, None, status=500)

    status, body, standin = await _note_posted_to(aiohttp_server, failed_endlessly)
    assert status == 502, body
    assert len(_posts_of(standin)) == 1, standin.paths
    logged = capsys.readouterr()
    assert "upstream.write_outcome_unknown" in logged.out + logged.err

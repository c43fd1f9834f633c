"""Client connections against a real bridge process: past ``max_client_connections`` a
connection gets a v1 503 at once; the open-file limit is raised at start-up, and the cap
fits under it; accept errors (out of descriptors) are counted, not one traceback each."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import signal
from dataclasses import dataclass
from pathlib import Path

import aiohttp

from tests.proxy.lifecycle_support import (
    V1_KEY,
    add_fault,
    bridge_process,
    sandbox_process,
)
from tests.proxy.processes import BridgeProcess

REQUEST = (
    "GET /v1/jobs?per_page=1 HTTP/1.1\r\nHost: bridge.test\r\nConnection: close\r\n"
    f"Authorization: Basic {base64.b64encode(f'{V1_KEY}:'.encode()).decode()}\r\n\r\n"
).encode()
# Nothing here may take longer: a connection that hangs fails the test.
HANG = 40.0


@dataclass
class Answer:
    status: int | None  # None: closed (or reset) without an answer
    headers: dict[str, str]
    body: bytes
    order: int


async def _one_connection(port: int, finished: list[int], delay: float = 0.0) -> Answer:
    """One request on its own connection; what came back before the bridge closed it."""
    data = b""
    async with asyncio.timeout(HANG):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            if delay:
                await asyncio.sleep(delay)
            with contextlib.suppress(ConnectionError):
                writer.write(REQUEST)
                await writer.drain()
                while chunk := await reader.read(65536):
                    data += chunk
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
    finished.append(len(finished))
    if not data:
        return Answer(None, {}, b"", finished[-1])
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines)}
    return Answer(int(status_line.split(" ")[1]), headers, body, finished[-1])


async def _stop(bridge: BridgeProcess) -> None:
    bridge.process.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(bridge.process.wait(), 30) == 0


def _no_tracebacks(bridge: BridgeProcess) -> None:
    output = bridge.all_output()
    assert "Traceback" not in output, output[-3000:]
    for line in bridge.log_lines():
        json.loads(line)  # every line of the log is one JSON record


async def test_past_the_cap_a_connection_gets_a_v1_503_at_once(tmp_path: Path) -> None:
    cap, opened = 20, 60
    async with (
        sandbox_process() as sandbox,
        bridge_process(
            sandbox + "/v2", tmp_path, max_client_connections=cap, sunset="2027-06-30T00:00:00Z"
        ) as bridge,
    ):
        # The admitted requests stay in flight (v2 is slow) while the others arrive.
        await add_fault(sandbox, action="latency", latency_ms=4000, count=cap)
        finished: list[int] = []
        answers = await asyncio.gather(
            *(_one_connection(bridge.port, finished) for _ in range(opened))
        )
        served = [a for a in answers if a.status == 200]
        refused = [a for a in answers if a.status == 503]
        assert len(served) == cap and len(refused) == opened - cap, [a.status for a in answers]
        # Fast: every refusal came back before any admitted request had its answer.
        assert max(a.order for a in refused) < min(a.order for a in served)
        for answer in refused:
            assert answer.headers["retry-after"] == "1"
            assert answer.headers["connection"] == "close"
            assert answer.headers["content-type"] == "application/json; charset=utf-8"
            assert answer.headers["deprecation"] == "@1701388800"
            assert answer.headers["x-request-id"]
            assert answer.headers["sunset"] == "Wed, 30 Jun 2027 00:00:00 GMT"
            body = json.loads(answer.body)
            assert body["status"] == 503 and str(cap) in body["message"], body
            assert int(answer.headers["content-length"]) == len(answer.body)
        # The slots come back: after the burst a connection is served again.
        assert (await _one_connection(bridge.port, [])).status == 200
        async with aiohttp.ClientSession() as http:
            async with http.get(bridge.base + "/metrics") as response:
                metrics = await response.text()
        assert f"homerun_bridge_client_connections_refused_total {opened - cap}.0" in metrics
        await _stop(bridge)
    refusals = bridge.events("connections.refused")
    assert sum(line["count"] for line in refusals) == opened - cap
    assert len(refusals) <= 4, refusals  # one per 10 s interval, and the flush at shutdown
    _no_tracebacks(bridge)


async def test_start_up_raises_the_open_file_limit_to_the_hard_limit(tmp_path: Path) -> None:
    async with (
        sandbox_process() as sandbox,
        bridge_process(sandbox + "/v2", tmp_path, open_files=(256, 4096)) as bridge,
    ):
        await _stop(bridge)
    (raised,) = bridge.events("rlimit.raised")
    assert (raised["soft_before"], raised["soft"], raised["hard"]) == (256, 4096, 4096)
    assert not bridge.events("connections.cap_lowered")  # 1000 fit under 4096


async def test_out_of_descriptors_accept_errors_are_counted_not_traced(tmp_path: Path) -> None:
    limit, opened = 160, 400
    async with (
        sandbox_process() as sandbox,
        bridge_process(sandbox + "/v2", tmp_path, open_files=(limit, limit)) as bridge,
    ):
        (lowered,) = bridge.events("connections.cap_lowered")
        assert lowered["cap"] == limit - 32 - 64 and lowered["open_file_limit"] == limit
        # Connections that say nothing for a while hold their descriptors: accept() runs out.
        finished: list[int] = []
        answers = await asyncio.gather(
            *(_one_connection(bridge.port, finished, delay=1.5) for _ in range(opened)),
            return_exceptions=True,
        )
        hung = [a for a in answers if isinstance(a, TimeoutError)]
        assert not hung, f"{len(hung)} connections hung"
        # Afterwards the bridge serves again.
        assert (await _one_connection(bridge.port, [])).status == 200
        await _stop(bridge)
    failures = bridge.events("accept.failed")
    assert failures, "the test never ran the bridge out of descriptors"
    assert failures[0]["errno"] == 24  # EMFILE
    assert sum(line["count"] for line in failures) >= 1
    assert len(failures) <= 4, failures  # one per 10 s interval, and the flush at shutdown
    _no_tracebacks(bridge)

"""The bridge as a process: SIGHUP reloads the key map live, SIGTERM drains in-flight work."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp

from proxy.keys import hash_key
from tests.conftest_sandbox import RunningSandbox
from tests.proxy.processes import free_port


def _config(path: Path, upstream: str, port: int, entries: list[tuple[str, str, str]]) -> None:
    lines = [f'upstream_url = "{upstream}"', f"port = {port}", 'log_level = "warning"', ""]
    for label, digest, env in entries:
        lines += ["[[keys]]", f'label = "{label}"', f'v1_key_sha256 = "{digest}"']
        lines += [f'v2_key_env = "{env}"', ""]
    path.write_text("\n".join(lines))


async def _start(config: Path, port: int) -> asyncio.subprocess.Process:
    env = {**os.environ, "LIFE_V2_A": "demo-v2-key", "LIFE_V2_B": "demo-readonly-v2-key"}
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "serve", "--config", str(config), env=env
    )
    async with aiohttp.ClientSession() as http:
        for _ in range(150):
            try:
                async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
    process.kill()
    raise AssertionError("the bridge did not start")


async def _status(http: aiohttp.ClientSession, base: str, key: str) -> int:
    async with http.get(base + "/v1/jobs", auth=aiohttp.BasicAuth(key, "")) as response:
        return response.status


async def test_sighup_reloads_the_key_map_and_refuses_a_bad_one(
    sandbox_server: RunningSandbox, tmp_path: Path
) -> None:
    port, config = free_port(), tmp_path / "bridge.toml"
    base = f"http://127.0.0.1:{port}"
    _config(config, sandbox_server.api_url, port, [("a", hash_key("key-a"), "LIFE_V2_A")])
    process = await _start(config, port)
    try:
        async with aiohttp.ClientSession() as http:
            assert await _status(http, base, "key-a") == 200
            assert await _status(http, base, "key-b") == 401
            # A slow request is in flight while the key map changes under it.
            await sandbox_server_fault(http, sandbox_server, latency_ms=800)
            slow = asyncio.create_task(_status(http, base, "key-a"))
            await asyncio.sleep(0.2)
            _config(config, sandbox_server.api_url, port, [("b", hash_key("key-b"), "LIFE_V2_B")])
            process.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.5)
            assert await slow == 200, "the request in flight was not dropped"
            assert await _status(http, base, "key-b") == 200
            assert await _status(http, base, "key-a") == 401
            # A broken configuration is refused; the running key map stays.
            config.write_text('upstream_url = "not a url"\n[[keys]]\nlabel = "x"\n')
            process.send_signal(signal.SIGHUP)
            await asyncio.sleep(0.5)
            assert process.returncode is None
            assert await _status(http, base, "key-b") == 200
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 15)


async def sandbox_server_fault(
    http: aiohttp.ClientSession, sandbox: RunningSandbox, latency_ms: int
) -> None:
    fault = {"path": "^/v2/vacancies", "action": "latency", "latency_ms": latency_ms}
    async with http.post(sandbox.url("/_sandbox/faults"), json=fault) as response:
        assert response.status == 201


async def test_sigterm_finishes_in_flight_requests_then_exits(
    sandbox_server: RunningSandbox, tmp_path: Path
) -> None:
    port, config = free_port(), tmp_path / "bridge.toml"
    base = f"http://127.0.0.1:{port}"
    _config(config, sandbox_server.api_url, port, [("a", hash_key("key-a"), "LIFE_V2_A")])
    process = await _start(config, port)
    async with aiohttp.ClientSession() as http:
        await sandbox_server_fault(http, sandbox_server, latency_ms=1000)
        slow = asyncio.create_task(_status(http, base, "key-a"))
        await asyncio.sleep(0.3)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert await slow == 200, "the in-flight request was cut off"
        code = await asyncio.wait_for(process.wait(), 15)
        assert code == 0
        assert time.monotonic() - started < 12
        try:
            async with http.get(base + "/healthz") as response:
                raise AssertionError(f"still answering after shutdown: {response.status}")
        except aiohttp.ClientConnectorError:
            pass

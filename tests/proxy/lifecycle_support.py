"""A bridge process for the lifecycle tests: settings by environment, its JSON log in a
file to read back, and optionally a lower open-file limit (set in the child)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from proxy.keys import hash_key
from tests.proxy.processes import free_port

V1_KEY = "lifecycle-v1-key"
AUTH = aiohttp.BasicAuth(V1_KEY, "")


@dataclass
class RunningBridge:
    process: asyncio.subprocess.Process
    base: str
    port: int
    log_path: Path
    stderr_path: Path

    def log_lines(self) -> list[str]:
        return self.log_path.read_text(errors="replace").splitlines()

    def events(self, name: str) -> list[dict[str, Any]]:
        """The JSON log lines whose event is ``name``."""
        found = []
        for line in self.log_lines():
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and record.get("event") == name:
                    found.append(record)
        return found

    def all_output(self) -> str:
        return self.log_path.read_text(errors="replace") + self.stderr_path.read_text(
            errors="replace"
        )


def _open_files_limit(soft: int, hard: int) -> Callable[[], None]:
    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return lower


@contextlib.asynccontextmanager
async def bridge_process(
    upstream_url: str,
    tmp_path: Path,
    open_files: tuple[int, int] | None = None,
    **settings: Any,
) -> AsyncIterator[RunningBridge]:
    """``python -m proxy serve`` with key ``lifecycle-v1-key``, limiter off, JSON logs at
    info, ``open_files`` its (soft, hard) RLIMIT_NOFILE; killed at the end if still running."""
    port = free_port()
    env = {
        **os.environ,
        "HOMERUN_BRIDGE_UPSTREAM_URL": upstream_url,
        "HOMERUN_BRIDGE_PORT": str(port),
        "HOMERUN_BRIDGE_LOG_LEVEL": "info",
        "HOMERUN_BRIDGE_LOG_FORMAT": "json",
        "HOMERUN_BRIDGE_RATE_LIMIT_PER_MINUTE": "0",
        "HOMERUN_BRIDGE_KEYS": json.dumps(
            [{"label": "lifecycle", "v1_key_sha256": hash_key(V1_KEY), "v2_key_env": "LC_V2"}]
        ),
        "LC_V2": "demo-v2-key",
        **{f"HOMERUN_BRIDGE_{name.upper()}": str(value) for name, value in settings.items()},
    }
    log_path, stderr_path = tmp_path / f"bridge-{port}.log", tmp_path / f"bridge-{port}.err"
    with log_path.open("wb") as out, stderr_path.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "proxy",
            "serve",
            env=env,
            stdout=out,
            stderr=err,
            preexec_fn=_open_files_limit(*open_files) if open_files else None,
        )
    running = RunningBridge(process, f"http://127.0.0.1:{port}", port, log_path, stderr_path)
    try:
        # The bridge closes the probe's connection itself: no slot stays taken after it.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
            for _ in range(300):
                if process.returncode is not None:
                    raise AssertionError(f"the bridge exited: {running.all_output()[-2000:]}")
                try:
                    async with http.get(running.base + "/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the bridge did not start")
        yield running
    finally:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
            await process.wait()


@contextlib.asynccontextmanager
async def sandbox_process() -> AsyncIterator[str]:
    """The API v2 sandbox as its own process (limiter off, faults on): killing it at the end
    also ends the handlers a latency fault keeps asleep. Yields its base URL."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "proxy",
        "sandbox",
        "--port",
        str(port),
        "--rate-limit",
        "off",
        "--faults",
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(base + "/_sandbox/faults") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the sandbox did not start")
        yield base
    finally:
        process.send_signal(signal.SIGKILL)
        await process.wait()


async def add_fault(base: str, **fault: Any) -> None:
    async with aiohttp.ClientSession() as http:
        async with http.post(base + "/_sandbox/faults", json=fault) as response:
            assert response.status == 201, await response.text()


async def fault_uses(base: str) -> int:
    """How many requests the active faults still apply to (one fault: its count left)."""
    async with aiohttp.ClientSession() as http:
        async with http.get(base + "/_sandbox/faults") as response:
            return sum(int(f["count"]) for f in (await response.json())["faults"])

"""A bridge process for the lifecycle tests (``spawn_bridge`` with its JSON log in a file to
read back, optionally a lower open-file limit), and the sandbox as its own process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp

from tests.proxy.processes import BridgeProcess, free_port, spawn_bridge, wait_until_answering

V1_KEY = "lifecycle-v1-key"
AUTH = aiohttp.BasicAuth(V1_KEY, "")


@contextlib.asynccontextmanager
async def bridge_process(
    upstream_url: str,
    tmp_path: Path,
    open_files: tuple[int, int] | None = None,
    **settings: Any,
) -> AsyncIterator[BridgeProcess]:
    """``python -m proxy serve`` with key ``lifecycle-v1-key``, limiter off, JSON logs at
    info into ``tmp_path``, ``open_files`` its (soft, hard) RLIMIT_NOFILE; killed at the
    end if still running (a graceful stop is what the tests themselves exercise)."""
    lifecycle_settings: dict[str, Any] = {
        "log_level": "info",
        "log_format": "json",
        "rate_limit_per_minute": 0,
        **settings,
    }
    async with spawn_bridge(
        upstream_url,
        v1_key=V1_KEY,
        label="lifecycle",
        output_dir=tmp_path,
        open_files=open_files,
        stop_signal=signal.SIGKILL,
        **lifecycle_settings,
    ) as bridge:
        yield bridge


@contextlib.asynccontextmanager
async def sandbox_process() -> AsyncIterator[str]:
    """The API v2 sandbox as its own process (limiter off, faults on): killing it at the end
    also ends the handlers a latency fault keeps asleep. Yields its base URL."""
    port = free_port()
    process = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "proxy", "sandbox", "--port", str(port)),
        *("--rate-limit", "off", "--faults"),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_until_answering(base + "/_sandbox/faults", process, "sandbox")
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

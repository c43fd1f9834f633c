"""Bridges as separate processes, for tests that need real replicas or real RSS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp

from proxy.keys import hash_key

V1_KEY = "replica-v1-key"
AUTH = {"Authorization": "Bearer " + V1_KEY}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class BridgeProcess:
    base: str
    pid: int


@contextlib.asynccontextmanager
async def spawn_bridge(upstream_url: str, **settings: Any) -> AsyncIterator[BridgeProcess]:
    """``python -m proxy serve`` configured by environment, mapped key ``replica-v1-key``."""
    port = free_port()
    env = {
        **os.environ,
        "HOMERUN_BRIDGE_UPSTREAM_URL": upstream_url,
        "HOMERUN_BRIDGE_PORT": str(port),
        "HOMERUN_BRIDGE_LOG_LEVEL": "warning",
        "HOMERUN_BRIDGE_KEYS": json.dumps(
            [{"label": "replica", "v1_key_sha256": hash_key(V1_KEY), "v2_key_env": "REPLICA_V2"}]
        ),
        "REPLICA_V2": "demo-v2-key",
        **{f"HOMERUN_BRIDGE_{name.upper()}": str(value) for name, value in settings.items()},
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "proxy", "serve", env=env, stdout=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                try:
                    async with http.get(base + "/healthz") as response:
                        if response.status == 200:
                            break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            else:
                raise AssertionError("the bridge process did not start")
        yield BridgeProcess(base, process.pid)
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), 15)

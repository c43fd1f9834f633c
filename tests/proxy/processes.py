"""Bridges as separate processes, for tests that need real replicas or real RSS."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
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
    """A bridge process; ``log_path`` and ``stderr_path`` hold its output when it was
    spawned with an ``output_dir`` (otherwise its stdout is discarded, and there is no
    output to read back)."""

    base: str
    process: asyncio.subprocess.Process
    port: int
    log_path: Path | None = None
    stderr_path: Path | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def log_lines(self) -> list[str]:
        return _text(self.log_path).splitlines()

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
        return _text(self.log_path) + _text(self.stderr_path)


def _text(path: Path | None) -> str:
    return path.read_text(errors="replace") if path is not None else ""


async def wait_until_answering(
    url: str, process: asyncio.subprocess.Process, what: str, attempts: int = 300
) -> None:
    """Poll ``url`` until it answers 200; fail at once if ``process`` exits meanwhile."""
    # The server closes each probe's connection itself: no connection slot stays taken.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as http:
        for _ in range(attempts):
            if process.returncode is not None:
                raise AssertionError(f"the {what} exited with {process.returncode}")
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                await asyncio.sleep(0.1)
        raise AssertionError(f"the {what} did not start")


@contextlib.asynccontextmanager
async def spawn_bridge(
    upstream_url: str,
    *,
    v1_key: str = V1_KEY,
    label: str = "replica",
    output_dir: Path | None = None,
    open_files: tuple[int, int] | None = None,
    stop_signal: signal.Signals = signal.SIGTERM,
    **settings: Any,
) -> AsyncIterator[BridgeProcess]:
    """``python -m proxy serve`` configured by environment (``settings`` are bridge settings,
    by name), ``v1_key`` mapped under ``label``. ``output_dir``: its stdout and stderr go to
    files there, to read back; ``open_files``: its (soft, hard) RLIMIT_NOFILE, set in the
    child; ``stop_signal``: what ends it at the end if it is still running."""
    port = free_port()
    env = {
        **os.environ,
        "HOMERUN_BRIDGE_UPSTREAM_URL": upstream_url,
        "HOMERUN_BRIDGE_PORT": str(port),
        "HOMERUN_BRIDGE_LOG_LEVEL": "warning",
        "HOMERUN_BRIDGE_KEYS": json.dumps(
            [{"label": label, "v1_key_sha256": hash_key(v1_key), "v2_key_env": "BRIDGE_TEST_V2"}]
        ),
        "BRIDGE_TEST_V2": "demo-v2-key",
        **{f"HOMERUN_BRIDGE_{name.upper()}": str(value) for name, value in settings.items()},
    }
    log_path = stderr_path = None
    if output_dir is not None:
        log_path, stderr_path = output_dir / f"bridge-{port}.log", output_dir / f"bridge-{port}.err"
    process = await _serve(env, log_path, stderr_path, open_files)
    bridge = BridgeProcess(f"http://127.0.0.1:{port}", process, port, log_path, stderr_path)
    try:
        try:
            await wait_until_answering(bridge.base + "/healthz", bridge.process, "bridge")
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {bridge.all_output()[-2000:]}") from None
        yield bridge
    finally:
        if bridge.process.returncode is None:
            bridge.process.send_signal(stop_signal)
            await asyncio.wait_for(bridge.process.wait(), 15)


async def _serve(
    env: dict[str, str],
    log: Path | None,
    err: Path | None,
    open_files: tuple[int, int] | None,
) -> asyncio.subprocess.Process:
    """Start ``python -m proxy serve``, its stdout and stderr into the files given (without
    them: stdout discarded, stderr inherited)."""
    with contextlib.ExitStack() as files:
        return await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "proxy", "serve"),
            env=env,
            stdout=files.enter_context(log.open("wb")) if log else subprocess.DEVNULL,
            stderr=files.enter_context(err.open("wb")) if err else None,
            preexec_fn=_open_files_limit(*open_files) if open_files else None,
        )


def _open_files_limit(soft: int, hard: int) -> Callable[[], None]:
    """Runs in the child before it starts: lowers its RLIMIT_NOFILE."""

    def lower() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    return lower

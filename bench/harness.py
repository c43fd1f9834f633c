"""The processes every benchmark measures: one way to start, watch and stop them.

``sandbox(...)`` starts ``python -m sandbox`` and ``bridge(...)`` starts ``python -m proxy
serve`` (settings as keyword arguments, passed as ``HOMERUN_BRIDGE_*`` like a
deployment), each on a free port, optionally pinned to one CPU, and waits until it
answers; a server that exits or does not answer in time fails with the tail of its log.
On the way out each is terminated (killed if it lingers). ``serve_app`` runs an aiohttp
app in this process (a stand-in upstream). ``cpu_layout``, ``cpu_seconds``,
``rss_bytes`` and ``peak_rss_bytes`` read what a measurement needs from ``/proc``.

``spawn`` also runs other programs (``bench.native`` starts nginx through it), and
``process_tree`` finds a server's worker processes (``bench.workers``).

Used by ``bench.overhead``, ``bench.soak``, ``bench.economy``, ``bench.goodput`` and
``tests/bench/test_harness.py`` (which keeps it from rotting).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from proxy.config import BridgeSettings
from proxy.keys import hash_key

PROC = Path("/proc")
SETTINGS_PREFIX = "HOMERUN_BRIDGE_"
V2_KEY = "demo-v2-key"  # a key the sandbox's demo data accepts with every scope
V2_AUTH = {"Authorization": f"Bearer {V2_KEY}"}
# A start takes a second or two; generous, since the other processes share the cores.
READY_SECONDS = 60.0
STOP_SECONDS = 15.0
LOG_TAIL_CHARS = 2000


# --- ports, CPUs, memory -----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_layout() -> tuple[int | None, int | None]:
    """(core for the load generator and sandbox, core for the proxy under measurement)."""
    if not hasattr(os, "sched_getaffinity"):
        return None, None
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return None, None
    return cpus[0], cpus[1]


def cpu_seconds(pid: int) -> float:
    """CPU time of every thread of a process so far (nanosecond counters)."""
    total = 0
    for task in (PROC / str(pid) / "task").iterdir():
        with contextlib.suppress(OSError, ValueError, IndexError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def _parent_of(stat: str) -> int:
    # /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
    return int(stat.rpartition(")")[2].split()[1])


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it (e.g. a server's workers), parents first; a
    process that is gone is left out. (Read from each process's ``stat``: this kernel may
    lack ``/proc/<pid>/task/<tid>/children``.)"""
    parents: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents.setdefault(_parent_of((entry / "stat").read_text()), []).append(int(entry.name))
    if not (PROC / str(pid)).exists():
        return []
    found = [pid]
    for current in found:  # grows while walking: breadth first
        found.extend(sorted(parents.get(current, [])))
    return found


def _status_bytes(pid: int, field: str) -> int | None:
    try:
        lines = (PROC / str(pid) / "status").read_text().splitlines()
    except OSError:
        return None  # the process is gone
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return None


def rss_bytes(pid: int) -> int | None:
    """Resident memory now (VmRSS); None once the process is gone."""
    return _status_bytes(pid, "VmRSS")


def peak_rss_bytes(pid: int) -> int:
    """The most resident memory the process ever had (VmHWM)."""
    peak = _status_bytes(pid, "VmHWM")
    if peak is None:
        raise RuntimeError(f"no VmHWM for process {pid}")
    return peak


# --- one server process ------------------------------------------------------------------


@dataclass
class Server:
    name: str
    base: str
    process: asyncio.subprocess.Process
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    def log_tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-LOG_TAIL_CHARS:]
        except OSError:
            return "(no log)"


def clean_env() -> dict[str, str]:
    """This process's environment without bridge settings, so none leaks into a child."""
    return {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIX)}


async def _wait_until_up(
    server: Server, ready_path: str, headers: Mapping[str, str] | None, seconds: float
) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as http:
        while time.monotonic() < deadline:
            if not server.alive:
                raise RuntimeError(
                    f"{server.name} exited with status {server.process.returncode} before "
                    f"answering {ready_path}; its log ends:\n{server.log_tail()}"
                )
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(server.base + ready_path, headers=headers) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.1)
    raise RuntimeError(
        f"{server.name} did not answer {ready_path} with 200 within {seconds:g} s; "
        f"its log ends:\n{server.log_tail()}"
    )


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(process.wait(), STOP_SECONDS)
    if process.returncode is None:
        process.kill()
        await process.wait()


@contextlib.asynccontextmanager
async def spawn(
    name: str,
    args: Sequence[str],
    port: int,
    ready_path: str,
    *,
    cpu: int | Collection[int] | None = None,
    env: Mapping[str, str] | None = None,
    ready_headers: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    logs: Path | None = None,
    ready_seconds: float = READY_SECONDS,
    executable: str = sys.executable,
) -> AsyncIterator[Server]:
    """Run ``executable args…`` (this Python unless told; pinned to ``cpu``, one core or
    a set) until the block ends; enter it once ``ready_path`` answers 200.

    The child's environment is ``clean_env()`` plus ``env``. With ``logs`` (a folder), its
    output and errors go to ``logs/<name>.log``, kept for reading afterwards; without,
    its output is discarded (a benchmark's log lines cost nothing but their formatting)
    and its errors go to a temporary file, deleted at the end, that a failed start quotes.
    """
    if logs is not None:
        log = logs / f"{name}.log"
        sink = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    else:
        sink, log_name = tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".log")
        log = Path(log_name)

    cores = {cpu} if isinstance(cpu, int) else set(cpu) if cpu is not None else None

    def pin() -> None:
        if cores:
            os.sched_setaffinity(0, cores)

    try:
        process = await asyncio.create_subprocess_exec(
            executable,
            *args,
            env={**clean_env(), **(env or {})},
            stdout=sink if logs is not None else subprocess.DEVNULL,
            stderr=sink,
            preexec_fn=pin,
            cwd=cwd,
        )
    finally:
        os.close(sink)
    server = Server(name, f"http://127.0.0.1:{port}", process, log)
    try:
        await _wait_until_up(server, ready_path, ready_headers, ready_seconds)
        yield server
    finally:
        await _stop(process)
        if logs is None:
            log.unlink(missing_ok=True)


def sandbox(
    cpu: int | None = None,
    *,
    rate_limit: str = "off",
    faults: bool = False,
    logs: Path | None = None,
) -> contextlib.AbstractAsyncContextManager[Server]:
    """``python -m sandbox`` (seed 1), its limiter ``rate_limit`` per minute or off."""
    port = free_port()
    args = ["-m", "sandbox", "--port", str(port), "--rate-limit", rate_limit]
    if faults:
        args.append("--faults")
    return spawn("sandbox", args, port, "/v2/ping", cpu=cpu, ready_headers=V2_AUTH, logs=logs)


@dataclass(frozen=True)
class Integration:
    """One entry of the bridge's key map: a legacy client's v1 key and its v2 key."""

    label: str
    v1_key: str
    v2_key: str = V2_KEY

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.v1_key}"}


BENCH = Integration("bench", "bench-v1-key")


def _setting(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple | dict):
        return json.dumps(value)
    return str(value)


def bridge_env(
    upstream_v2: str, port: int, integrations: Sequence[Integration], settings: Mapping[str, Any]
) -> dict[str, str]:
    """The environment that configures ``python -m proxy serve``: the key map (each
    distinct v2 key in a variable of its own) and every setting as ``HOMERUN_BRIDGE_*``."""
    unknown = sorted(set(settings) - set(BridgeSettings.model_fields))
    if unknown:
        raise TypeError(f"not bridge settings: {', '.join(unknown)}")
    variables: dict[str, str] = {}  # v2 key -> the variable holding it
    for integration in integrations:
        variables.setdefault(integration.v2_key, f"BENCH_V2_KEY_{len(variables) + 1}")
    keys = [
        {
            "label": i.label,
            "v1_key_sha256": hash_key(i.v1_key),
            "v2_key_env": variables[i.v2_key],
        }
        for i in integrations
    ]
    every = {"upstream_url": upstream_v2, "port": port, "keys": keys, **settings}
    return {
        **{variable: v2_key for v2_key, variable in variables.items()},
        **{SETTINGS_PREFIX + name.upper(): _setting(value) for name, value in every.items()},
    }


def bridge(
    upstream_v2: str,
    cpu: int | Collection[int] | None = None,
    *,
    name: str = "bridge",
    integrations: Sequence[Integration] = (BENCH,),
    checkout: Path | None = None,
    logs: Path | None = None,
    inherit_settings: bool = False,
    **settings: Any,
) -> contextlib.AbstractAsyncContextManager[Server]:
    """``python -m proxy serve`` in front of ``upstream_v2`` with ``settings`` (names of
    ``BridgeSettings``; the rest default), from another ``checkout`` of the project when
    given (its ``proxy`` and ``mappings``). ``inherit_settings`` also passes on the
    ``HOMERUN_BRIDGE_*`` of this process's environment (under the ones given here)."""
    port = free_port()
    inherited = (
        {k: v for k, v in os.environ.items() if k.startswith(SETTINGS_PREFIX)}
        if inherit_settings
        else {}
    )
    env = {**inherited, **bridge_env(upstream_v2, port, integrations, settings)}
    return spawn(
        name, ["-m", "proxy", "serve"], port, "/healthz", cpu=cpu, env=env, cwd=checkout, logs=logs
    )


# --- an app in this process --------------------------------------------------------------


@contextlib.asynccontextmanager
async def serve_app(app: web.Application) -> AsyncIterator[str]:
    """Serve ``app`` from this process on a free port; yields its base URL."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    try:
        await web.TCPSite(runner, "127.0.0.1", port).start()
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()

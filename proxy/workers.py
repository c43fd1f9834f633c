"""``workers = N``: N bridge processes serving one port, supervised by the one started.

With ``workers = 1`` (the default) none of this runs: ``serve`` is one process, as before.
With N > 1 the process started (the *supervisor*) binds nothing and serves nothing. It
starts N *workers*, each ``python -m proxy serve`` with the same options, which opens
its own listening socket on the same host and port with ``SO_REUSEPORT``: the kernel
spreads new connections over them, so the N event loops use N cores. A subprocess of the
same command rather than a fork: a worker is a fresh interpreter, as a single bridge is,
and holds nothing of the supervisor's (no inherited event loop, sockets or locks).

- The shared v2 budget, cache, drafts and usage counts live in the Redis store, which all
  workers share; the memory store is refused with N > 1 (``proxy.config``): each process
  would spend the whole budget on its own.
- While the store is unreachable, each worker paces locally at ``store_outage_share``
  divided by N: the setting stays the bridge's share of the budget (1/replicas), however
  many workers it runs.
- SIGTERM/SIGINT: forwarded to every worker, which drains within its
  ``shutdown_grace_seconds`` + 1 s (``proxy.lifecycle``). The supervisor exits after the
  last one; one still running past that bound is killed. Exit code 0 when every worker
  exited cleanly, 1 otherwise.
- SIGHUP: forwarded to every worker, which reloads its key map (``reload_key_map``); a
  worker still starting ignores it (it would otherwise die of it, never having listened).
- A worker that dies while the bridge is running is restarted, after a delay that grows
  from :data:`FIRST_RESTART_DELAY` to :data:`MAX_RESTART_DELAY` while it keeps dying (it
  resets once a worker stays up :data:`STEADY_SECONDS`). A restarted worker reads the
  configuration afresh. A worker that fails before it ever listened, at start-up, stops
  the bridge: the supervisor exits with its code (2 for a configuration error).
- A worker tells the supervisor it listens by writing a byte to a pipe; it asks the
  kernel for SIGTERM should the supervisor die (``PR_SET_PDEATHSIG``), so no worker
  outlives it.
- Each worker logs with ``worker`` (its index) and ``pid`` on every line; the
  supervisor logs each worker's start (``worker.started``, ``worker_pid``), death and
  restart. ``/healthz`` names the worker that answered (header ``X-Bridge-Worker``:
  ``index/pid``).
- Metrics are per process: each worker serves its own ``/metrics``, and a scrape reaches
  whichever worker the kernel gives that connection, so successive scrapes of one port
  read different processes' counters (they seem to jump back and forth). Where the
  numbers matter, run ``workers = 1`` per pod and scale pods instead. What lives in the
  store (usage counts, the dashboard, the report) is shared and whole.

``SO_REUSEPORT`` with this load spreading is Linux's: elsewhere N > 1 is refused.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import signal
import socket
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

import structlog

from proxy.config import BridgeSettings, ConfigError

# The worker's identity, set by the supervisor: "index/count/supervisor pid/ready fd".
WORKER_ENV: Final = "HOMERUN_BRIDGE_SUPERVISED_WORKER"
FIRST_RESTART_DELAY: Final = 0.5
MAX_RESTART_DELAY: Final = 30.0
STEADY_SECONDS: Final = 30.0
# A worker stops within its shutdown_grace_seconds and this (proxy.lifecycle's promise)...
WORKER_BOUND_AFTER_GRACE: Final = 1.0
# ...and its interpreter exits within this more, or it is killed.
EXIT_SLACK_SECONDS: Final = 1.0
READY: Final = b"R"
_PR_SET_PDEATHSIG: Final = 1

log = structlog.get_logger("homerun_bridge.workers")


def require_reuse_port(workers: int) -> None:
    """Refuse ``workers`` > 1 where the kernel cannot spread one port over processes."""
    spreads = sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")
    if workers > 1 and not spreads:
        raise ConfigError(
            f"workers = {workers} needs SO_REUSEPORT as Linux provides it, which "
            f"{sys.platform} lacks: set workers = 1 and run one bridge per port"
        )


@dataclass(frozen=True)
class WorkerSlot:
    """What a worker knows of its place: index (from 1), how many, who supervises it."""

    index: int
    count: int
    supervisor_pid: int
    ready_fd: int

    def encode(self) -> str:
        return f"{self.index}/{self.count}/{self.supervisor_pid}/{self.ready_fd}"

    @classmethod
    def from_environment(cls) -> WorkerSlot | None:
        """This process's slot, or None when it is not a supervised worker."""
        value = os.environ.get(WORKER_ENV)
        if not value:
            return None
        index, count, supervisor, ready = (int(part) for part in value.split("/"))
        return cls(index, count, supervisor, ready)

    @property
    def label(self) -> str:
        """How ``/healthz`` names the worker that answered."""
        return f"{self.index}/{os.getpid()}"

    def own_settings(self, settings: BridgeSettings) -> BridgeSettings:
        """This worker's settings: ``store_outage_share`` is the bridge's (a pod's, as
        operators count replicas), so each of its workers paces at its part of it while
        the store is away; the bridge as a whole stays within the share it was given."""
        share = settings.store_outage_share / self.count
        return settings.model_copy(update={"store_outage_share": share})

    def follow_supervisor(self) -> None:
        """SIGTERM this worker when the supervisor dies (a SIGKILL gives it no chance to
        forward one); exit now when it is already gone."""
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() != self.supervisor_pid:
            raise SystemExit(1)

    def bind_log_context(self) -> None:
        """Every log line of this worker says which one wrote it."""
        structlog.contextvars.bind_contextvars(worker=self.index, pid=os.getpid())

    def report_listening(self) -> None:
        """Tell the supervisor this worker listens (once: the pipe closes after it)."""
        with contextlib.suppress(OSError):
            os.write(self.ready_fd, READY)
            os.close(self.ready_fd)


def _ignore_hangup() -> None:
    """In a worker, between fork and exec: SIGHUP ignored until its event loop takes it
    over (just before it reports listening). A SIGHUP forwarded while it starts would
    otherwise kill it by default, before it ever listened: a start-up failure, which
    stops the whole bridge. (A SIGHUP in that window reloads nothing in that worker.)"""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


@dataclass
class _Worker:
    """One slot as the supervisor sees it: the process serving it now, and its history."""

    index: int
    process: asyncio.subprocess.Process | None = None
    started: float = 0.0
    restart_delay: float = FIRST_RESTART_DELAY
    ever_ready: bool = False
    exit_code: int | None = None
    ready: asyncio.Event = field(default_factory=asyncio.Event)


class Supervisor:
    """Runs ``command`` as N workers until SIGTERM/SIGINT (see the module docstring)."""

    def __init__(self, settings: BridgeSettings, command: Sequence[str]) -> None:
        self.count = settings.workers
        self.command = list(command)
        self.bound = settings.shutdown_grace_seconds + WORKER_BOUND_AFTER_GRACE + EXIT_SLACK_SECONDS
        self.stopping = asyncio.Event()
        self.failed_start: int | None = None
        self.workers = [_Worker(index) for index in range(1, self.count + 1)]

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stop, sig.name)
        loop.add_signal_handler(signal.SIGHUP, self._forward, signal.SIGHUP)
        slots = [asyncio.create_task(self._keep_running(worker)) for worker in self.workers]
        ready = asyncio.create_task(self._all_ready())
        await self.stopping.wait()
        ready.cancel()
        await asyncio.gather(*slots)
        if self.failed_start is not None:
            return self.failed_start
        return 0 if all(worker.exit_code == 0 for worker in self.workers) else 1

    async def _all_ready(self) -> None:
        await asyncio.gather(*(worker.ready.wait() for worker in self.workers))
        log.info(
            "workers.ready",
            workers=self.count,
            pids=[w.process.pid for w in self.workers if w.process is not None],
        )

    def _stop(self, reason: str) -> None:
        if not self.stopping.is_set():
            log.info("workers.stopping", reason=reason, bound_seconds=self.bound)
            self.stopping.set()
        self._forward(signal.SIGTERM)

    def _forward(self, sig: signal.Signals) -> None:
        pids = []
        for worker in self.workers:
            process = worker.process
            if process is not None and process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(sig)
                    pids.append(process.pid)
        log.info("workers.signalled", signal=sig.name, pids=pids)

    async def _keep_running(self, worker: _Worker) -> None:
        """Serve one slot: start its worker, restart it when it dies, until stopping."""
        while True:
            code = await self._run_once(worker)
            if self.stopping.is_set():
                worker.exit_code = code
                return
            lived = time.monotonic() - worker.started
            if not worker.ever_ready:
                # It never listened: the configuration, the port or the store's address.
                log.error("worker.failed_to_start", worker=worker.index, exit_code=code)
                self.failed_start = code if code > 0 else 1
                self._stop(f"worker {worker.index} failed to start")
                return
            if lived >= STEADY_SECONDS:
                worker.restart_delay = FIRST_RESTART_DELAY
            log.error(
                "worker.died",
                worker=worker.index,
                exit_code=code,
                lived_seconds=round(lived, 3),
                restart_in_seconds=worker.restart_delay,
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(worker.restart_delay):
                    await self.stopping.wait()
            if self.stopping.is_set():
                worker.exit_code = code  # how it last ended: not cleanly
                return
            worker.restart_delay = min(worker.restart_delay * 2, MAX_RESTART_DELAY)

    async def _run_once(self, worker: _Worker) -> int:
        """Start the worker, note when it listens, and wait for its end (bounded once
        stopping: past the bound it is killed). Its exit code; negative: its signal."""
        read_end, write_end = os.pipe()
        slot = WorkerSlot(worker.index, self.count, os.getpid(), write_end)
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command,
                env={**os.environ, WORKER_ENV: slot.encode()},
                pass_fds=(write_end,),
                preexec_fn=_ignore_hangup,
            )
        finally:
            os.close(write_end)
        worker.process, worker.started = process, time.monotonic()
        log.info("worker.started", worker=worker.index, worker_pid=process.pid)
        if self.stopping.is_set():  # a signal came while it was starting
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        listening = asyncio.create_task(self._listening(worker, read_end))
        ended = asyncio.create_task(process.wait())
        stopped = asyncio.create_task(self.stopping.wait())
        await asyncio.wait({ended, stopped}, return_when=asyncio.FIRST_COMPLETED)
        stopped.cancel()
        killed = False
        if not ended.done():
            try:
                async with asyncio.timeout(self.bound):
                    await asyncio.shield(ended)
            except TimeoutError:
                log.error("worker.killed", worker=worker.index, bound_seconds=self.bound)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await ended
                killed = True
        # Its end closed the pipe: what it wrote before it is read now.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await listening
        return 1 if killed else ended.result()

    async def _listening(self, worker: _Worker, read_end: int) -> None:
        """Wait for the worker's byte (it listens) or the pipe's end (it died first)."""
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader()
        pipe = os.fdopen(read_end, "rb", buffering=0)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), pipe
        )
        try:
            if await reader.read(1) == READY:
                worker.ever_ready = True
                worker.ready.set()
                log.info("worker.listening", worker=worker.index)
        finally:
            transport.close()


def supervise(settings: BridgeSettings, command: Sequence[str]) -> int:
    """Run the bridge as ``settings.workers`` processes of ``command`` (the caller checked
    :func:`require_reuse_port`); the exit code."""
    return asyncio.run(Supervisor(settings, command).run())

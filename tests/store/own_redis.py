"""A ``redis-server`` of a test's own, on a free port, that the test may kill, hang
(SIGSTOP/SIGCONT) and restart empty: the store faults a shared Redis has in production.

Missing binary: a visible skip, or a failure under ``REQUIRE_REDIS=1``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def require_redis_server() -> None:
    if os.path.exists(REDIS_SERVER):
        return
    message = f"redis-server not found at {REDIS_SERVER}"
    if os.environ.get("REQUIRE_REDIS") == "1":
        pytest.fail(message + " and REQUIRE_REDIS=1", pytrace=False)
    pytest.skip(message + " (set REQUIRE_REDIS=1 to make this a failure)")


class OwnRedis:
    """One ``redis-server`` without persistence: every restart comes back empty."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._process: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    def start(self) -> None:
        self._process = subprocess.Popen(
            [
                REDIS_SERVER,
                *("--port", str(self.port), "--bind", "127.0.0.1", "--save", ""),
                *("--appendonly", "no", "--daemonize", "no", "--loglevel", "warning"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(200):
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock,
            ):
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return
            time.sleep(0.025)
        raise AssertionError(f"redis-server did not start on port {self.port}")

    def kill(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait(10)
        self._process = None

    def restart_empty(self) -> None:
        self.kill()
        self.start()
        self.restarts += 1

    def hang(self) -> None:
        """SIGSTOP: connections stay open, nothing answers (a stuck or swapped-out server)."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGCONT)

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None


@contextlib.contextmanager
def own_redis() -> Iterator[OwnRedis]:
    require_redis_server()
    server = OwnRedis()
    server.start()
    try:
        yield server
    finally:
        server.resume()
        server.kill()


@pytest.fixture
def redis_server() -> Iterator[OwnRedis]:
    with own_redis() as server:
        yield server

"""Pytest plugin: a running sandbox for tests, and spec checking of everything it answers.

Register it from tests/conftest.py with `pytest_plugins = ["tests.conftest_sandbox"]`.

Every sandbox started through `make_sandbox_config` (and so through the fixtures below)
reports each /v2 response to one session-wide `SpecRecorder`, which validates it against
homerun-v2.openapi.yaml on the spot. A test during which a violation was recorded fails in its
teardown, naming the response; the session summary lists them all and the exit status is
failure even if that teardown check was somehow bypassed. Responses synthesized by fault
injection are not reported (they are meant to break the spec).

Fixtures:
    sandbox_config   the `make_sandbox_config` factory
    start_sandbox    async factory, e.g. `await start_sandbox(rate_limit_per_minute=60)`,
                     returning a RunningSandbox
    sandbox_server   a RunningSandbox with the defaults (limiter off, faults on)
    sandbox_client   an aiohttp TestClient on `sandbox_server`, sending `Bearer demo-v2-key`
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sandbox import SANDBOX_STATE, SandboxConfig, create_app
from sandbox.state import SandboxState
from tests.spec_validation import load_spec_validator

DEMO_KEY = "demo-v2-key"
AUTH_HEADERS = {"Authorization": f"Bearer {DEMO_KEY}"}


@dataclass
class SpecViolation:
    method: str
    path: str
    route_template: str
    status: int
    problems: list[str]
    body_excerpt: str

    def describe(self) -> str:
        lines = [f"{self.method} {self.path} -> {self.status} (route {self.route_template!r})"]
        lines += [f"    - {problem}" for problem in self.problems]
        lines.append(f"    body: {self.body_excerpt}")
        return "\n".join(lines)


@dataclass
class SpecRecorder:
    """Validates sandbox responses as they happen; safe to call from a server thread."""

    checked: int = 0
    violations: list[SpecViolation] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self,
        method: str,
        path: str,
        route_template: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes,
    ) -> None:
        problems = load_spec_validator().validate(method, route_template, status, headers, body)
        with self._lock:
            self.checked += 1
            if problems:
                excerpt = body[:300].decode("utf-8", errors="replace")
                self.violations.append(
                    SpecViolation(method, path, route_template, status, problems, excerpt)
                )


SPEC_RECORDER = SpecRecorder()


def make_sandbox_config(**overrides: Any) -> SandboxConfig:
    """A SandboxConfig for tests: limiter off, faults on, every response spec-checked."""
    settings: dict[str, Any] = {
        "rate_limit_per_minute": None,
        "faults_enabled": True,
        "on_response": SPEC_RECORDER.record,
    }
    settings.update(overrides)
    return SandboxConfig(**settings)


@dataclass
class RunningSandbox:
    """A sandbox listening on a loopback port."""

    server: TestServer
    config: SandboxConfig

    @property
    def base_url(self) -> str:
        """e.g. http://127.0.0.1:41234 (no trailing slash)."""
        return str(self.server.make_url("")).rstrip("/")

    @property
    def api_url(self) -> str:
        """The API v2 root, e.g. http://127.0.0.1:41234/v2."""
        return f"{self.base_url}/v2"

    @property
    def state(self) -> SandboxState:
        return self.server.app[SANDBOX_STATE]

    def url(self, path: str) -> str:
        return f"{self.base_url}{path}"


StartSandbox = Callable[..., Awaitable[RunningSandbox]]


@pytest.fixture
def sandbox_config() -> Callable[..., SandboxConfig]:
    return make_sandbox_config


@pytest.fixture
async def start_sandbox(aiohttp_server: Any) -> StartSandbox:
    async def start(**overrides: Any) -> RunningSandbox:
        config = make_sandbox_config(**overrides)
        server = await aiohttp_server(create_app(config))
        return RunningSandbox(server=server, config=config)

    return start


@pytest.fixture
async def sandbox_server(start_sandbox: StartSandbox) -> RunningSandbox:
    return await start_sandbox()


@pytest.fixture
async def sandbox_client(
    aiohttp_client: Any, sandbox_server: RunningSandbox
) -> AsyncIterator[TestClient[Any, Any]]:
    client = await aiohttp_client(sandbox_server.server, headers=AUTH_HEADERS)
    yield client


@pytest.fixture(autouse=True)
def _fail_on_sandbox_spec_violations() -> Iterator[None]:
    """Fail the test during which a sandbox response broke the spec."""
    before = len(SPEC_RECORDER.violations)
    yield
    new = SPEC_RECORDER.violations[before:]
    if new:
        pytest.fail(
            "sandbox answered outside homerun-v2.openapi.yaml:\n"
            + "\n".join(violation.describe() for violation in new),
            pytrace=False,
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if SPEC_RECORDER.checked or SPEC_RECORDER.violations:
        terminalreporter.write_sep("-", "sandbox spec check")
        terminalreporter.write_line(
            f"{SPEC_RECORDER.checked} sandbox responses checked against the spec, "
            f"{len(SPEC_RECORDER.violations)} violation(s)"
        )
        for violation in SPEC_RECORDER.violations:
            terminalreporter.write_line(violation.describe())


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if SPEC_RECORDER.violations and exitstatus == pytest.ExitCode.OK:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

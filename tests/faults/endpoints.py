"""The v1 endpoint classes under fault, and one timed call through the bridge.

Each class names its v1 call, the one v2 call it makes (the fault rules target exactly
that call, by method and path), whether that v2 call is idempotent (retried by the
bridge) and, for writes, how to count in the sandbox what it creates.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy

from sandbox.state import SandboxState
from tests.proxy.conftest import FULL, Harness

# Small, so that a timeout costs the suite little; the time bounds are derived from it.
TIMEOUT = 0.5
# The bridge's default: an idempotent call is tried 1 + RETRIES times.
RETRIES = 2
# Shorter than a Retry-After the tests make the upstream send (30 s).
DEADLINE = 1.0
# No single v1 call may take longer than this, whatever the fault: a hang fails the test.
CLIENT_TIMEOUT = 10.0
# Scheduling noise on a busy 2-core runner.
SLACK = 0.75
# The bridge's backoff before retry n is at most min(2, 0.1 * 2**n) seconds.
MAX_BACKOFF: float = sum(min(2.0, 0.1 * 2**attempt) for attempt in range(1, RETRIES + 1))

_tokens = itertools.count(1)


def application_with_job(state: SandboxState) -> str:
    """A seeded application that belongs to a job (its update also reads the job)."""
    return next(a.id for a in state.applications.values() if a.vacancy_id is not None)


@dataclass(frozen=True)
class Endpoint:
    name: str
    v1_method: str
    v1_path: str  # "{id}" is replaced by an application id
    v2_method: str
    v2_path: str  # a regular expression, as the sandbox's fault rules take it
    ok_status: int
    # v2 calls a success costs besides the faulted one (an update also reads the job).
    extra_calls: int = 0
    counts: Callable[[SandboxState, str], int] | None = None
    body: Callable[[str], dict[str, Any]] | None = None

    @property
    def idempotent(self) -> bool:
        return self.v2_method != "POST"

    @property
    def writes(self) -> bool:
        return self.counts is not None

    def attempts(self, failing: bool) -> int:
        """The v2 attempts the bridge makes while every attempt fails."""
        return 1 + RETRIES if failing and self.idempotent else 1

    def time_bound(self) -> float:
        """The longest a call may take when every attempt runs into the timeout."""
        if self.idempotent:
            return (1 + RETRIES) * TIMEOUT + MAX_BACKOFF + SLACK
        return TIMEOUT + SLACK

    def rule(self, action: str, **fields: Any) -> dict[str, Any]:
        return {"method": self.v2_method, "path": self.v2_path, "action": action, **fields}

    def count(self, state: SandboxState, application_id: str) -> int:
        assert self.counts is not None
        return self.counts(state, application_id)


def _create_form(token: str) -> dict[str, Any]:
    return {
        "candidate[first_name]": "Fault",
        "candidate[last_name]": f"Tolerant {token}",
        "candidate[email]": f"fault-{token}@example.com",
    }


def _update_form(token: str) -> dict[str, Any]:
    return {"content[pronouns]": f"they/them {token}"}


def _note_form(token: str) -> dict[str, Any]:
    return {"body": f"Fault note {token}", "name": "Ted"}


def _upload_form(token: str) -> dict[str, Any]:
    form = aiohttp.FormData()
    form.add_field(
        "file", b"%PDF-1.4 " + token.encode(), filename=f"cv-{token}.pdf", content_type="x/pdf"
    )
    return {"form": form}


ENDPOINTS: dict[str, Endpoint] = {
    endpoint.name: endpoint
    for endpoint in (
        Endpoint(
            "list", "GET", "/v1/applications?per_page=5", "GET", r"^/v2/job-applications$", 200
        ),
        Endpoint(
            "detail", "GET", "/v1/applications/{id}", "GET", r"^/v2/job-applications/[^/]+$", 200
        ),
        Endpoint(
            "update",
            "PATCH",
            "/v1/applications/{id}",
            "PATCH",
            r"^/v2/job-applications/[^/]+$",
            200,
            extra_calls=1,
            body=_update_form,
        ),
        Endpoint(
            "create",
            "POST",
            "/v1/applications",
            "POST",
            r"^/v2/job-applications$",
            201,
            counts=lambda state, _: len(state.applications),
            body=_create_form,
        ),
        Endpoint(
            "note",
            "POST",
            "/v1/applications/{id}/notes",
            "POST",
            r"^/v2/job-applications/[^/]+/notes$",
            201,
            counts=lambda state, ap: len(state.applications[ap].notes),
            body=_note_form,
        ),
        Endpoint(
            "upload",
            "POST",
            "/v1/applications/{id}/files",
            "POST",
            r"^/v2/job-applications/[^/]+/files$",
            201,
            extra_calls=1,  # the listing read that gives the file its listed id (§5)
            counts=lambda state, ap: len(state.applications[ap].files),
            body=_upload_form,
        ),
    )
}
NAMES = list(ENDPOINTS)
IDEMPOTENT = [name for name, endpoint in ENDPOINTS.items() if endpoint.idempotent]
WRITES = [name for name, endpoint in ENDPOINTS.items() if not endpoint.idempotent]


@dataclass
class Outcome:
    status: int
    body: Any
    text: str
    headers: CIMultiDictProxy[str]
    seconds: float

    @property
    def calls(self) -> int:
        return int(self.headers["X-Upstream-Calls"])

    def assert_v1_error(self, status: int) -> None:
        """The contract's error: that status, a v1 JSON body, no trace of Python."""
        assert self.status == status, (self.status, self.text)
        assert self.headers["Content-Type"] == "application/json; charset=utf-8"
        assert self.headers["Deprecation"] == "@1701388800"
        assert isinstance(self.body, dict), self.text
        assert self.body["status"] == status
        assert isinstance(self.body["message"], str) and self.body["message"]
        assert set(self.body) <= {"message", "status", "errors"}
        assert "Traceback" not in self.text and "Error(" not in self.text

    def assert_ok(self, endpoint: Endpoint) -> None:
        assert self.status == endpoint.ok_status, (self.status, self.text)
        assert isinstance(self.body, dict) and "status" not in self.body


async def call(harness: Harness, endpoint: Endpoint, application_id: str) -> Outcome:
    """One v1 call of this class through the bridge, timed; a hang fails the test."""
    token = str(next(_tokens))
    kwargs: dict[str, Any] = {}
    if endpoint.body is not None:
        made = endpoint.body(token)
        kwargs["data"] = made.get("form", made)
    url = harness.url(endpoint.v1_path.replace("{id}", application_id))
    started = time.perf_counter()
    async with asyncio.timeout(CLIENT_TIMEOUT):
        async with harness.http.request(endpoint.v1_method, url, auth=FULL, **kwargs) as response:
            text = await response.text()
            seconds = time.perf_counter() - started
            try:
                body = await response.json()
            except (aiohttp.ContentTypeError, ValueError):
                body = None
            return Outcome(response.status, body, text, response.headers, seconds)

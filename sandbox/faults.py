"""Fault injection: make chosen requests slow, failing, cut off or malformed.

Faults exist so the bridge's resilience can be tested against a realistic upstream: each rule
matches requests by method and path regex and applies to the next `count` of them. The one that
matters most is `drop_after`: the request is fully handled (a POST really creates) and then the
connection is closed without an answer, the case where a write reached upstream but the client
never heard back. Only served when `SandboxConfig.faults_enabled` is set.

A rule, as posted to `POST /_sandbox/faults` (only `action` is required):

    method            "GET", "POST", ... or null for any method
    path              regular expression searched in the request path, e.g. "^/v2/vacancies"
    action            latency | status | drop_before | drop_after | malformed |
                      schema_mismatch | slow_drip | unreadable_after_write
    count             how many matching requests it applies to (default 1)
    latency_ms        latency: sleep this long, then handle normally (default 1000)
    status            status: answer this status with a v2 error body, unhandled (default 503)
    html              status: answer an HTML page instead (nginx's page for 502)
    body              status / schema_mismatch / unreadable_after_write: answer this JSON
                      instead of the default body
    headers           status: extra response headers (429 gets Retry-After: 1 by default)
    drip_interval_ms  slow_drip: pause between chunks (default 50)
    drip_chunk_bytes  slow_drip: chunk size (default 8)

`drop_before` closes the connection without handling the request; `malformed` answers 200 with
truncated JSON; `schema_mismatch` answers 200 with JSON no response schema accepts; `slow_drip`
handles normally and sends the body a few bytes at a time; `unreadable_after_write` handles the
request (a POST really creates) and then, if that succeeded, answers its 2xx status with `body`
(e.g. `{"data": {}}`: no id) or, by default, truncated JSON - a confirmed write whose answer
cannot be read. Faults never apply to /_sandbox/.
Responses a fault synthesizes are not reported to `SandboxConfig.on_response`.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from dataclasses import dataclass
from typing import Any, Literal, cast

import orjson
from aiohttp import web

from sandbox.errors import FieldError, error_body

FaultAction = Literal[
    "latency", "status", "drop_before", "drop_after", "malformed", "schema_mismatch", "slow_drip",
    "unreadable_after_write",
]  # fmt: skip
FAULT_ACTIONS: tuple[FaultAction, ...] = (
    "latency", "status", "drop_before", "drop_after", "malformed", "schema_mismatch", "slow_drip",
    "unreadable_after_write",
)  # fmt: skip
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

# Truncated JSON, like a body cut off by a misbehaving load balancer.
MALFORMED_BODY = b'{"data": [{"id": "job_'
# Valid JSON that no API v2 response schema accepts: `data` has wrongly typed members that every
# object schema declares (id, name, note, type), there is no `meta`, and `pong` is not a boolean.
SCHEMA_MISMATCH_BODY: dict[str, Any] = {
    "data": {"unexpected": True, "id": 42, "name": 42, "note": 42, "type": 42, "display_name": 42},
    "pong": "maybe",
}
BAD_GATEWAY_HTML = (
    "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    "<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass
class Fault:
    id: str
    action: FaultAction
    path_pattern: re.Pattern[str]
    method: str | None = None
    remaining: int = 1
    latency_ms: int = 0
    status: int = 503
    html: bool = False
    drip_interval_ms: int = 50
    drip_chunk_bytes: int = 8
    body: Any = None
    headers: dict[str, str] | None = None

    def matches(self, method: str, path: str) -> bool:
        return (self.method is None or self.method == method) and bool(
            self.path_pattern.search(path)
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "method": self.method,
            "path": self.path_pattern.pattern,
            "action": self.action,
            "count": self.remaining,
            "latency_ms": self.latency_ms,
            "status": self.status,
            "html": self.html,
            "drip_interval_ms": self.drip_interval_ms,
            "drip_chunk_bytes": self.drip_chunk_bytes,
            "body": self.body,
            "headers": self.headers,
        }


class FaultSpecError(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        super().__init__("; ".join(f"{error.param}: {error.message}" for error in errors))
        self.errors = errors


def _int_member(
    spec: dict[str, Any], name: str, default: int, low: int, high: int, errors: list[FieldError]
) -> int:
    value = spec.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        errors.append(FieldError(name, f"must be an integer from {low} to {high}"))
        return default
    return value


def parse_fault_spec(fault_id: str, spec: Any) -> Fault:
    """A Fault from the admin API's JSON body; raises FaultSpecError naming every problem."""
    if not isinstance(spec, dict):
        raise FaultSpecError([FieldError("body", "must be a JSON object")])
    errors: list[FieldError] = []
    action = spec.get("action")
    if action not in FAULT_ACTIONS:
        errors.append(FieldError("action", f"must be one of {', '.join(FAULT_ACTIONS)}"))
    method = spec.get("method")
    if method is not None:
        if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
            errors.append(FieldError("method", "must be null or an HTTP method"))
            method = None
        else:
            method = method.upper()
    pattern: re.Pattern[str] = re.compile("")
    raw_path = spec.get("path", "")
    if raw_path is None:
        raw_path = ""
    if not isinstance(raw_path, str):
        errors.append(FieldError("path", "must be a regular expression string"))
    else:
        try:
            pattern = re.compile(raw_path)
        except re.error as exc:
            errors.append(FieldError("path", f"is not a valid regular expression: {exc}"))
    headers = spec.get("headers")
    if headers is not None and not (
        isinstance(headers, dict)
        and all(isinstance(k, str) and isinstance(v, str) for k, v in headers.items())
    ):
        errors.append(FieldError("headers", "must be an object of strings"))
    html = spec.get("html", False)
    if not isinstance(html, bool):
        errors.append(FieldError("html", "must be true or false"))
    fault = Fault(
        id=fault_id,
        action=cast(FaultAction, action),
        path_pattern=pattern,
        method=method,
        remaining=_int_member(spec, "count", 1, 1, 1_000_000, errors),
        latency_ms=_int_member(spec, "latency_ms", 1000, 0, 600_000, errors),
        status=_int_member(spec, "status", 503, 200, 599, errors),
        html=html is True,
        drip_interval_ms=_int_member(spec, "drip_interval_ms", 50, 0, 60_000, errors),
        drip_chunk_bytes=_int_member(spec, "drip_chunk_bytes", 8, 1, 1_000_000, errors),
        body=spec.get("body"),
        headers=headers,
    )
    if errors:
        raise FaultSpecError(errors)
    return fault


class FaultRegistry:
    """Active faults, oldest first; a request consumes one count of the first match."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, spec: Any) -> Fault:
        fault = parse_fault_spec(f"fault_{next(self._ids)}", spec)
        self._faults.append(fault)
        return fault

    def active(self) -> list[Fault]:
        return list(self._faults)

    def clear(self) -> int:
        cleared = len(self._faults)
        self._faults.clear()
        return cleared

    def remove(self, fault_id: str) -> bool:
        before = len(self._faults)
        self._faults = [fault for fault in self._faults if fault.id != fault_id]
        return len(self._faults) < before

    def take(self, method: str, path: str) -> Fault | None:
        for fault in self._faults:
            if fault.matches(method, path):
                fault.remaining -= 1
                if fault.remaining <= 0:
                    self._faults.remove(fault)
                return fault
        return None


class DroppedConnection(web.StreamResponse):
    """A "response" that closes the connection instead of answering.

    aiohttp treats the ConnectionResetError raised from `prepare` as a client that went away,
    so nothing is written and nothing is logged as a server error.
    """

    async def prepare(self, request: web.BaseRequest) -> None:
        transport = request.transport
        if transport is not None:
            transport.abort()
        raise ConnectionResetError("connection dropped by a sandbox fault")


def synthesized_status(fault: Fault, rate_limit_message: str) -> web.Response:
    headers = dict(fault.headers or {})
    if fault.status == 429:
        headers.setdefault("Retry-After", "1")
    if fault.html:
        text = (
            BAD_GATEWAY_HTML
            if fault.status == 502
            else f"<html><body><h1>{fault.status}</h1></body></html>"
        )
        return web.Response(
            status=fault.status, text=text, content_type="text/html", headers=headers
        )
    message = rate_limit_message if fault.status == 429 else None
    body = fault.body if fault.body is not None else error_body(fault.status, message)
    return web.Response(
        status=fault.status,
        body=orjson.dumps(body),
        content_type="application/json",
        headers=headers,
    )


def malformed_response(fault: Fault) -> web.Response:
    return web.Response(status=200, body=MALFORMED_BODY, content_type="application/json")


def schema_mismatch_response(fault: Fault) -> web.Response:
    body = fault.body if fault.body is not None else SCHEMA_MISMATCH_BODY
    return web.Response(status=200, body=orjson.dumps(body), content_type="application/json")


def unreadable_after_write(handled: web.StreamResponse, fault: Fault) -> web.StreamResponse:
    """The handled write's 2xx status with a body the client cannot read as its answer."""
    if not isinstance(handled, web.Response) or not 200 <= handled.status < 300:
        return handled  # a refused write stays its error: nothing was written
    body = orjson.dumps(fault.body) if fault.body is not None else MALFORMED_BODY
    return web.Response(status=handled.status, body=body, content_type="application/json")


async def drip(
    request: web.Request, response: web.StreamResponse, fault: Fault
) -> web.StreamResponse:
    """Send an already-handled response a few bytes at a time."""
    if not isinstance(response, web.Response) or response.body is None:
        return response
    body = response.body
    if not isinstance(body, bytes | bytearray):
        return response
    stream = web.StreamResponse(
        status=response.status, reason=response.reason, headers=response.headers
    )
    stream.content_length = len(body)
    try:
        await stream.prepare(request)
        for start in range(0, len(body), fault.drip_chunk_bytes):
            await stream.write(body[start : start + fault.drip_chunk_bytes])
            await asyncio.sleep(fault.drip_interval_ms / 1000)
        await stream.write_eof()
    except ConnectionError:
        pass  # the client gave up; there is nobody left to answer
    return stream

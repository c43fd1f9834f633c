"""The bridge as a long-running process: a bounded shutdown, a bounded listener, quiet
accept errors.

Shutdown (SIGTERM/SIGINT) keeps one bound, ``shutdown_grace_seconds``:

1. the listening sockets close and idle keep-alive connections are closed;
2. requests in flight (tracked by :class:`InFlightRequests`, a middleware) get the grace
   to finish;
3. any still running then is cancelled and answered a v1 503 with ``Retry-After``
   (``shutdown.cut``); a write already sent to v2 is shielded by the upstream client,
   which awaits and logs it while the runner closes;
4. the runners close within what is left of one second; the process exits within the
   grace plus one second (``shutdown.done``).

aiohttp's own ``runner.cleanup()`` would wait ``shutdown_timeout`` for the handlers, then
cancel their request payloads and wait ``shutdown_timeout`` again, then drop the
connections unanswered: twice the bound, and no answer. Here the runner is given a short
``shutdown_timeout`` (:data:`RUNNER_CLOSE_SECONDS`) and only runs once the drain is over.

Connections: :class:`ConnectionGate` admits up to ``max_client_connections`` client
connections; one more is answered a v1 503 (``Retry-After: 1``, ``Connection: close``)
as soon as its request head arrives, without reaching aiohttp. The cap is lowered to fit
the open-file limit, which start-up raises towards the hard limit
(:func:`raise_open_file_limit`). Accept errors (EMFILE and the like) and refusals are
logged once per interval with a count (:class:`ThrottledLog`), never a traceback per
connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import resource
import weakref
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any, Final

import orjson
import structlog
from aiohttp import web
from aiohttp.web_protocol import RequestHandler

from mappings import errors
from mappings.errors import v1_error_body
from proxy.context import CONTEXT_KEY, new_request_id

# Once the drain is over, the runner closes what is left: no handler is running by then.
RUNNER_CLOSE_SECONDS: Final = 0.2
# A cut handler needs a moment to turn its cancellation into the 503 and write it.
CUT_ANSWER_SECONDS: Final = 0.3
# Everything after the grace (the 503s, closing runners and resources) fits in this,
# leaving the rest of the second to a loaded event loop and the interpreter's exit.
AFTER_GRACE_SECONDS: Final = 0.75
RETRY_AFTER_SECONDS: Final = 1
# Descriptors kept free of client connections: the upstream pool, Redis, logs, spare.
RESERVED_DESCRIPTORS: Final = 64
# A refused connection may send a request head this large, for this long, before its 503.
REFUSAL_HEAD_BYTES: Final = 64 * 1024
REFUSAL_READ_SECONDS: Final = 1.0
LOG_INTERVAL_SECONDS: Final = 10.0
_OUT_OF_RESOURCES: Final = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})
_V1_HEADERS: Final = (
    ("Deprecation", "@1701388800"),
    (
        "Link",
        "<https://help.homerun.co/en/articles/7966784-api-migration-guide-v1-to-v2>; "
        'rel="deprecation"',
    ),
)

log = structlog.get_logger("homerun_bridge.lifecycle")


class ShuttingDown(errors.ShuttingDown):
    """503: the bridge is stopping and this request could not finish within the grace."""

    def __init__(self, method: str) -> None:
        message = "The bridge is shutting down; retry in a moment"
        if method not in ("GET", "HEAD", "OPTIONS"):
            message += " (this write may already have reached Homerun: check before retrying)"
        super().__init__(
            message, headers={"Retry-After": str(RETRY_AFTER_SECONDS), "Connection": "close"}
        )


class InFlightRequests:
    """Middleware (inside the v1 envelope, so a cut answer gets the v1 headers and the
    request log line): knows which requests are being handled, and turns the shutdown
    deadline's cancellation of one into a v1 503. Any other cancellation (a client that
    went away) goes on as a cancellation."""

    __middleware_version__ = 1

    def __init__(self) -> None:
        self._running: dict[asyncio.Task[Any], web.Request] = {}
        self._cut: set[asyncio.Task[Any]] = set()
        self._idle: asyncio.Event | None = None
        self.cutting = False

    @classmethod
    def of(cls, app: web.Application) -> InFlightRequests | None:
        """The tracker among an app's middlewares (None: the app has none, e.g. the sandbox)."""
        return next((m for m in app.middlewares if isinstance(m, cls)), None)

    def __len__(self) -> int:
        return len(self._running)

    async def __call__(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if self.cutting:
            self._log_cut(request)
            raise ShuttingDown(request.method)
        task = asyncio.current_task()
        assert task is not None
        self._running[task] = request
        if self._idle is not None:
            self._idle.clear()
        try:
            return await handler(request)  # type: ignore[no-any-return]
        except asyncio.CancelledError:
            # Only the deadline's own cancel becomes an answer; uncancel() > 0 means
            # something else (the client's disconnect) cancelled it too, and an answer
            # already under way (bytes written) cannot be replaced.
            if task not in self._cut or task.uncancel() > 0 or request.writer.output_size:
                raise
            self._log_cut(request)
            raise ShuttingDown(request.method) from None
        finally:
            del self._running[task]
            self._cut.discard(task)
            if not self._running and self._idle is not None:
                self._idle.set()

    def _log_cut(self, request: web.Request) -> None:
        ctx = request.get(CONTEXT_KEY)
        log.warning(
            "shutdown.cut",
            request_id=ctx.request_id if ctx else None,
            route=ctx.route if ctx else request.path,
            method=request.method,
        )

    async def wait_idle(self, until: float) -> bool:
        """Whether every request in flight finished by ``until`` (the loop's clock)."""
        if self._idle is None:
            self._idle = asyncio.Event()
        if not self._running:
            return True
        self._idle.clear()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(until):
                await self._idle.wait()
        return not self._running

    def cut(self) -> int:
        """Cancel every request still running (each answers 503); later ones answer 503 at once."""
        self.cutting = True
        for task in self._running:
            if task not in self._cut:
                self._cut.add(task)
                task.cancel()
        return len(self._cut)


async def _all_idle(trackers: Sequence[InFlightRequests], until: float) -> bool:
    results = [await tracker.wait_idle(until) for tracker in trackers]
    return all(results)


async def shut_down(
    bridges: Sequence[web.AppRunner], others: Sequence[web.AppRunner], grace: float
) -> None:
    """Stop the bridges within ``grace`` + 1 s (see the module docstring), then the
    ``others`` (the demo's embedded sandbox, which served the bridges until then)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    deadline = started + grace
    for runner in bridges:
        for site in list(runner.sites):
            await site.stop()
    # Requests accepted before the sites stopped start being handled (and tracked) now.
    await asyncio.sleep(0)
    for runner in bridges:
        if runner.server is not None:
            runner.server.pre_shutdown()
    trackers = [t for t in (InFlightRequests.of(r.app) for r in bridges) if t is not None]
    log.info("shutdown.started", in_flight=sum(len(t) for t in trackers), grace_seconds=grace)
    cut = 0
    if not await _all_idle(trackers, deadline):
        cut = sum(tracker.cut() for tracker in trackers)
        if not await _all_idle(trackers, loop.time() + CUT_ANSWER_SECONDS):
            log.error(
                "shutdown.unanswered",
                requests=sum(len(t) for t in trackers),
                reason="the handler did not stop when cancelled",
            )
    # Fixed from the deadline, whatever the drain took: the bound is grace + 1 s.
    close_by = deadline + AFTER_GRACE_SECONDS if cut else loop.time() + AFTER_GRACE_SECONDS
    for runner in [*bridges, *others]:
        try:
            async with asyncio.timeout(max(close_by - loop.time(), RUNNER_CLOSE_SECONDS)):
                await runner.cleanup()
        except TimeoutError:
            # What was still awaited (writes sent to v2, under the upstream client's
            # shield) is left here; the upstream client logs each one it gave up on.
            log.warning("shutdown.close_timeout", bound_seconds=grace + 1)
    flush_throttled_logs()
    log.info("shutdown.done", elapsed_seconds=round(loop.time() - started, 3), cut=cut)


class ThrottledLog:
    """One log line per interval for an event that can happen per connection, with the
    count since the last line; what is left at the end of an interval is logged then
    (or at shutdown: :func:`flush_throttled_logs`)."""

    def __init__(self, event: str, interval: float = LOG_INTERVAL_SECONDS) -> None:
        _THROTTLED.add(self)
        self.event = event
        self.interval = interval
        self.total = 0
        self._pending = 0
        self._fields: dict[str, Any] = {}
        self._last = float("-inf")
        self._flush: asyncio.TimerHandle | None = None

    def record(self, loop: asyncio.AbstractEventLoop, **fields: Any) -> None:
        self.total += 1
        self._pending += 1
        self._fields = fields
        now = loop.time()
        if now - self._last >= self.interval:
            self._emit(now)
        elif self._flush is None:
            self._flush = loop.call_at(self._last + self.interval, self._emit_later, loop)

    def _emit_later(self, loop: asyncio.AbstractEventLoop) -> None:
        self._flush = None
        if self._pending:
            self._emit(loop.time())

    def flush(self) -> None:
        if self._flush is not None:
            self._flush.cancel()
            self._flush = None
        if self._pending:
            self._emit(self._last)

    def _emit(self, now: float) -> None:
        log.warning(
            self.event,
            count=self._pending,
            total=self.total,
            interval_seconds=self.interval,
            **self._fields,
        )
        self._pending = 0
        self._last = now


_THROTTLED: Final[weakref.WeakSet[ThrottledLog]] = weakref.WeakSet()


def flush_throttled_logs() -> None:
    """Log what every throttled event counted since its last line."""
    for throttled in list(_THROTTLED):
        throttled.flush()


class AcceptErrorHandler:
    """Loop exception handler: asyncio reports each failed ``accept()`` (out of file
    descriptors: EMFILE) with a traceback; here they are counted and logged once per
    interval. Anything else goes to the default handler."""

    def __init__(self, interval: float = LOG_INTERVAL_SECONDS) -> None:
        self.accept_errors = ThrottledLog("accept.failed", interval)

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        message = str(context.get("message", ""))
        if isinstance(error, OSError) and (
            "accept" in message
            or "incoming connection" in message
            or error.errno in _OUT_OF_RESOURCES
        ):
            self.accept_errors.record(
                loop, error=error.strerror or type(error).__name__, errno=error.errno
            )
            return
        loop.default_exception_handler(context)


def _refusal_answer(limit: int, headers: Sequence[tuple[str, str]]) -> tuple[bytes, bytes]:
    """The 503 a connection over the cap gets: its bytes before and after the request id."""
    body = orjson.dumps(
        v1_error_body(
            HTTPStatus.SERVICE_UNAVAILABLE,
            f"The bridge is serving its maximum of {limit} connections; retry in a moment",
        )
    )
    head = [
        "HTTP/1.1 503 Service Unavailable",
        "Content-Type: application/json; charset=utf-8",
        f"Content-Length: {len(body)}",
        f"Retry-After: {RETRY_AFTER_SECONDS}",
        "Connection: close",
        *(f"{name}: {value}" for name, value in (*_V1_HEADERS, *headers)),
        "X-Request-Id: ",
    ]
    return "\r\n".join(head).encode(), b"\r\n\r\n" + body


class _RefusedConnection(asyncio.Protocol):
    """A connection over the cap: read its request head (closing with unread data would
    reset the connection and lose the answer), answer the 503, close."""

    def __init__(self, answer: tuple[bytes, bytes]) -> None:
        self._answer = answer
        self._transport: asyncio.Transport | None = None
        self._tail = b""
        self._read = 0
        self._timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(REFUSAL_READ_SECONDS, self._refuse)

    def data_received(self, data: bytes) -> None:
        self._read += len(data)
        window = self._tail + data
        if b"\r\n\r\n" in window or self._read > REFUSAL_HEAD_BYTES:
            self._refuse()
        self._tail = window[-3:]

    def eof_received(self) -> bool:
        self._refuse()
        return False

    def _refuse(self) -> None:
        transport = self._transport
        if transport is None or transport.is_closing():
            return
        before, after = self._answer
        transport.write(before + new_request_id().encode() + after)
        transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._transport = None


class ConnectionGate:
    """The listener's protocol factory: aiohttp's handler for up to ``limit`` concurrent
    connections, a :class:`_RefusedConnection` for one more (``on_refused`` counts it,
    ``headers`` go in its answer: the Sunset header)."""

    def __init__(
        self,
        server: web.Server,
        limit: int,
        on_refused: Callable[[], object] | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        self.limit = limit
        self.refusals = ThrottledLog("connections.refused")
        self._on_refused = on_refused
        self._server = server
        self._admitted: set[RequestHandler] = set()
        self._answer = _refusal_answer(limit, headers)
        forward = server.connection_lost

        def connection_lost(handler: RequestHandler, exc: BaseException | None = None) -> None:
            self._admitted.discard(handler)
            forward(handler, exc)

        # aiohttp's handler reports its end to the server; the gate needs to hear it too.
        server.connection_lost = connection_lost  # type: ignore[method-assign]

    @property
    def admitted(self) -> int:
        return len(self._admitted)

    def __call__(self) -> asyncio.BaseProtocol:
        if len(self._admitted) >= self.limit:
            self.refusals.record(asyncio.get_running_loop(), limit=self.limit)
            if self._on_refused is not None:
                self._on_refused()
            return _RefusedConnection(self._answer)
        handler = self._server()
        self._admitted.add(handler)
        return handler


class CappedSite(web.TCPSite):
    """A TCP site whose connections pass a :class:`ConnectionGate`; with ``reuse_port``
    its socket shares the port with other processes' (``proxy.workers``)."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        limit: int,
        on_refused: Callable[[], object] | None = None,
        headers: Sequence[tuple[str, str]] = (),
        *,
        reuse_port: bool = False,
    ) -> None:
        super().__init__(runner, host, port, reuse_port=reuse_port or None)
        self.limit = limit
        self.gate: ConnectionGate | None = None
        self._on_refused = on_refused
        self._headers = headers

    async def start(self) -> None:
        # BaseSite.start registers the site; TCPSite.start would listen ungated.
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        self.gate = ConnectionGate(server, self.limit, self._on_refused, self._headers)
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            self.gate, self._host, self._port, backlog=self._backlog, reuse_port=self._reuse_port
        )


def raise_open_file_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (logged); the soft limit after it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else 1 << 20
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as exc:
            log.warning("rlimit.unchanged", soft=soft, hard=hard, error=str(exc))
            return soft
        log.info("rlimit.raised", resource="NOFILE", soft_before=soft, soft=target, hard=hard)
        return target
    return soft


def connection_cap(wanted: int, open_files: int, upstream_connections: int) -> int:
    """``max_client_connections``, lowered (and logged) when the open-file limit cannot
    hold that many next to the upstream pool: past the limit, accept() fails instead of
    a connection being refused with an answer."""
    room = open_files - upstream_connections - RESERVED_DESCRIPTORS
    if wanted <= room:
        return wanted
    cap = max(room, 1)
    log.warning(
        "connections.cap_lowered",
        max_client_connections=wanted,
        cap=cap,
        open_file_limit=open_files,
    )
    return cap

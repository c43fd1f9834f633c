"""The upstream client: performs the v2 calls that ``mappings`` planned.

Each call goes through: cache and coalescing (reads) -> the key's rate-limit slot ->
a connection slot -> the HTTP call, retried where that cannot duplicate a write.
Errors it raises are v1 errors (``mappings.errors.V1Error``) already:

    no free connection to v2 within the pool wait -> 503 with Retry-After (nothing sent)
    upstream unreachable / connection dropped     -> 502
    no connection accepted within the timeout     -> 504 (nothing sent)
    upstream slower than the configured timeout   -> 504
    upstream answer larger than the body bound    -> 502 (abandoned, never cached)
    upstream answered a body that is not v2       -> 502 (``decode``)
    upstream rejected the v2 key (401)            -> 401 (the key is remembered a while)
    upstream answered a v2 error                  -> per ``v2_error_to_v1`` (``error_for``)
    budget spent past the deadline                -> 429 with Retry-After
    a write sent, then any of these or a 5xx      -> ``OutcomeUnknown`` (the same answer)

Retries: a call that never reached upstream (connection refused) is retried whatever
its method; a 429 is waited out (upstream refused it, so nothing happened) for
``Retry-After`` but at least a second, within the deadline; 5xx, timeouts and dropped
connections are retried only for idempotent calls (GET, PATCH, DELETE) — never a POST
that may have reached upstream, so no application, note or file is created twice.
Every kind of attempt counts: one planned call costs at most ``1 + retries`` v2 calls,
whatever v2 answers. Backoff is capped exponential with full jitter.

Writes and the client: a client that disconnects cancels its handler. Up to the send
that is harmless (waiting for budget or a connection stops, nothing reaches v2); a
write (any method but GET) already handed to v2 is shielded: it completes, the cache
is made stale, and its outcome is logged (``upstream.write_completed_client_gone``, or
``upstream.write_outcome_unknown``). Reads may be abandoned. A write whose outcome the
bridge cannot know — a 5xx answer, a timeout or a dropped connection after it may have
reached v2 — is always logged as ``upstream.write_outcome_unknown`` and raised as
``OutcomeUnknown``, which answers as the failure it stands for (so a handler may catch
the class; the client sees the status and message it always saw).

The base URL is the injection point: tests and the demo point it at the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import random
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, TypeVar

import aiohttp
import orjson
import structlog
from pydantic import BaseModel, ValidationError

from mappings.errors import (
    AnswerTooLarge,
    OutcomeUnknown,
    UpstreamBusy,
    UpstreamInvalid,
    UpstreamTimeout,
    UpstreamUnreachable,
    V1Error,
    v2_error_to_v1,
)
from mappings.plan import V2Request
from proxy import __version__
from proxy.cache import ReadEconomy
from proxy.config import BridgeSettings
from proxy.context import RequestContext
from proxy.keys import RejectedKeys
from proxy.metrics import BridgeMetrics, v2_endpoint
from proxy.ratelimit import UpstreamPacer, key_id, too_many_requests
from proxy.store import StoreError
from proxy.tracing import trace_retry, trace_v2_call
from proxy.upstream_response import UpstreamResponse

M = TypeVar("M", bound=BaseModel)
log = structlog.get_logger("homerun_bridge.upstream")

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 2.0
# An upstream 429 is waited out at least this long, whatever its Retry-After says.
RETRY_AFTER_FLOOR_SECONDS = 1.0
# The longest an upload may take to pass through (25 MB at about 30 KB/s).
STREAMED_BODY_SECONDS = 900.0
# How long a v2 key that v2 rejected (401) is answered 401 without asking v2 again.
REJECTED_KEY_SECONDS = 60.0
# Requests waiting for a connection, per connection, past which one more is shed at once.
POOL_QUEUE_PER_CONNECTION = 8
# Sizes and waits an operator sets; the defaults are the settings' own.
_DEFAULT_MAX_BODY: Final[int] = BridgeSettings.model_fields["max_upstream_body_bytes"].default
_DEFAULT_POOL_WAIT: Final[float] = BridgeSettings.model_fields["upstream_pool_wait_seconds"].default


class _NotSent(Exception):
    """The connection could not be opened: the request never reached upstream."""

    def __init__(self, error: V1Error) -> None:
        super().__init__(error.message)
        self.error = error


class _Lost(Exception):
    """The request may have reached upstream, but no answer came back."""

    def __init__(self, error: V1Error) -> None:
        super().__init__(error.message)
        self.error = error


class _TooLarge(Exception):
    """The answer is longer than the bridge reads (known from Content-Length or seen)."""


class _Progress:
    """How far one attempt got: whether its request line and headers were written."""

    __slots__ = ("sent",)

    def __init__(self) -> None:
        self.sent = False


async def _headers_sent(
    _session: aiohttp.ClientSession,
    context: Any,
    _params: aiohttp.TraceRequestHeadersSentParams,
) -> None:
    if isinstance(context.trace_request_ctx, _Progress):
        context.trace_request_ctx.sent = True


def _backoff(attempt: int) -> float:
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))


def _is_write(call: V2Request) -> bool:
    return call.method != "GET"


@dataclass(frozen=True, slots=True)
class _Exchange:
    """One planned call as a v1 request sends it: for whom, with which key, what body."""

    ctx: RequestContext
    v2_key: str
    call: V2Request
    data: AsyncIterable[bytes] | None = None
    headers: Mapping[str, str] | None = None

    def about(self, **extra: Any) -> dict[str, Any]:
        """The fields every log line about this call carries (never the key)."""
        ctx, call = self.ctx, self.call
        fields = {"request_id": ctx.request_id, "key_label": ctx.label}
        return fields | {"method": call.method, "path": call.path} | extra


class ConnectionSlots:
    """The connections to API v2, handed out with a bounded wait and a bounded queue.

    aiohttp's own pool would queue without bound, and its timeout would count the
    queueing as v2's time. A request that gets no slot within ``wait_seconds`` (or finds
    ``max_waiting`` already queued) is refused before anything is sent.
    """

    def __init__(self, size: int, wait_seconds: float, max_waiting: int) -> None:
        self.size = size
        self.wait_seconds = wait_seconds
        self.max_waiting = max_waiting
        self._free = asyncio.Semaphore(size)
        self._waiting = 0

    @property
    def waiting(self) -> int:
        return self._waiting

    def _refusal(self) -> V1Error:
        return UpstreamBusy(
            f"The bridge's {self.size} connections to Homerun API v2 are all busy; "
            "nothing was sent upstream; retry shortly",
            headers={"Retry-After": str(max(1, math.ceil(self.wait_seconds)))},
        )

    async def acquire(self) -> None:
        if self._free.locked() and self._waiting >= self.max_waiting:
            raise self._refusal()
        self._waiting += 1
        try:
            async with asyncio.timeout(self.wait_seconds):
                await self._free.acquire()
        except TimeoutError:
            raise self._refusal() from None
        finally:
            self._waiting -= 1

    def release(self) -> None:
        self._free.release()


class UpstreamClient:
    """One pooled HTTP client for API v2, owned by the app's cleanup context."""

    def __init__(
        self,
        base_url: str,
        timeout_seconds: float,
        pacer: UpstreamPacer,
        economy: ReadEconomy,
        *,
        connections: int = 32,
        retries: int = 2,
        metrics: BridgeMetrics | None = None,
        max_body_bytes: int = _DEFAULT_MAX_BODY,
        pool_wait_seconds: float = _DEFAULT_POOL_WAIT,
        rejected_key_seconds: float = REJECTED_KEY_SECONDS,
    ) -> None:
        self.metrics = metrics or BridgeMetrics()
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.pacer = pacer
        self.economy = economy
        self.retries = retries
        self.max_body_bytes = max_body_bytes
        self.slots = ConnectionSlots(
            connections, pool_wait_seconds, POOL_QUEUE_PER_CONNECTION * connections
        )
        self.rejected_keys = RejectedKeys(rejected_key_seconds)
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        # Writes handed to v2 whose client may have left: awaited before closing.
        self._writes: set[asyncio.Task[UpstreamResponse]] = set()
        # (loop time, whether v2 answered) of the last call that ended: /readyz evidence.
        self.last_outcome: tuple[float, bool] | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        # A streamed body (an upload) is bounded as a whole only by this; see _send_once.
        self._streamed_timeout = aiohttp.ClientTimeout(
            total=STREAMED_BODY_SECONDS, sock_connect=timeout_seconds
        )

    async def start(self) -> None:
        # The pool is as large as the slots: a call holding a slot never queues in it.
        connector = aiohttp.TCPConnector(limit=self._connections, ttl_dns_cache=300)
        # Tells a timeout before the request was written (nothing sent) from one after.
        progress = aiohttp.TraceConfig()
        progress.on_request_headers_sent.append(_headers_sent)
        self._session = aiohttp.ClientSession(
            connector=connector,
            trace_configs=[progress],
            timeout=self._timeout,
            headers={"User-Agent": f"homerun-bridge/{__version__}", "Accept": "application/json"},
        )

    async def close(self) -> None:
        if self._writes:
            # Writes already sent are let finish (and logged), never cut.
            await asyncio.wait(set(self._writes), timeout=self.timeout_seconds + 1)
        if self._session is not None:
            await self._session.close()

    @property
    def session(self) -> aiohttp.ClientSession:
        assert self._session is not None, "UpstreamClient.start() was not awaited"
        return self._session

    async def send(
        self,
        ctx: RequestContext,
        v2_key: str,
        call: V2Request,
        *,
        data: AsyncIterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        fresh: bool = False,
        paced: bool = True,
    ) -> UpstreamResponse:
        """Perform one planned v2 call (through the cache when it is a read)."""
        if self.rejected_keys.holds(v2_key):
            raise _key_rejected(call)
        exchange = _Exchange(ctx, v2_key, call, data, headers)

        async def load() -> UpstreamResponse:
            return await self._send_with_retries(exchange, paced)

        if call.method == "GET":
            response, shared = await self.economy.read(v2_key, call, load, fresh=fresh)
            ctx.cache_hit = ctx.cache_hit or shared
        else:
            response = await load()
        if response.status == HTTPStatus.UNAUTHORIZED:
            self._key_was_rejected(ctx, v2_key)
            raise _key_rejected(call)
        return response

    def _key_was_rejected(self, ctx: RequestContext, v2_key: str) -> None:
        if self.rejected_keys.remember(v2_key):
            log.error(
                "upstream.key_rejected",
                request_id=ctx.request_id,
                key_label=ctx.label,
                key_id=key_id(v2_key),
                hint="API v2 answered 401: this v2 key was revoked or expired; the bridge "
                f"answers 401 for it without asking v2 for {self.rejected_keys.seconds:g} s",
            )

    async def _send_with_retries(self, exchange: _Exchange, paced: bool) -> UpstreamResponse:
        ctx, call = exchange.ctx, exchange.call
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.pacer.deadline_seconds
        # A streamed body can be sent once only.
        retries = 0 if exchange.data is not None else self.retries
        attempt = 0
        # (status, why) while a write's last attempt may have happened upstream unanswered.
        unknown: tuple[int, str] | None = None
        try:
            while True:
                if paced:
                    ctx.rate_limit_wait += await self.pacer.acquire(
                        exchange.v2_key, deadline - loop.time(), label=ctx.label
                    )
                try:
                    response = await self._attempt(exchange)
                except asyncio.CancelledError:
                    unknown = None  # a write in flight logs its own outcome (_client_gone)
                    raise
                except _NotSent as exc:
                    if attempt >= retries:
                        raise exc.error from exc
                except _Lost as exc:
                    unknown = (0, "no answer came back")
                    if not call.is_idempotent or attempt >= retries:
                        raise exc.error from exc
                else:
                    if response.status == HTTPStatus.TOO_MANY_REQUESTS:
                        self.metrics.upstream_429.inc()
                        wait = max(RETRY_AFTER_FLOOR_SECONDS, _retry_after(response))
                        if attempt >= retries or loop.time() + wait > deadline:
                            raise too_many_requests(wait)
                        log.warning(
                            "upstream.rate_limited",
                            path=call.path,
                            retry_after=wait,
                            attempt=attempt + 1,
                        )
                        ctx.rate_limit_wait += wait
                        attempt += 1
                        await asyncio.sleep(wait)
                        continue
                    # An earlier unanswered attempt stays unknown until v2 answers for sure.
                    unknown = (
                        (response.status, "v2 answered 5xx")
                        if response.status >= HTTPStatus.INTERNAL_SERVER_ERROR
                        else None
                    )
                    retryable = response.status in RETRYABLE_STATUSES and call.is_idempotent
                    if not (retryable and attempt < retries):
                        if unknown is not None and _is_write(call):
                            # Logged and raised as OutcomeUnknown just below.
                            raise error_for(response, call, not_found="")
                        return response
                attempt += 1
                await asyncio.sleep(_backoff(attempt))
                log.info("upstream.retry", method=call.method, path=call.path, attempt=attempt)
                trace_retry(call, attempt)
        except BaseException as exc:
            # A write whose last attempt went unanswered ends here: v2 may hold it.
            if unknown is None or not _is_write(call):
                raise
            status, why = unknown
            if isinstance(exc, asyncio.CancelledError):
                why = f"{why}; the client left before a retry"
            _outcome_unknown(exchange, status, why)
            if isinstance(exc, V1Error):
                raise OutcomeUnknown(exc) from exc
            raise

    async def _attempt(self, exchange: _Exchange) -> UpstreamResponse:
        """One call on a connection slot. A read simply runs; a write, once handed to
        v2, runs to its end even when the client leaves (see the module docstring)."""
        try:
            await self.slots.acquire()
        except V1Error:
            self.metrics.upstream_shed.inc()
            log.warning("upstream.shed", **exchange.about(waiting=self.slots.waiting))
            raise
        if not _is_write(exchange.call):
            try:
                return await self._send_once(exchange)
            finally:
                self.slots.release()
        write = asyncio.ensure_future(self._write_once(exchange))
        self._writes.add(write)
        write.add_done_callback(self._writes.discard)
        try:
            return await asyncio.shield(write)
        except asyncio.CancelledError:
            # Also when it ended just now: its answer reaches no one, the log says so.
            write.add_done_callback(functools.partial(_client_gone, exchange))
            raise

    async def _write_once(self, exchange: _Exchange) -> UpstreamResponse:
        try:
            response = await self._send_once(exchange)
        finally:
            self.slots.release()
        if response.status < HTTPStatus.MULTIPLE_CHOICES:
            try:
                await self.economy.invalidate(exchange.v2_key)
            except StoreError as exc:
                # The write happened: it is answered as such; cached reads stay stale.
                log.error("upstream.write_cache_stale", **exchange.about(error=str(exc)))
        return response

    async def _then_start(
        self, deadline: asyncio.Timeout, data: AsyncIterable[bytes]
    ) -> AsyncIterator[bytes]:
        async for chunk in data:
            yield chunk
        deadline.reschedule(asyncio.get_running_loop().time() + self.timeout_seconds)

    async def _read_bounded(self, response: aiohttp.ClientResponse) -> bytes:
        """The answer's body, read only up to ``max_body_bytes``."""
        limit = self.max_body_bytes
        if response.content_length is not None and response.content_length > limit:
            raise _TooLarge()
        body = bytearray()
        async for chunk in response.content.iter_any():
            body += chunk
            if len(body) > limit:
                raise _TooLarge()
        return bytes(body)

    async def _send_once(self, exchange: _Exchange) -> UpstreamResponse:
        ctx, call, data = exchange.ctx, exchange.call, exchange.data
        request_headers = {
            "Authorization": f"Bearer {exchange.v2_key}",
            "X-Request-Id": ctx.request_id,
        }
        if exchange.headers:
            request_headers.update(exchange.headers)
        body: Any = data
        if call.json is not None:
            body = orjson.dumps(call.json)
            request_headers["Content-Type"] = "application/json"
        # A streamed body arrives at the client's pace (its own pause timeout bounds
        # that); v2's answer gets ``timeout_seconds`` from when the body is all sent.
        answer_deadline: contextlib.AbstractAsyncContextManager[object] = contextlib.nullcontext()
        if data is not None:
            answer_deadline = streamed_deadline = asyncio.timeout(None)
            body = self._then_start(streamed_deadline, data)
        ctx.upstream_calls += 1
        endpoint = v2_endpoint(call.path)
        started = time.perf_counter()
        status = 0
        answered = False
        progress = _Progress()
        # A client span when tracing is on; its traceparent goes to v2 in these headers.
        v2_span = trace_v2_call(call, request_headers)
        try:
            async with answer_deadline:
                async with self.session.request(
                    call.method,
                    self.base_url + call.path,
                    params=call.query,
                    data=body,
                    headers=request_headers,
                    timeout=self._streamed_timeout if data is not None else self._timeout,
                    trace_request_ctx=progress,
                ) as response:
                    status = response.status
                    try:
                        payload = await self._read_bounded(response)
                    except _TooLarge:
                        response.close()  # abandoned, not drained: the connection goes
                        if not _is_write(call):
                            raise
                        # A write is answered by its status, with nothing of the answer
                        # read: a 2xx as the success it was (the handler logs it degraded),
                        # a 5xx as an outcome unknown, a 4xx as the refusal it was.
                        self._log_too_large(
                            "upstream.write_answer_too_large"
                            if 200 <= status < 300
                            else "upstream.answer_too_large",
                            exchange,
                            status,
                        )
                        payload = b""
                    result = UpstreamResponse(response.status, payload, response.headers)
                    answered = status < HTTPStatus.INTERNAL_SERVER_ERROR
        except _TooLarge as exc:
            self._log_too_large("upstream.answer_too_large", exchange, status)
            raise AnswerTooLarge(
                "Homerun API v2's answer was too large for the bridge (more than "
                f"{self.max_body_bytes} bytes); it was not read",
            ) from exc
        except aiohttp.ClientConnectorError as exc:
            log.warning("upstream.unreachable", **exchange.about())
            raise _NotSent(UpstreamUnreachable()) from exc
        except TimeoutError as exc:
            raise self._timed_out(exchange, exc, sent=progress.sent) from exc
        except (aiohttp.ClientError, OSError) as exc:
            own = _body_refused_here(exc)
            if own is not None:
                # The streamed body was cut short by the bridge (too large, stalled,
                # broken): v2 got an incomplete request, so nothing was written.
                raise own from exc
            log.warning("upstream.connection_lost", **exchange.about(error=type(exc).__name__))
            raise _Lost(
                UpstreamUnreachable(
                    "Homerun API v2 could not be reached or dropped the connection",
                )
            ) from exc
        finally:
            v2_span.end(status)
            self.last_outcome = (asyncio.get_running_loop().time(), answered)
            self.metrics.v2_calls.labels(call.method, endpoint, str(status)).inc()
            self.metrics.v2_latency.labels(call.method, endpoint).observe(
                time.perf_counter() - started
            )
        log.debug("upstream.call", **exchange.about(status=result.status))
        return result

    def _timed_out(self, exchange: _Exchange, exc: TimeoutError, *, sent: bool) -> Exception:
        """A timeout before the request was written (nothing reached v2, so even a POST
        may be resent) or after it (v2 may have it)."""
        if isinstance(exc, aiohttp.ConnectionTimeoutError) or not sent:
            log.warning("upstream.connect_timeout", **exchange.about())
            return _NotSent(
                UpstreamTimeout(
                    f"Homerun API v2 did not accept a connection within {self.timeout_seconds:g} s",
                )
            )
        log.warning("upstream.timeout", **exchange.about())
        return _Lost(
            UpstreamTimeout(f"Homerun API v2 did not answer within {self.timeout_seconds:g} s")
        )

    def _log_too_large(self, event: str, exchange: _Exchange, status: int) -> None:
        self.metrics.upstream_too_large.inc()
        log.error(event, **exchange.about(status=status, limit_bytes=self.max_body_bytes))

    def answered_within(self, seconds: float) -> bool:
        """Whether the last call that ended got an answer from v2 (not a 5xx, not a
        timeout or a dropped connection) ``seconds`` ago or less."""
        if self.last_outcome is None:
            return False
        at, answered = self.last_outcome
        return answered and asyncio.get_running_loop().time() - at <= seconds


def _outcome_unknown(exchange: _Exchange, status: int, why: str, **extra: Any) -> None:
    """A write that may have happened upstream unanswered: said at error level, so an
    operator can reconcile it (status 0: no answer came)."""
    log.error(
        "upstream.write_outcome_unknown",
        **exchange.about(status=status, why=why, **extra),
        hint="not retried: the write may have happened upstream",
    )


def _client_gone(exchange: _Exchange, write: asyncio.Task[UpstreamResponse]) -> None:
    """How a write ended whose client had left while it ran: said in a log line."""
    if write.cancelled():
        _outcome_unknown(exchange, 0, "cut at shutdown", client_gone=True)
        return
    error = write.exception()
    if isinstance(error, _Lost):
        _outcome_unknown(exchange, 0, "no answer came back", client_gone=True)
    elif error is not None:
        log.warning(
            "upstream.write_not_sent_client_gone", **exchange.about(error=type(error).__name__)
        )
    elif (status := write.result().status) >= HTTPStatus.INTERNAL_SERVER_ERROR:
        _outcome_unknown(exchange, status, "v2 answered 5xx", client_gone=True)
    else:
        log.warning("upstream.write_completed_client_gone", **exchange.about(status=status))


def _key_rejected(call: V2Request) -> V1Error:
    return v2_error_to_v1(HTTPStatus.UNAUTHORIZED, None, call, not_found="")


def _body_refused_here(exc: BaseException) -> V1Error | None:
    """The v1 error a streamed body raised, which the HTTP client wrapped, if any."""
    seen = exc
    for _ in range(8):
        cause = seen.__cause__ or seen.__context__
        if cause is None or isinstance(cause, V1Error):
            return cause
        seen = cause
    return None


def _retry_after(response: UpstreamResponse) -> float:
    """Seconds v2 asked to wait (an HTTP-date or a bad value: one second)."""
    try:
        seconds = float(response.headers.get("Retry-After", "1"))
    except ValueError:
        return 1.0
    return seconds if math.isfinite(seconds) and seconds >= 0 else 1.0


def decode(model: type[M], response: UpstreamResponse) -> M:
    """A v2 success body as its model; anything else is not v2 -> 502."""
    try:
        return model.model_validate_json(response.body)
    except ValidationError as exc:
        log.warning("upstream.invalid_body", model=model.__name__, errors=exc.error_count())
        raise UpstreamInvalid() from exc


def error_for(response: UpstreamResponse, call: V2Request, not_found: str) -> V1Error:
    """A v2 error answer in v1 terms."""
    try:
        body = orjson.loads(response.body) if response.body else None
    except orjson.JSONDecodeError:
        body = None
    return v2_error_to_v1(
        response.status,
        body,
        call,
        not_found=not_found,
        retry_after=response.headers.get("Retry-After"),
    )


async def gather_all(*coroutines: Any) -> list[Any]:
    """Run calls concurrently; the first failure wins and the rest are cancelled."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for task in tasks:
            task.cancel()
        raise

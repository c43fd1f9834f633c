"""The upstream client: performs the v2 calls that ``mappings`` planned.

Each call goes through: cache and coalescing (reads) -> the key's rate-limit slot ->
the HTTP call, retried where that cannot duplicate a write. Errors it raises are v1
errors (``mappings.errors.V1Error``) already:

    upstream unreachable / connection dropped  -> 502
    upstream slower than the configured timeout -> 504
    upstream answered a body that is not v2     -> 502 (``decode``)
    upstream answered a v2 error                -> per ``v2_error_to_v1`` (``error_for``)
    budget spent past the deadline              -> 429 with Retry-After

Retries: a call that never reached upstream (connection refused) is retried whatever
its method; a 429 is waited out (upstream refused it, so nothing happened) within the
deadline; 5xx, timeouts and dropped connections are retried only for idempotent calls
(GET, PATCH, DELETE) — never a POST that may have reached upstream, so no application,
note or file is created twice. Backoff is capped exponential with full jitter.

The base URL is the injection point: tests and the demo point it at the sandbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterable, AsyncIterator, Mapping
from http import HTTPStatus
from typing import Any, TypeVar

import aiohttp
import orjson
import structlog
from pydantic import BaseModel, ValidationError

from mappings.errors import V1Error, v2_error_to_v1
from mappings.plan import V2Request
from proxy import __version__
from proxy.cache import ReadEconomy
from proxy.context import RequestContext
from proxy.metrics import BridgeMetrics, v2_endpoint
from proxy.ratelimit import UpstreamPacer, too_many_requests
from proxy.upstream_response import UpstreamResponse

M = TypeVar("M", bound=BaseModel)
log = structlog.get_logger("homerun_bridge.upstream")

RETRYABLE_STATUSES = frozenset({500, 502, 503, 504})
BACKOFF_BASE_SECONDS = 0.1
BACKOFF_CAP_SECONDS = 2.0
# The longest an upload may take to pass through (25 MB at about 30 KB/s).
STREAMED_BODY_SECONDS = 900.0


class _NotSent(Exception):
    """The connection could not be opened: the request never reached upstream."""


class _Lost(Exception):
    """The request may have reached upstream, but no answer came back."""

    def __init__(self, error: V1Error) -> None:
        super().__init__(error.message)
        self.error = error


def _backoff(attempt: int) -> float:
    return random.uniform(0, min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2**attempt))


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
    ) -> None:
        self.metrics = metrics or BridgeMetrics()
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self.pacer = pacer
        self.economy = economy
        self.retries = retries
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None
        # (loop time, whether v2 answered) of the last call that ended: /readyz evidence.
        self.last_outcome: tuple[float, bool] | None = None
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        # A streamed body (an upload) is bounded as a whole only by this; see _send_once.
        self._streamed_timeout = aiohttp.ClientTimeout(
            total=STREAMED_BODY_SECONDS, sock_connect=timeout_seconds
        )

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._connections, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=self._timeout,
            headers={"User-Agent": f"homerun-bridge/{__version__}", "Accept": "application/json"},
        )

    async def close(self) -> None:
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

        async def load() -> UpstreamResponse:
            return await self._send_with_retries(ctx, v2_key, call, data, headers, paced)

        if call.method == "GET":
            response, shared = await self.economy.read(v2_key, call, load, fresh=fresh)
            ctx.cache_hit = ctx.cache_hit or shared
            return response
        response = await load()
        if response.status < 300:
            await self.economy.invalidate(v2_key)
        return response

    async def _send_with_retries(
        self,
        ctx: RequestContext,
        v2_key: str,
        call: V2Request,
        data: AsyncIterable[bytes] | None,
        headers: Mapping[str, str] | None,
        paced: bool,
    ) -> UpstreamResponse:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.pacer.deadline_seconds
        # A streamed body can be sent once only.
        retries = 0 if data is not None else self.retries
        attempt = 0
        while True:
            if paced:
                ctx.rate_limit_wait += await self.pacer.acquire(
                    v2_key, deadline - loop.time(), label=ctx.label
                )
            try:
                response = await self._send_once(ctx, v2_key, call, data, headers)
            except _NotSent as exc:
                if attempt >= retries:
                    raise V1Error(
                        HTTPStatus.BAD_GATEWAY, "Homerun API v2 could not be reached"
                    ) from exc
            except _Lost as exc:
                if not call.is_idempotent or attempt >= retries:
                    if not call.is_idempotent:
                        log.error(
                            "upstream.write_outcome_unknown",
                            request_id=ctx.request_id,
                            key_label=ctx.label,
                            method=call.method,
                            path=call.path,
                            hint="not retried: the write may have happened upstream",
                        )
                    raise exc.error from exc
            else:
                if response.status == HTTPStatus.TOO_MANY_REQUESTS:
                    self.metrics.upstream_429.inc()
                    wait = _retry_after(response)
                    if data is None and loop.time() + wait <= deadline:
                        log.warning("upstream.rate_limited", path=call.path, retry_after=wait)
                        ctx.rate_limit_wait += wait
                        await asyncio.sleep(wait)
                        continue
                    raise too_many_requests(wait)
                if not (
                    response.status in RETRYABLE_STATUSES
                    and call.is_idempotent
                    and attempt < retries
                ):
                    return response
            attempt += 1
            await asyncio.sleep(_backoff(attempt))
            log.info("upstream.retry", method=call.method, path=call.path, attempt=attempt)

    async def _then_start(
        self, deadline: asyncio.Timeout, data: AsyncIterable[bytes]
    ) -> AsyncIterator[bytes]:
        async for chunk in data:
            yield chunk
        deadline.reschedule(asyncio.get_running_loop().time() + self.timeout_seconds)

    async def _send_once(
        self,
        ctx: RequestContext,
        v2_key: str,
        call: V2Request,
        data: AsyncIterable[bytes] | None,
        headers: Mapping[str, str] | None,
    ) -> UpstreamResponse:
        request_headers = {"Authorization": f"Bearer {v2_key}", "X-Request-Id": ctx.request_id}
        if headers:
            request_headers.update(headers)
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
        try:
            async with answer_deadline:
                async with self.session.request(
                    call.method,
                    self.base_url + call.path,
                    params=call.query,
                    data=body,
                    headers=request_headers,
                    timeout=self._streamed_timeout if data is not None else self._timeout,
                ) as response:
                    status = response.status
                    payload = await response.read()
                    result = UpstreamResponse(response.status, payload, response.headers)
                    answered = status < HTTPStatus.INTERNAL_SERVER_ERROR
        except aiohttp.ClientConnectorError as exc:
            log.warning("upstream.unreachable", method=call.method, path=call.path)
            raise _NotSent() from exc
        except TimeoutError as exc:
            log.warning("upstream.timeout", method=call.method, path=call.path)
            raise _Lost(
                V1Error(
                    HTTPStatus.GATEWAY_TIMEOUT,
                    f"Homerun API v2 did not answer within {self.timeout_seconds:g} s",
                )
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            own = _body_refused_here(exc)
            if own is not None:
                # The streamed body was cut short by the bridge (too large, stalled,
                # broken): v2 got an incomplete request, so nothing was written.
                raise own from exc
            log.warning(
                "upstream.connection_lost",
                method=call.method,
                path=call.path,
                error=exc.__class__.__name__,
            )
            raise _Lost(
                V1Error(
                    HTTPStatus.BAD_GATEWAY,
                    "Homerun API v2 could not be reached or dropped the connection",
                )
            ) from exc
        finally:
            self.last_outcome = (asyncio.get_running_loop().time(), answered)
            self.metrics.v2_calls.labels(call.method, endpoint, str(status)).inc()
            self.metrics.v2_latency.labels(call.method, endpoint).observe(
                time.perf_counter() - started
            )
        log.debug(
            "upstream.call",
            request_id=ctx.request_id,
            method=call.method,
            path=call.path,
            status=result.status,
        )
        return result

    def answered_within(self, seconds: float) -> bool:
        """Whether the last call that ended got an answer from v2 (not a 5xx, not a
        timeout or a dropped connection) ``seconds`` ago or less."""
        if self.last_outcome is None:
            return False
        at, answered = self.last_outcome
        return answered and asyncio.get_running_loop().time() - at <= seconds


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
    try:
        return max(0.0, float(response.headers.get("Retry-After", "1")))
    except ValueError:
        return 1.0


def decode(model: type[M], response: UpstreamResponse) -> M:
    """A v2 success body as its model; anything else is not v2 -> 502."""
    try:
        return model.model_validate_json(response.body)
    except ValidationError as exc:
        log.warning("upstream.invalid_body", model=model.__name__, errors=exc.error_count())
        raise V1Error(
            HTTPStatus.BAD_GATEWAY, "Homerun API v2 answered with a body the bridge cannot read"
        ) from exc


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

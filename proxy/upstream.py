"""The upstream client: performs the v2 calls that ``mappings`` planned.

Errors it raises are v1 errors (``mappings.errors.V1Error``) already:

    upstream unreachable / connection dropped  -> 502
    upstream slower than the configured timeout -> 504
    upstream answered a body that is not v2     -> 502
    upstream answered a v2 error                -> per ``v2_error_to_v1``

The base URL is the injection point: tests and the demo point it at the sandbox.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar

import aiohttp
import orjson
import structlog
from multidict import CIMultiDictProxy
from pydantic import BaseModel, ValidationError

from mappings.errors import V1Error, v2_error_to_v1
from mappings.plan import V2Request
from proxy import __version__
from proxy.context import RequestContext

M = TypeVar("M", bound=BaseModel)
log = structlog.get_logger("homerun_bridge.upstream")


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    body: bytes
    headers: CIMultiDictProxy[str]


class UpstreamClient:
    """One pooled HTTP client for API v2, owned by the app's cleanup context."""

    def __init__(self, base_url: str, timeout_seconds: float, connections: int = 32) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_seconds = timeout_seconds
        self._connections = connections
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        connector = aiohttp.TCPConnector(limit=self._connections, ttl_dns_cache=300)
        self._session = aiohttp.ClientSession(
            connector=connector,
            timeout=aiohttp.ClientTimeout(total=self.timeout_seconds),
            headers={"User-Agent": f"homerun-bridge/{__version__}", "Accept": "application/json"},
            json_serialize=lambda obj: orjson.dumps(obj).decode(),
            auto_decompress=True,
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
        data: AsyncIterable[bytes] | bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> UpstreamResponse:
        """Perform one v2 call and read its whole answer (v2 answers are small JSON)."""
        request_headers = {"Authorization": f"Bearer {v2_key}", "X-Request-Id": ctx.request_id}
        if headers:
            request_headers.update(headers)
        body: Any = data
        if call.json is not None:
            body = orjson.dumps(call.json)
            request_headers["Content-Type"] = "application/json"
        ctx.upstream_calls += 1
        url = self.base_url + call.path
        try:
            async with self.session.request(
                call.method, url, params=call.query, data=body, headers=request_headers
            ) as response:
                payload = await response.read()
                result = UpstreamResponse(response.status, payload, response.headers)
        except TimeoutError as exc:
            log.warning("upstream.timeout", method=call.method, path=call.path)
            raise V1Error(
                HTTPStatus.GATEWAY_TIMEOUT,
                f"Homerun API v2 did not answer within {self.timeout_seconds:g} s",
            ) from exc
        except (aiohttp.ClientError, OSError) as exc:
            log.warning(
                "upstream.unreachable",
                method=call.method,
                path=call.path,
                error=exc.__class__.__name__,
            )
            raise V1Error(
                HTTPStatus.BAD_GATEWAY,
                "Homerun API v2 could not be reached or dropped the connection",
            ) from exc
        log.debug(
            "upstream.call",
            request_id=ctx.request_id,
            method=call.method,
            path=call.path,
            status=result.status,
        )
        return result


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

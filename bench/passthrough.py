"""A bare aiohttp pass-through hop: the floor for any Python proxy (benchmarks only).

Every request is forwarded to the upstream unchanged (method, path, query, headers
but the hop-by-hop ones, body streamed), and the answer streamed back unchanged. No
translation, no validation, no logging, no metrics: what the bridge costs on top of
this hop is what its own work costs.

    .venv/bin/python -m bench.passthrough --port 8090 --upstream http://127.0.0.1:8081

With ``--answer-bytes N`` it forwards nothing and answers every request with the same N
bytes: aiohttp's server alone, the least any aiohttp answer costs (the bench's floor for
cached answers).
"""

from __future__ import annotations

import argparse
from collections.abc import AsyncIterator
from typing import Final

import aiohttp
from aiohttp import web
from multidict import CIMultiDict, CIMultiDictProxy

CHUNK_BYTES: Final = 64 * 1024
# RFC 9110 §7.6.1, plus the ones aiohttp computes itself for each leg.
HOP_BY_HOP: Final = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
SESSION: Final = web.AppKey("session", aiohttp.ClientSession)
UPSTREAM: Final = web.AppKey("upstream", str)


def _forwardable(headers: CIMultiDictProxy[str]) -> CIMultiDict[str]:
    return CIMultiDict((k, v) for k, v in headers.items() if k.lower() not in HOP_BY_HOP)


async def forward(request: web.Request) -> web.StreamResponse:
    session = request.app[SESSION]
    body = request.content.iter_chunked(CHUNK_BYTES) if request.body_exists else None
    async with session.request(
        request.method,
        request.app[UPSTREAM] + request.rel_url.raw_path_qs,
        headers=_forwardable(request.headers),
        data=body,
        allow_redirects=False,
    ) as upstream:
        response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
        response.headers.extend(_forwardable(upstream.headers))
        if upstream.content_length is not None:
            response.content_length = upstream.content_length
        await response.prepare(request)
        async for chunk in upstream.content.iter_chunked(CHUNK_BYTES):
            await response.write(chunk)
        await response.write_eof()
        return response


def create_app(upstream_url: str, connections: int = 32) -> web.Application:
    app = web.Application()
    app[UPSTREAM] = upstream_url.rstrip("/")

    async def session(app: web.Application) -> AsyncIterator[None]:
        connector = aiohttp.TCPConnector(limit=connections)
        app[SESSION] = aiohttp.ClientSession(
            connector=connector,
            auto_decompress=False,
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            timeout=aiohttp.ClientTimeout(total=60),
        )
        yield
        await app[SESSION].close()

    app.cleanup_ctx.append(session)
    app.router.add_route("*", "/{tail:.*}", forward)
    return app


def create_floor_app(size: int) -> web.Application:
    """Every request answered with the same ``size`` bytes of JSON: no lookup, no copy."""
    body = b'{"data":"' + b"x" * max(0, size - 11) + b'"}'
    app = web.Application()

    async def answer(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    app.router.add_route("*", "/{tail:.*}", answer)
    return app


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.passthrough", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--upstream", help="e.g. http://127.0.0.1:8081")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--answer-bytes", type=int, help="answer N fixed bytes, forward nothing")
    args = parser.parse_args()
    if args.answer_bytes is None and args.upstream is None:
        parser.error("--upstream or --answer-bytes is needed")
    web.run_app(
        create_floor_app(args.answer_bytes)
        if args.answer_bytes is not None
        else create_app(args.upstream, args.connections),
        host=args.host,
        port=args.port,
        access_log=None,
        print=None,
    )


if __name__ == "__main__":
    main()

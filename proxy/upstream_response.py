"""One answer from API v2, as the shell passes it around."""

from __future__ import annotations

from dataclasses import dataclass

from multidict import CIMultiDict, CIMultiDictProxy

_NO_HEADERS: CIMultiDictProxy[str] = CIMultiDictProxy(CIMultiDict())


@dataclass(frozen=True, slots=True)
class UpstreamResponse:
    status: int
    body: bytes
    headers: CIMultiDictProxy[str]
    cached: bool = False  # served from the read cache, not by an upstream call


def cached_response(status: int, body: bytes) -> UpstreamResponse:
    return UpstreamResponse(status, body, _NO_HEADERS, cached=True)

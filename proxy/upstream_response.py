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
    # Unix time until which the read cache holds this answer (served from it or just put
    # in it); None when the cache does not hold it.
    kept_until: float | None = None


def cached_response(status: int, body: bytes, kept_until: float | None) -> UpstreamResponse:
    return UpstreamResponse(status, body, _NO_HEADERS, cached=True, kept_until=kept_until)

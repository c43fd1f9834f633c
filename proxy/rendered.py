"""Cached v1 answers kept as bytes, with ``ETag`` and ``If-None-Match`` -> 304.

A careers site lists its jobs on every page view: the v2 answers come from the read
cache (``proxy.cache``), yet decoding them, translating and encoding the v1 answer cost
nearly what a round trip to v2 costs a bare proxy. So a v1 answer made only of v2 answers
the read cache holds is kept rendered, and written again as it is.

- **What may be kept**: the answer of a GET row (HEAD shares it) whose every v2 call was a
  read the cache serves or has just stored (the request context counts them,
  ``RequestContext.made_from``), status 200. An answer that used any other v2 call (a job
  application: never cached, and rendered with issue-time fields such as files'
  ``url_expires_at``) is never kept: the rule is per answer, not per row, so a row's answer
  is kept exactly when the cache would have served all of it.
- **Key**: the v2 key's digest (two v1 keys share an entry only when they share the v2 key,
  as the cache does; the v1 key is still authenticated first, by the middleware), the
  key's cache generation (a write through any replica changes it, so it drops every entry
  made before: the generation is read from the shared store on every lookup), and the v1
  request's canonical form: route, path ids and the query parameters its row declares, in
  their order (the rest go unread by the handler, so a cache-busting ``?_=123`` shares
  the entry).
- **Lifetime**: no longer than the earliest-expiring v2 cache entry it was made from
  (entries record their expiry, ``Cached.kept_until``), and no longer than
  ``cursor_ttl_seconds``: a list answer served from here skips ``proxy.paging``, which
  remembers where the listed ids stood for cursor paging, so an entry must not outlive
  those positions (they were recorded when the entry was made and live
  ``cursor_ttl_seconds``; with the default cache TTL of 60 s the cache's expiry is the bound).
- **Bound**: ``rendered_answers`` entries per process (0 = off) and ``MAX_RENDERED_BYTES``
  of bodies, least recently used dropped first.
- **gzip**: an entry keeps its gzip copy (made once, when kept), so a hit compresses
  nothing; ``proxy.browsers`` picks the copy per request (``Vary: Accept-Encoding`` as for
  any large answer).
- **ETag**: every answer that could be kept carries a strong ``ETag`` (BLAKE2b, 16 bytes,
  of the uncompressed body), kept or not; its gzip copy has its own, ``"<tag>-gz"`` (a
  strong validator differs per content coding, RFC 9110 §8.8.3). ``If-None-Match`` (a
  list, weak comparison, or ``*``) that names either is answered 304 without a body,
  carrying the tag of the form the request would have got (``proxy.browsers`` picks
  it, for a 304 as for a 200): from the entry with no v2 call, or, when no entry is
  kept, after rendering from the cache. HEAD gets what GET does.

What a hit still gets: authentication, usage counts, metrics, the log line and every v1
header (``Deprecation``, ``Link``, ``Sunset``, ``X-Request-Id``, ``X-Upstream-Calls: 0``,
CORS), all added by the middleware around the handler this replaces.
"""

from __future__ import annotations

import hashlib
import re
import time
import zlib
from collections import OrderedDict
from collections.abc import Hashable
from http import HTTPStatus
from typing import Final

from aiohttp import hdrs, web
from prometheus_client import CollectorRegistry, Counter

# Bodies (and their gzip copies) kept per process, at most.
MAX_RENDERED_BYTES: Final = 64 * 1024 * 1024
GZIP_LEVEL: Final = 6  # zlib's default, as aiohttp compresses: done once per entry
_ENTITY_TAG: Final = re.compile(r'(?:W/)?("[^"]*")')
# Headers the bridge sets on the way out, never part of what is kept.
_NOT_KEPT: Final = frozenset(
    {hdrs.CONTENT_LENGTH, hdrs.CONTENT_ENCODING, hdrs.CONTENT_TYPE, hdrs.ETAG, hdrs.VARY}
)


def wall_clock() -> float:
    """Unix time: the clock entries' lifetimes are in (the read cache's, shared by replicas)."""
    return time.time()


def gzip_bytes(body: bytes, level: int) -> bytes:
    """A body as a gzip member (what ``Content-Encoding: gzip`` carries)."""
    return zlib.compress(body, level, wbits=16 + zlib.MAX_WBITS)


def entity_tag(body: bytes) -> str:
    """A strong entity tag for a body: its BLAKE2b digest (16 bytes), quoted."""
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def gzip_tag(etag: str) -> str:
    """The strong tag of a body's gzip copy: another representation of the same answer,
    so another strong validator (RFC 9110 §8.8.3), as Apache's ``-gzip`` suffix."""
    return f'{etag[:-1]}-gz"'


def none_match(if_none_match: str, etag: str) -> bool:
    """Whether ``If-None-Match`` names the answer: its tag or its gzip copy's, either
    validating the one resource (RFC 9110 §13.1.2: weak comparison, so ``W/"x"``
    matches ``"x"``; ``*`` matches any current answer)."""
    if if_none_match.strip() == "*":
        return True
    offered = _ENTITY_TAG.findall(if_none_match)
    return etag in offered or gzip_tag(etag) in offered


class RenderedAnswer:
    """One v1 answer as bytes: body, content type, the handler's own headers, its tag,
    until when it may be served (Unix time), and its gzip copy once made."""

    __slots__ = ("_gzipped", "body", "charset", "content_type", "etag", "headers", "kept_until")

    def __init__(self, response: web.Response, body: bytes, kept_until: float) -> None:
        self.body = body
        self.content_type = response.content_type
        self.charset = response.charset
        self.headers = tuple((k, v) for k, v in response.headers.items() if k not in _NOT_KEPT)
        self.etag = entity_tag(body)
        self.kept_until = kept_until
        self._gzipped: bytes | None = None

    @property
    def size(self) -> int:
        return len(self.body) + len(self._gzipped or b"")

    def gzipped(self) -> bytes:
        """The body gzip-compressed, made on first use and kept."""
        if self._gzipped is None:
            self._gzipped = gzip_bytes(self.body, GZIP_LEVEL)
        return self._gzipped


class RenderedResponse(web.Response):
    """An answer written from a ``RenderedAnswer``: 200 with the body, or 304 without.
    ``proxy.browsers`` sends the kept gzip copy to clients that take gzip."""

    def __init__(self, answer: RenderedAnswer, *, not_modified: bool = False) -> None:
        super().__init__(
            status=HTTPStatus.NOT_MODIFIED if not_modified else HTTPStatus.OK,
            body=None if not_modified else answer.body,
            content_type=None if not_modified else answer.content_type,
            charset=None if not_modified else answer.charset,
            headers=answer.headers,
        )
        self.headers["ETag"] = answer.etag
        self.answer = answer

    def send_gzipped(self) -> None:
        """Write the gzip copy instead of the body (a 200), tagged as the copy: a 304 too
        carries the tag of the representation the request would have got."""
        self.headers[hdrs.ETAG] = gzip_tag(self.answer.etag)
        if self.status == HTTPStatus.OK:
            self.body = self.answer.gzipped()
            self.headers[hdrs.CONTENT_ENCODING] = "gzip"


class RenderedAnswers:
    """The rendered answers one process keeps, least recently used dropped first, and
    counters for ``/metrics`` (hits, misses, 304s) on the app's registry."""

    def __init__(
        self,
        max_entries: int,
        registry: CollectorRegistry,
        *,
        gzip_min_bytes: int,
        max_bytes: int = MAX_RENDERED_BYTES,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.gzip_min_bytes = gzip_min_bytes
        # key -> (entry, the bytes it counted for when kept)
        self._kept: OrderedDict[Hashable, tuple[RenderedAnswer, int]] = OrderedDict()
        self._bytes = 0
        # The routes (templates) whose answers were seen made from the cache alone: only
        # their requests look for an entry (a lookup reads the key's generation).
        self.routes: set[str] = set()
        lookups = Counter(
            "homerun_bridge_rendered_answers",
            "Lookups of v1 answers kept rendered (proxy.rendered), by outcome",
            ["outcome"],
            registry=registry,
        )
        self.hits, self.misses = lookups.labels("hit"), lookups.labels("miss")
        self.not_modified = Counter(
            "homerun_bridge_not_modified",
            "v1 answers 304 Not Modified (If-None-Match named the answer's ETag)",
            registry=registry,
        )

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0

    def renders(self, route: str) -> None:
        """A route's answer could be kept: look for its entries from now on (when on)."""
        if self.enabled:
            self.routes.add(route)

    def __len__(self) -> int:
        return len(self._kept)

    def get(self, key: Hashable, now: float) -> RenderedAnswer | None:
        """The live entry for a key (an expired one is dropped); counted as hit or miss."""
        kept = self._kept.get(key)
        if kept is not None and kept[0].kept_until <= now:
            self._drop(key)
            kept = None
        if kept is None:
            self.misses.inc()
            return None
        self._kept.move_to_end(key)
        self.hits.inc()
        return kept[0]

    def put(self, key: Hashable, answer: RenderedAnswer) -> None:
        """Keep an entry (its gzip copy made now when it will be needed), within bounds."""
        if self.gzip_min_bytes and len(answer.body) >= self.gzip_min_bytes:
            answer.gzipped()
        if answer.size > self.max_bytes:
            return
        if key in self._kept:
            self._drop(key)
        self._kept[key] = (answer, answer.size)
        self._bytes += answer.size
        while len(self._kept) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._kept)))

    def _drop(self, key: Hashable) -> None:
        self._bytes -= self._kept.pop(key)[1]

    def respond(self, answer: RenderedAnswer, if_none_match: str | None) -> RenderedResponse:
        """The answer, or 304 when ``If-None-Match`` names its tag."""
        if if_none_match is not None and none_match(if_none_match, answer.etag):
            self.not_modified.inc()
            return RenderedResponse(answer, not_modified=True)
        return RenderedResponse(answer)

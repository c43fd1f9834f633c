"""Per-request bookkeeping: who called, what it cost upstream, what to log."""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass, field
from typing import Final

from aiohttp import web

from proxy.keys import Principal

_REQUEST_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,128}")


@dataclass(slots=True)
class RequestContext:
    request_id: str
    started: float = field(default_factory=time.perf_counter)
    principal: Principal | None = None
    route: str = ""
    upstream_calls: int = 0
    cache_hit: bool = False
    rate_limit_wait: float = 0.0
    unknown_fields: list[str] = field(default_factory=list)
    query: list[tuple[str, str]] | None = None  # the declared query, once checked
    # What the answer was made from (``proxy.calls`` counts it): v2 answers the read cache
    # holds (served from it, or just put in it) and until when it holds them all; any
    # other v2 call. An answer made only of held reads may be kept rendered (proxy.rendered).
    held_reads: int = 0
    held_until: float = float("inf")
    unheld_calls: int = 0

    @property
    def label(self) -> str:
        return self.principal.label if self.principal else "-"

    def made_from(self, kept_until: float | None) -> None:
        """Count one v2 answer the request's answer is made from."""
        if kept_until is None:
            self.unheld_calls += 1
        else:
            self.held_reads += 1
            self.held_until = min(self.held_until, kept_until)

    @property
    def only_held_reads(self) -> bool:
        """Whether the answer was made from v2 answers the read cache holds, and nothing
        else v2 said."""
        return self.held_reads > 0 and self.unheld_calls == 0


CONTEXT_KEY: Final = web.RequestKey("homerun_bridge.context", RequestContext)


_UUID4_CLEAR: Final = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET: Final = (0x4000 << 64) | (0x8000 << 48)


class _RandomPool:
    """Bytes from ``os.urandom`` drawn a page at a time: one system call per 256 request
    ids rather than one each (a system call is dear on a busy VM). A forked child (a
    worker) starts with an empty pool, so no two processes hand out the same bytes."""

    __slots__ = ("_at", "_page")
    PAGE: Final = 4096

    def __init__(self) -> None:
        self._page = b""
        self._at = 0

    def take16(self) -> bytes:
        at = self._at
        if at + 16 > len(self._page):
            self._page, at = os.urandom(self.PAGE), 0
        self._at = at + 16
        return self._page[at : at + 16]

    def clear(self) -> None:
        self._page, self._at = b"", 0


_random: Final = _RandomPool()
os.register_at_fork(after_in_child=_random.clear)


def new_request_id() -> str:
    """``uuid.uuid4().hex``, without building a ``UUID`` object: 122 random bits, the
    version (4) and variant (RFC 4122) bits set, as 32 lowercase hex digits."""
    bits = int.from_bytes(_random.take16(), "big")
    return f"{bits & _UUID4_CLEAR | _UUID4_SET:032x}"


def request_id_for(request: web.Request) -> str:
    """The client's ``X-Request-Id`` when it is a sane token, else a fresh one."""
    offered = request.headers.get("X-Request-Id")
    if offered and _REQUEST_ID.fullmatch(offered):
        return offered
    return new_request_id()


def context_of(request: web.Request) -> RequestContext:
    ctx = request.get(CONTEXT_KEY)
    if ctx is None:
        ctx = RequestContext(request_id_for(request))
        request[CONTEXT_KEY] = ctx
    return ctx

"""Per-request bookkeeping: who called, what it cost upstream, what to log."""

from __future__ import annotations

import re
import time
import uuid
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

    @property
    def label(self) -> str:
        return self.principal.label if self.principal else "-"


CONTEXT_KEY: Final = web.RequestKey("homerun_bridge.context", RequestContext)


def request_id_for(request: web.Request) -> str:
    """The client's ``X-Request-Id`` when it is a sane token, else a fresh one."""
    offered = request.headers.get("X-Request-Id", "")
    return offered if _REQUEST_ID.fullmatch(offered) else uuid.uuid4().hex


def context_of(request: web.Request) -> RequestContext:
    ctx = request.get(CONTEXT_KEY)
    if ctx is None:
        ctx = RequestContext(request_id_for(request))
        request[CONTEXT_KEY] = ctx
    return ctx

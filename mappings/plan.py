"""What the core asks the shell to do: one planned API v2 call.

A route in ``proxy`` turns a v1 request into one or more :class:`V2Request` with the
functions of this package, executes them, and hands the answers back. The request
carries what the shell needs to explain a failure in v1 terms: the v1 parameter name
behind every v2 body field (for 400 errors that name what the client sent).

The v2 scopes an endpoint needs are declared once, in its row of
``mappings.v1_endpoints``, and nowhere else: a 403 names them from there (``proxy.app``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Final

SCOPE_VACANCIES_READ: Final = "vacancies:read"
SCOPE_APPLICATIONS_READ: Final = "job-applications:read"
SCOPE_APPLICATIONS_WRITE: Final = "job-applications:write"
SCOPE_NOTES_READ: Final = "job-application-notes:read"
SCOPE_NOTES_WRITE: Final = "job-application-notes:write"
SCOPE_FILES_WRITE: Final = "job-application-files:write"

_EMPTY: Mapping[str, str] = MappingProxyType({})

Query = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class V2Request:
    """One call to API v2, described without performing it."""

    method: str
    path: str
    query: Query = ()
    json: Mapping[str, Any] | None = None
    v1_params: Mapping[str, str] = field(default_factory=lambda: _EMPTY)

    @property
    def is_idempotent(self) -> bool:
        """GET, DELETE and PATCH (same body, same result) may be retried; POST never."""
        return self.method in ("GET", "HEAD", "DELETE", "PATCH")

    @property
    def cache_key(self) -> str:
        """A stable text naming this call (method, path and query), for caches and logs."""
        query = "&".join(f"{k}={v}" for k, v in self.query)
        return f"{self.method} {self.path}?{query}"

"""Settings of one sandbox instance: API keys, seed, limits and switches.

Everything the simulator can be told lives in `SandboxConfig`, validated once when it is built
so that a bad setting fails at start-up rather than at the first request.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from urllib.parse import urlsplit

# The six scopes an API v2 key can carry (spec §2.2). `GET /ping` needs none of them.
ALL_SCOPES: frozenset[str] = frozenset(
    {
        "vacancies:read",
        "job-applications:read",
        "job-applications:write",
        "job-application-notes:read",
        "job-application-notes:write",
        "job-application-files:write",
    }
)

# Called once per /v2 response: (method, path, route_template, status, headers, body).
# route_template is relative to /v2, e.g. "/job-applications/{job_application_id}", and is
# "" when the path matches no API route.
ResponseObserver = Callable[[str, str, str, int, Mapping[str, str], bytes], None]

ISO_UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class KeySpec:
    """What one API key may do: its scopes, and whether its account's plan includes the API."""

    scopes: frozenset[str]
    has_api_plan: bool = True

    def __post_init__(self) -> None:
        scopes = frozenset(self.scopes)
        unknown = scopes - ALL_SCOPES
        if unknown:
            raise ValueError(f"unknown scope(s) {sorted(unknown)}; known: {sorted(ALL_SCOPES)}")
        object.__setattr__(self, "scopes", scopes)

    @classmethod
    def with_scopes(cls, scopes: Iterable[str], *, has_api_plan: bool = True) -> KeySpec:
        return cls(scopes=frozenset(scopes), has_api_plan=has_api_plan)


DEMO_KEYS: Mapping[str, KeySpec] = MappingProxyType(
    {
        "demo-v2-key": KeySpec(ALL_SCOPES),
        "demo-readonly-v2-key": KeySpec(
            frozenset({"vacancies:read", "job-applications:read", "job-application-notes:read"})
        ),
        # A valid key on an account whose plan lacks API access: every call answers 402.
        "demo-noplan-v2-key": KeySpec(ALL_SCOPES, has_api_plan=False),
        # Can read and write applications but not notes, for the 403-on-notes cases.
        "demo-nonotes-v2-key": KeySpec(
            frozenset({"vacancies:read", "job-applications:read", "job-applications:write"})
        ),
    }
)


@dataclass(frozen=True)
class SandboxConfig:
    """How one sandbox behaves. Frozen: build a new one to change a setting."""

    seed: int = 1
    # Requests per key per fixed 60-second window; None switches the limiter off.
    rate_limit_per_minute: int | None = 60
    faults_enabled: bool = False
    keys: Mapping[str, KeySpec] = field(default_factory=lambda: DEMO_KEYS)
    # Scheme and host used in pagination URLs, photo URLs and temporary download URLs.
    # None derives them from each request (its scheme and Host header).
    public_base_url: str | None = None
    file_url_ttl_seconds: int = 300
    max_file_bytes: int = 25 * 1024 * 1024
    max_photo_bytes: int = 5 * 1024 * 1024
    rate_limit_message: str = "Too Many Attempts."
    # strftime pattern of every date-time field; the spec leaves the exact rendering open.
    datetime_format: str = ISO_UTC_FORMAT
    # Thin every 2xx answer to what the spec guarantees (sandbox.sparse), seeded by
    # sparse_seed (None: the same as `seed`) so that a run repeats.
    sparse: bool = False
    sparse_seed: int | None = None
    on_response: ResponseObserver | None = field(default=None, compare=False)
    # Seconds since the epoch; tests swap it to step over rate-limit windows and URL expiry.
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def __post_init__(self) -> None:
        if isinstance(self.seed, bool) or not isinstance(self.seed, int):
            raise ValueError(f"seed must be an integer, got {self.seed!r}")
        if self.sparse_seed is not None and (
            isinstance(self.sparse_seed, bool) or not isinstance(self.sparse_seed, int)
        ):
            raise ValueError(f"sparse_seed must be None or an integer, got {self.sparse_seed!r}")
        limit = self.rate_limit_per_minute
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or limit < 1
        ):
            raise ValueError(f"rate_limit_per_minute must be None or >= 1, got {limit!r}")
        if not self.keys:
            raise ValueError("keys must hold at least one API key")
        for key, spec in self.keys.items():
            if not isinstance(key, str) or not key:
                raise ValueError(f"API keys must be non-empty strings, got {key!r}")
            if not isinstance(spec, KeySpec):
                raise ValueError(f"keys[{key!r}] must be a KeySpec, got {type(spec).__name__}")
        object.__setattr__(self, "keys", MappingProxyType(dict(self.keys)))
        for name in ("file_url_ttl_seconds", "max_file_bytes", "max_photo_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be an integer >= 1, got {value!r}")
        if self.public_base_url is not None:
            parts = urlsplit(self.public_base_url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ValueError(
                    "public_base_url must look like http://host[:port], "
                    f"got {self.public_base_url!r}"
                )
            object.__setattr__(self, "public_base_url", self.public_base_url.rstrip("/"))

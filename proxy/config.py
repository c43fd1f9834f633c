"""Settings: declared with types, validated once at start-up.

Sources, strongest first: ``HOMERUN_BRIDGE_*`` environment variables, then a TOML
file (``--config`` or ``HOMERUN_BRIDGE_CONFIG``), then defaults. A bad setting is a
clear message naming the field at start-up (:class:`ConfigError`), never a crash at
the first request. v2 keys are never written in the file: each key-map entry names
the environment variable or the file that holds its v2 key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from proxy.origins import allowed_origins, origin_list

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


class ConfigError(Exception):
    """A setting is wrong; the message names it."""


class KeyEntry(BaseModel):
    """One integration: its v1 key (as a SHA-256 digest) and where its v2 key lives."""

    model_config = ConfigDict(extra="forbid")

    label: str = Field(min_length=1, max_length=64, description="Name of the integration.")
    v1_key_sha256: str = Field(description="SHA-256 hex digest of the v1 key (hash-key).")
    v2_key_env: str | None = Field(None, description="Environment variable holding the v2 key.")
    v2_key_file: Path | None = Field(None, description="File holding the v2 key.")

    @field_validator("v1_key_sha256")
    @classmethod
    def _digest(cls, value: str) -> str:
        value = value.strip().lower()
        if not _SHA256_HEX.fullmatch(value):
            raise ValueError("must be 64 hexadecimal characters (see `homerun-bridge hash-key`)")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> KeyEntry:
        if (self.v2_key_env is None) == (self.v2_key_file is None):
            raise ValueError("give exactly one of v2_key_env or v2_key_file")
        return self


class BridgeSettings(BaseSettings):
    """Everything an operator can set."""

    model_config = SettingsConfigDict(
        env_prefix="HOMERUN_BRIDGE_", env_nested_delimiter="__", extra="forbid"
    )

    host: str = Field("127.0.0.1", description="Address to listen on.")
    port: int = Field(8080, ge=1, le=65535, description="Port to listen on.")
    upstream_url: str = Field(
        "https://api.homerun.co/v2", description="Base URL of Homerun API v2."
    )
    upstream_timeout_seconds: float = Field(
        15.0, gt=0, le=300, description="Time an upstream call may take before a v1 504."
    )
    upstream_connections: int = Field(
        32, ge=1, le=1000, description="Open connections kept to API v2."
    )
    upstream_retries: int = Field(
        2, ge=0, le=10, description="Retries of idempotent calls on 5xx, timeouts, drops."
    )
    rate_limit_per_minute: int = Field(
        60, ge=0, description="API v2 budget per key and minute, shared by replicas; 0 = off."
    )
    rate_limit_burst: int = Field(
        10, ge=1, description="Calls allowed back to back before pacing starts."
    )
    store_timeout_seconds: float = Field(
        0.5,
        gt=0,
        le=30,
        description="Longest one shared-store operation may take before the store counts as "
        "down; while it is down the bridge serves without it (see store_outage_share).",
    )
    store_outage_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="While the shared store is unreachable each replica paces its v2 calls "
        "locally at this share of the budget: set it to 1/N for N replicas sharing a key "
        "(a replica's workers split its share between them).",
    )
    rate_limit_deadline_seconds: float = Field(
        20.0, ge=0, description="Longest a request waits for budget before a v1 429."
    )
    cache_ttl_seconds: float = Field(
        60.0, ge=0, description="How long vacancy reads are cached; 0 = off."
    )
    key_mode: Literal["mapped", "passthrough"] = Field(
        "mapped",
        description="mapped: v1 keys resolve through `keys`; passthrough: the v1 key is "
        "sent to v2 as the Bearer key unchanged.",
    )
    keys: list[KeyEntry] = Field(default_factory=list, description="The key map.")
    sunset: datetime | None = Field(
        None, description="The bridge's own retirement date, sent as the Sunset header."
    )
    store_url: str = Field(
        "memory://", description="memory:// (one process) or redis://host:port/db."
    )
    store_prefix: str = Field(
        "homerun-bridge:", min_length=1, description="Prefix of every key in a shared Redis."
    )
    draft_ttl_seconds: int = Field(
        30 * 24 * 3600, ge=60, description="How long a candidate draft is kept."
    )
    readiness_evidence_seconds: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="/readyz takes a v2 answer this recent (to any call) as the upstream being "
        "up instead of pinging it, since each ping spends the v2 budget; after a failed call "
        "it always pings. 0 = ping on every probe.",
    )
    readiness_key_label: str | None = Field(
        None, description="Key-map label whose v2 key /readyz pings with (default: first)."
    )
    default_note_author: str = Field(
        "API v1", min_length=1, description="v2 display_name for notes sent without a name."
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, description="Largest non-upload request body accepted."
    )
    client_body_timeout_seconds: float = Field(
        30.0,
        gt=0,
        le=600,
        description="Longest a client may take to send a request body (an upload: the "
        "longest pause between two pieces of it) before a v1 400.",
    )
    shutdown_grace_seconds: float = Field(
        10.0,
        ge=0,
        le=300,
        description="On SIGTERM, requests in flight get this long to finish; any still "
        "running then is answered 503 (writes already sent are awaited) and the process "
        "exits within this bound plus one second.",
    )
    max_client_connections: int = Field(
        1000,
        ge=1,
        le=1_000_000,
        description="Concurrent client connections served; one more is answered a v1 503 "
        "at once and closed.",
    )
    max_upstream_body_bytes: int = Field(
        8 * 1024 * 1024,
        ge=64 * 1024,
        description="Largest answer read from API v2 (a 100-item page is well under 1 MiB); "
        "a larger one is abandoned and answered 502.",
    )
    upstream_pool_wait_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="Longest a request waits for a free connection to API v2 before a v1 "
        "503 with Retry-After; nothing has been sent upstream then.",
    )
    idle_timeout_seconds: float = Field(
        75.0,
        gt=0,
        le=3600,
        description="An idle keep-alive connection, or one that has not sent its request "
        "headers, is closed after this long. Keep it above a load balancer's idle timeout.",
    )
    cors_allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Origins whose browsers may call /v1 (careers-site widgets): each "
        "scheme://host[:port], or * for any; empty = CORS off. In the environment a JSON "
        "list or comma-separated.",
    )
    gzip_min_bytes: int = Field(
        1024,
        ge=0,
        description="v1 answers of at least this many bytes are gzip-compressed when the "
        "client's Accept-Encoding allows it; 0 = off.",
    )
    cursor_ttl_seconds: float = Field(
        1800,
        gt=0,
        description="How long the bridge remembers where the ids it listed stood, so that "
        "starting_after / ending_before can place them (the paging session).",
    )
    rendered_answers: int = Field(
        2048,
        ge=0,
        description="How many v1 answers rendered from cached v2 answers are kept as bytes "
        "(per process; 0 = off). Each lives no longer than the v2 answer it was made from.",
    )
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Server processes sharing the port (SO_REUSEPORT). More than 1 needs "
        "the Redis store (store_url), which shares the budget between them.",
    )
    gzip_level: int = Field(
        1,
        ge=1,
        le=9,
        description="zlib level of the gzip the bridge does in the request's turn (answers "
        "up to 256 KiB; larger ones go to aiohttp's thread at zlib's default): 1 is about "
        "three times faster than 6 for answers about 10 % larger.",
    )
    admin_token_env: str | None = Field(
        None,
        description="Environment variable holding the admin token for the dashboard "
        "(GET /_bridge/), its exports and GET /_bridge/report.",
    )
    usage_record_addresses: bool = Field(
        True,
        description="The retirement dashboard lists the top client addresses of each "
        "integration; false = addresses are never recorded.",
    )
    usage_trust_forwarded_for: bool = Field(
        False,
        description="The bridge is behind a reverse proxy: a client's address is the first "
        "X-Forwarded-For hop (a valid IP) instead of the connection's peer.",
    )
    retirement_quiet_days: int = Field(
        30,
        ge=1,
        description="An integration that has not called for this many days is retired-ready "
        "on the dashboard (GET /_bridge/) and in the report.",
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        "info", description="debug adds one line per upstream call."
    )
    log_format: Literal["auto", "json", "console"] = Field(
        "auto", description="auto: console on a terminal, JSON otherwise."
    )

    @field_validator("sunset")
    @classmethod
    def _sunset_in_utc(cls, value: datetime | None) -> datetime | None:
        # The Sunset header is an HTTP-date, always in GMT; a date without an offset is UTC.
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_validator("cors_allowed_origins", mode="before")
    @classmethod
    def _origins_from_text(cls, value: object) -> object:
        return origin_list(value)

    @field_validator("cors_allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        return allowed_origins(value)

    @field_validator("upstream_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _burst_within_budget(self) -> BridgeSettings:
        if self.rate_limit_per_minute and self.rate_limit_burst > self.rate_limit_per_minute:
            raise ValueError("rate_limit_burst cannot exceed rate_limit_per_minute")
        return self

    @model_validator(mode="after")
    def _workers_share_a_store(self) -> BridgeSettings:
        if self.workers > 1 and not self.store_url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError(
                f"workers = {self.workers} needs the Redis store: with the memory store each "
                "process would spend the whole v2 budget on its own (set store_url to a "
                "redis:// URL, or workers = 1)"
            )
        return self

    @model_validator(mode="after")
    def _unique_labels(self) -> BridgeSettings:
        labels = [k.label for k in self.keys]
        duplicates = sorted({label for label in labels if labels.count(label) > 1})
        if duplicates:
            raise ValueError(f"duplicate key label(s): {', '.join(duplicates)}")
        digests = [k.v1_key_sha256 for k in self.keys]
        if len(set(digests)) != len(digests):
            raise ValueError("two key-map entries have the same v1_key_sha256")
        return self


def _describe(error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "settings"
        message = item["msg"].removeprefix("Value error, ")
        lines.append(f"{where}: {message}")
    return "; ".join(lines)


def load_settings(
    config_file: Path | None = None, overrides: Mapping[str, Any] | None = None
) -> BridgeSettings:
    """Settings from ``overrides``, then the environment, then the TOML file, then defaults."""
    env_path = os.environ.get("HOMERUN_BRIDGE_CONFIG")
    path = config_file or (Path(env_path) if env_path else None)
    if path is not None:
        try:
            tomllib.loads(path.read_text(encoding="utf-8"))
        except OSError as exc:
            raise ConfigError(f"config file {path}: cannot read it ({exc.strerror})") from exc
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {path}: not valid TOML ({exc})") from exc

    class _Loaded(BridgeSettings):
        @classmethod
        def settings_customise_sources(
            cls,
            settings_cls: type[BaseSettings],
            init_settings: PydanticBaseSettingsSource,
            env_settings: PydanticBaseSettingsSource,
            dotenv_settings: PydanticBaseSettingsSource,
            file_secret_settings: PydanticBaseSettingsSource,
        ) -> tuple[PydanticBaseSettingsSource, ...]:
            if path is None:
                return (init_settings, env_settings)
            return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls, path))

    try:
        return _Loaded(**dict(overrides or {}))
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc

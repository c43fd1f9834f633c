"""The key map: which v1 key stands for which v2 key, and for which integration.

v1 keys are held only as SHA-256 digests. A presented key is hashed and compared with
every entry in constant time (``hmac.compare_digest``, all entries, no early exit), so
neither the answer nor its timing tells how close a guess was. In ``passthrough`` mode
the presented key is the v2 key.

A v2 key that v2 rejected (401) is remembered for a while, also by digest only
(``RejectedKeys``): a stream of requests with a bad passthrough key costs one v2 call
per key and interval, not one each, and is logged once per key and interval.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from proxy.config import BridgeSettings, ConfigError


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: the integration's label and the v2 key to call with."""

    label: str
    v2_key: str

    def __repr__(self) -> str:  # never print the key
        return f"Principal(label={self.label!r})"


@dataclass(frozen=True, slots=True)
class _Entry:
    label: str
    digest: bytes
    v2_key: str


def hash_key(v1_key: str) -> str:
    """The digest an operator puts in the config for a v1 key."""
    return hashlib.sha256(v1_key.encode()).hexdigest()


def presented_key(authorization: str | None) -> str | None:
    """The v1 key in an ``Authorization`` header: Basic ``key:`` (password ignored,
    bare ``key`` accepted) or Bearer ``key``. ``None`` when absent or unreadable."""
    if not authorization:
        return None
    scheme, _, credentials = authorization.strip().partition(" ")
    credentials = credentials.strip()
    if not credentials:
        return None
    if scheme.lower() == "bearer":
        return credentials if _usable(credentials) else None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
        except ValueError:  # binascii.Error, UnicodeDecodeError, non-ASCII input
            return None
        username = decoded.partition(":")[0]
        return username if username and _usable(username) else None
    return None


def _usable(key: str) -> bool:
    """No key holds control characters (CR, LF, NUL...: a passthrough key becomes an
    upstream header) or lone surrogates (header bytes that were not UTF-8)."""
    try:
        key.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return key.isprintable()


class KeyMap:
    """Resolves presented v1 keys to principals."""

    def __init__(self, mode: Literal["mapped", "passthrough"], entries: list[_Entry]) -> None:
        self.mode = mode
        self._entries = entries

    @property
    def labels(self) -> list[str]:
        return [e.label for e in self._entries]

    def v2_key_for_label(self, label: str) -> str | None:
        for entry in self._entries:
            if entry.label == label:
                return entry.v2_key
        return None

    def resolve(self, v1_key: str | None) -> Principal | None:
        if not v1_key:
            return None
        if self.mode == "passthrough":
            return Principal("passthrough", v1_key)
        digest = hashlib.sha256(v1_key.encode("utf-8", "surrogatepass")).digest()
        found: _Entry | None = None
        for entry in self._entries:
            if hmac.compare_digest(entry.digest, digest) and found is None:
                found = entry
        return Principal(found.label, found.v2_key) if found else None


class RejectedKeys:
    """v2 keys that v2 answered 401 to, by SHA-256 digest, each for ``seconds``.

    Bounded: past ``max_keys`` the oldest entry is forgotten first (a flood of random
    keys then costs v2 calls again, but never the bridge's memory).
    """

    def __init__(
        self,
        seconds: float,
        *,
        max_keys: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.max_keys = max_keys
        self._clock = clock
        self._until: dict[bytes, float] = {}

    @staticmethod
    def _digest(v2_key: str) -> bytes:
        return hashlib.sha256(v2_key.encode("utf-8", "surrogatepass")).digest()

    def holds(self, v2_key: str) -> bool:
        """Whether v2 rejected this key less than ``seconds`` ago."""
        if not self._until:  # the common case: no bad key seen, nothing to hash
            return False
        digest = self._digest(v2_key)
        until = self._until.get(digest)
        if until is None:
            return False
        if until <= self._clock():
            del self._until[digest]
            return False
        return True

    def remember(self, v2_key: str) -> bool:
        """Remember a rejected key; ``True`` when it was not remembered already (then
        the rejection is worth a log line)."""
        if self.seconds <= 0:
            return True
        now = self._clock()
        digest = self._digest(v2_key)
        until = self._until.pop(digest, None)
        fresh = until is None or until <= now
        self._until[digest] = now + self.seconds  # re-inserted: the newest entry
        while len(self._until) > self.max_keys:
            del self._until[next(iter(self._until))]
        return fresh


def _read_v2_key(label: str, env: str | None, file: os.PathLike[str] | None) -> str:
    if env is not None:
        value = os.environ.get(env, "").strip()
        if not value:
            raise ConfigError(
                f"keys[{label}].v2_key_env: environment variable {env} is not set or empty"
            )
        return value
    assert file is not None
    try:
        with open(file, encoding="utf-8") as handle:
            value = handle.read().strip()
    except OSError as exc:
        raise ConfigError(
            f"keys[{label}].v2_key_file: cannot read {os.fspath(file)} ({exc.strerror})"
        ) from exc
    if not value:
        raise ConfigError(f"keys[{label}].v2_key_file: {os.fspath(file)} is empty")
    return value


def build_key_map(settings: BridgeSettings) -> KeyMap:
    """Read every v2 key now, so a missing one stops start-up with its label named."""
    entries = [
        _Entry(
            entry.label,
            bytes.fromhex(entry.v1_key_sha256),
            _read_v2_key(entry.label, entry.v2_key_env, entry.v2_key_file),
        )
        for entry in settings.keys
    ]
    if settings.key_mode == "mapped" and not entries:
        raise ConfigError("keys: the key map is empty; add an entry or use key_mode = passthrough")
    return KeyMap(settings.key_mode, entries)

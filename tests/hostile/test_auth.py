"""Hostile credentials: garbled Authorization headers, near-miss keys, timing.

Every unusable credential is a v1 401 with the Basic challenge and no upstream call,
never a 500: before this suite, a non-UTF-8 ``Authorization`` value crashed the key
lookup (500), and in passthrough mode a Basic username holding CR/LF or NUL reached the
upstream client as a header value (500).
"""

from __future__ import annotations

import base64
import hmac
import statistics
import time
from collections.abc import Callable
from typing import Any

import pytest

from proxy.keys import KeyMap, _Entry, hash_key
from tests.hostile.support import (
    BASIC,
    V1_KEY,
    Target,
    assert_healthy,
    assert_refused_by_aiohttp,
    assert_v1_error,
    exchange,
    request_bytes,
    upstream_requests,
)
from tests.proxy.conftest import Harness


def _basic(raw: bytes) -> bytes:
    return b"Basic " + base64.b64encode(raw)


GARBLED = {
    "empty": b"",
    "only spaces": b"   ",
    "Basic alone": b"Basic",
    "Basic and a space": b"Basic ",
    "Bearer alone": b"Bearer",
    "bad base64": b"Basic !!!notbase64",
    "base64 without padding": b"Basic " + base64.b64encode(b"demo-v1-key:")[:-2],
    "base64 of non-UTF-8": _basic(b"\xff\xfe\xfd:"),
    "raw non-UTF-8 after Basic": b"Basic \xff\xfe",
    "raw non-UTF-8 after Bearer": b"Bearer \xff\xfe\xfd",
    "raw Latin-1 key": b"Bearer demo-v1-k\xe9y",
    "empty username": _basic(b":password"),
    "username with CRLF": _basic(b"demo-v1-key\r\nX-Evil: 1:"),
    "username with NUL": _basic(b"demo-v1-key\x00:"),
    "the key without a scheme": V1_KEY.encode(),
    "Digest": b'Digest username="demo-v1-key"',
    "two schemes": b"Basic " + base64.b64encode(b"x:") + b", Bearer demo-v1-key",
    "huge Bearer": b"Bearer " + b"k" * 8000,
    "huge Basic": _basic(b"k" * 5000 + b":"),
    "a v2 key": b"Bearer demo-v2-key",
    "the key's digest": b"Bearer " + hash_key(V1_KEY).encode(),
}


@pytest.mark.parametrize("value", GARBLED.values(), ids=GARBLED.keys())
async def test_garbled_authorization_is_401(harness: Harness, value: bytes) -> None:
    target = Target.of(harness)
    before = await upstream_requests(harness)
    raw = request_bytes(
        "GET", "/v1/jobs", auth=None, raw_headers=b"Authorization: " + value + b"\r\n"
    )
    response = await exchange(target, raw)
    body = assert_v1_error(response, 401)
    assert response.header("WWW-Authenticate") == 'Basic realm="Homerun API v1"'
    assert response.header("X-Upstream-Calls") == "0"
    assert "key" in body["message"]
    assert await upstream_requests(harness) == before
    await assert_healthy(target)


async def test_an_authorization_line_over_aiohttps_limit_is_refused_by_aiohttp(
    harness: Harness,
) -> None:
    """Over 8190 bytes the header line never reaches the bridge: aiohttp's plain 400."""
    target = Target.of(harness)
    raw = request_bytes(
        "GET", "/v1/jobs", auth=None, raw_headers=b"Authorization: Bearer " + b"k" * 9000 + b"\r\n"
    )
    assert_refused_by_aiohttp(await exchange(target, raw))
    await assert_healthy(target)


def _near_misses(key: str) -> list[str]:
    """The key with one character changed, dropped or added, at every position."""
    misses = set()
    for i, char in enumerate(key):
        misses.add(key[:i] + ("x" if char != "x" else "y") + key[i + 1 :])
        misses.add(key[:i] + key[i + 1 :])
        misses.add(key[:i] + char.swapcase() + key[i + 1 :])
    misses.update({key + "-", "-" + key, key.upper()})
    misses.discard(key)
    return sorted(misses)


async def test_a_key_one_character_off_is_401(harness: Harness) -> None:
    target = Target.of(harness)
    for miss in _near_misses(V1_KEY):
        for auth in ("Basic " + base64.b64encode(f"{miss}:".encode()).decode(), "Bearer " + miss):
            response = await exchange(target, request_bytes("GET", "/v1/jobs", auth=auth))
            assert_v1_error(response, 401)
    response = await exchange(target, request_bytes("GET", "/v1/jobs?per_page=1", auth=BASIC))
    assert response.status == 200


async def test_passthrough_never_forwards_an_unusable_key(make_harness: Callable[..., Any]) -> None:
    harness = await make_harness(key_mode="passthrough", keys=[])
    target = Target.of(harness)
    before = await upstream_requests(harness)
    for raw in (
        b"demo-v2-key\r\nX-Evil: 1:",
        b"demo-v2-key\nX-Evil: 1:",
        b"demo-v2-key\x00:",
        b"demo\x7f-v2-key:",
    ):
        value = b"Authorization: " + _basic(raw) + b"\r\n"
        response = await exchange(
            target, request_bytes("GET", "/v1/jobs", auth=None, raw_headers=value)
        )
        assert_v1_error(response, 401)
        assert response.header("X-Upstream-Calls") == "0"
    assert await upstream_requests(harness) == before
    ok = await exchange(
        target, request_bytes("GET", "/v1/jobs?per_page=1", auth="Bearer demo-v2-key")
    )
    assert ok.status == 200


async def test_bearer_with_a_control_character_is_refused_by_aiohttp(harness: Harness) -> None:
    target = Target.of(harness)
    raw = request_bytes(
        "GET", "/v1/jobs", auth=None, raw_headers=b"Authorization: Bearer a\x01b\r\n"
    )
    assert_refused_by_aiohttp(await exchange(target, raw))


# --- constant-time resolution -------------------------------------------------------------


def _key_map(keys: list[str]) -> KeyMap:
    entries = [
        _Entry(f"label-{i}", bytes.fromhex(hash_key(k)), f"v2-{i}") for i, k in enumerate(keys)
    ]
    return KeyMap("mapped", entries)


KEYS = [f"integration-key-{i:02d}-{'q' * 20}" for i in range(8)]


def test_every_entry_is_compared_with_compare_digest_whatever_matches(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No early exit: the same number of constant-time comparisons for the first entry,
    the last entry, a near miss and a far miss."""
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def counting(a: Any, b: Any) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr("proxy.keys.hmac.compare_digest", counting)
    key_map = _key_map(KEYS)
    for presented, label in (
        (KEYS[0], "label-0"),
        (KEYS[-1], f"label-{len(KEYS) - 1}"),
        (KEYS[0][:-1] + "r", None),
        ("z" * len(KEYS[0]), None),
    ):
        calls.clear()
        principal = key_map.resolve(presented)
        assert (principal.label if principal else None) == label
        assert len(calls) == len(KEYS), presented
        assert all(len(a) == len(b) == 32 for a, b in calls), "digests, not the keys, compared"


def _mean_ns(key_map: KeyMap, key: str, repeat: int) -> float:
    started = time.perf_counter_ns()
    for _ in range(repeat):
        key_map.resolve(key)
    return (time.perf_counter_ns() - started) / repeat


def test_near_and_far_misses_take_the_same_time() -> None:
    """Statistical guard on ``KeyMap.resolve``: a guess one character (or ten leading
    characters) from a real key is not answered measurably sooner or later than a wholly
    wrong guess of the same length. Each round times all three back to back, in rotating
    order, and the test compares the median of the per-round ratios, which scheduler
    noise and CPU load shift alike; measured spread is under 5 %, the bound is 25 %."""
    key_map = _key_map(KEYS)
    near = KEYS[3][:-1] + "r"  # one character off the fourth entry
    far = "z" * len(near)
    prefix = KEYS[3][:10] + "z" * (len(near) - 10)
    guesses = [far, near, prefix]
    ratios: dict[str, list[float]] = {near: [], prefix: []}
    for round_ in range(60):
        order = guesses[round_ % 3 :] + guesses[: round_ % 3]
        took = {key: _mean_ns(key_map, key, 100) for key in order}
        for key in ratios:
            ratios[key].append(took[key] / took[far])
    for key, values in ratios.items():
        assert abs(statistics.median(values) - 1) < 0.25, (key, statistics.median(values))

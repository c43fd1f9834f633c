"""Cached v1 answers kept rendered (``proxy.rendered``): the same bytes and headers as a
fresh rendering, gone after a write or when the v2 cache entries they came from expire,
never served to another key, shared by HEAD, tagged (ETag, If-None-Match -> 304 with no
v2 call), bounded, off at 0, gzip from the kept copy; with the memory and the Redis store.

Real sockets: the bridge in front of the sandbox (``tests.proxy.conftest``); whether an
answer came from the memo is read from the bridge's own counters."""

from __future__ import annotations

import contextlib
import gzip
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson
import pytest
from multidict import CIMultiDict

from proxy import rendered
from proxy.cache import CACHE_KEY_PREFIX, Cached
from proxy.rendered import entity_tag, gzip_tag, none_match
from proxy.state import BRIDGE
from tests.proxy.conftest import FULL, READONLY, Harness
from tests.redis_support import REDIS_URL, redis_test_prefix

JOBS = "/v1/jobs"
# Headers that differ between any two answers, kept or not.
PER_REQUEST = {"date", "x-request-id"}
V1_HEADERS = ("Deprecation", "Link", "X-Request-Id", "X-Upstream-Calls")


@pytest.fixture(params=["memory", "redis"])
async def cached(
    request: pytest.FixtureRequest, make_harness: Callable[..., Any]
) -> AsyncIterator[Callable[..., Any]]:
    """A harness factory with the read cache on, over the memory store or the real Redis."""
    prefixes = redis_test_prefix() if request.param == "redis" else contextlib.nullcontext("")
    async with prefixes as prefix:

        async def build(**overrides: Any) -> Harness:
            store = {"store_url": REDIS_URL, "store_prefix": prefix} if prefix else {}
            settings = {"cache_ttl_seconds": 60, **store, **overrides}
            harness: Harness = await make_harness(**settings)
            return harness

        yield build


def _lookups(harness: Harness, outcome: str) -> float:
    registry = harness.bridge.app[BRIDGE].metrics.registry
    value = registry.get_sample_value("homerun_bridge_rendered_answers_total", {"outcome": outcome})
    return value or 0.0


def _not_modified(harness: Harness) -> float:
    registry = harness.bridge.app[BRIDGE].metrics.registry
    return registry.get_sample_value("homerun_bridge_not_modified_total") or 0.0


async def _vacancy_calls(harness: Harness) -> int:
    by_route = (await harness.stats())["requests_by_route"]
    return int(by_route.get("GET /v2/vacancies", 0)) + int(
        by_route.get("GET /v2/vacancies/{id}", 0)
    )


async def _read(
    harness: Harness, path: str, method: str = "GET", **kw: Any
) -> tuple[int, CIMultiDict[str], bytes]:
    async with harness.http.request(
        method, harness.url(path), auth=kw.pop("auth", FULL), **kw
    ) as r:
        return r.status, CIMultiDict(r.headers), await r.read()


async def _kept(harness: Harness, path: str = JOBS, **kw: Any) -> tuple[CIMultiDict[str], bytes]:
    """Read a path until its answer is kept (the first answer of a route only marks it),
    then once from the memo; the memo's answer."""
    for _ in range(2):
        status, _, _ = await _read(harness, path, **kw)
        assert status == 200
    hits = _lookups(harness, "hit")
    status, headers, body = await _read(harness, path, **kw)
    assert status == 200
    assert _lookups(harness, "hit") == hits + 1, "the third read is served from the memo"
    return headers, body


def _without(headers: CIMultiDict[str], names: set[str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items() if k.lower() not in names}


async def test_a_kept_answer_is_the_same_bytes_and_headers(cached: Callable[..., Any]) -> None:
    harness: Harness = await cached(
        sunset="2027-06-30T00:00:00Z", cors_allowed_origins=["https://careers.example.com"]
    )
    origin = {"Origin": "https://careers.example.com"}
    _, first_headers, _ = await _read(harness, JOBS, headers=origin)
    assert first_headers["X-Upstream-Calls"] == "1"
    misses = _lookups(harness, "miss")
    _, rendered_headers, rendered_body = await _read(harness, JOBS, headers=origin)
    assert _lookups(harness, "miss") == misses + 1  # from the v2 cache, rendered, kept
    calls = await _vacancy_calls(harness)
    kept_headers, kept_body = await _kept(harness, headers=origin)
    assert kept_body == rendered_body
    assert _without(kept_headers, PER_REQUEST) == _without(rendered_headers, PER_REQUEST)
    assert kept_headers["X-Upstream-Calls"] == "0"
    for name in (*V1_HEADERS, "Sunset", "Access-Control-Allow-Origin", "ETag"):
        assert name in kept_headers, name
    # aiohttp's client took gzip: the gzip copy's own strong tag (RFC 9110 §8.8.3).
    assert kept_headers["Content-Encoding"] == "gzip"
    assert kept_headers["ETag"] == gzip_tag(entity_tag(kept_body))
    assert kept_headers["Content-Type"] == "application/json; charset=utf-8"
    assert await _vacancy_calls(harness) == calls
    assert orjson.loads(kept_body)["total"] >= 12


async def test_a_write_drops_kept_answers(cached: Callable[..., Any]) -> None:
    harness: Harness = await cached()
    _, body = await _kept(harness)
    job = next(j for j in orjson.loads(body)["data"] if j["status"] == "open")
    person = {"first_name": "Memo", "last_name": "Buster", "email": "memo@example.com"}
    form = {"job": job["id"], **{f"candidate[{k}]": v for k, v in person.items()}}
    async with await harness.post("/v1/applications", data=form) as response:
        assert response.status == 201
    hits = _lookups(harness, "hit")
    status, headers, after = await _read(harness, JOBS)
    assert status == 200
    assert headers["X-Upstream-Calls"] == "1", "the generation changed: read from v2 again"
    assert _lookups(harness, "hit") == hits
    shown = {j["id"]: j for j in orjson.loads(after)["data"]}
    assert shown[job["id"]]["total_candidate_count"] == job["total_candidate_count"] + 1
    assert headers["ETag"] != gzip_tag(entity_tag(body)), "a changed answer has another ETag"


async def test_an_entry_lives_no_longer_than_its_v2_cache_entries(
    cached: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    harness: Harness = await cached()
    economy = harness.bridge.app[BRIDGE].upstream.economy
    stored: list[float] = []
    keep = economy._store.set

    async def spy(key: str, value: bytes, ttl_seconds: float) -> None:
        if key.startswith(CACHE_KEY_PREFIX):
            until = Cached.load(value).kept_until
            assert until is not None
            stored.append(until)
        await keep(key, value, ttl_seconds)

    monkeypatch.setattr(economy._store, "set", spy)
    await _kept(harness)
    memo = harness.bridge.app[BRIDGE].rendered
    ((entry, _),) = memo._kept.values()
    assert stored
    assert entry.kept_until <= min(stored)
    # Past that moment the entry is not served, and nothing made from the expired v2
    # entries is kept again.
    later = entry.kept_until + 1
    monkeypatch.setattr(rendered, "wall_clock", lambda: later)
    hits = _lookups(harness, "hit")
    status, _, _ = await _read(harness, JOBS)
    assert status == 200
    assert _lookups(harness, "hit") == hits
    assert len(memo) == 0


async def test_another_key_never_gets_a_kept_answer_of_a_key(cached: Callable[..., Any]) -> None:
    harness: Harness = await cached()
    await _kept(harness)
    hits = _lookups(harness, "hit")
    # Another v2 key: its own v2 call, never the entry of the first.
    status, headers, _ = await _read(harness, JOBS, auth=READONLY)
    assert status == 200
    assert headers["X-Upstream-Calls"] == "1"
    # A key whose v2 plan has no API access is refused, though the answer is kept for another.
    status, _, body = await _read(harness, JOBS, auth=aiohttp.BasicAuth("v1-noplan", ""))
    assert status == 403, body
    # An unknown v1 key is refused before any lookup.
    status, _, _ = await _read(harness, JOBS, auth=aiohttp.BasicAuth("no-such-v1-key", ""))
    assert status == 401
    assert _lookups(harness, "hit") == hits


async def test_head_shares_the_entry(cached: Callable[..., Any]) -> None:
    harness: Harness = await cached()
    headers, _ = await _kept(harness)
    hits = _lookups(harness, "hit")
    status, head_headers, head_body = await _read(harness, JOBS, method="HEAD")
    assert status == 200
    assert head_body == b""
    assert _lookups(harness, "hit") == hits + 1
    assert head_headers["ETag"] == headers["ETag"]
    assert int(head_headers["Content-Length"]) == int(headers["Content-Length"])
    assert head_headers["X-Upstream-Calls"] == "0"


@pytest.mark.parametrize("memo", [2048, 0])
async def test_if_none_match_is_answered_304_without_a_v2_call(
    cached: Callable[..., Any], memo: int
) -> None:
    harness: Harness = await cached(rendered_answers=memo)
    status, headers, body = await _read(harness, JOBS)
    assert status == 200
    etag = headers["ETag"]
    calls = await _vacancy_calls(harness)
    for offered in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        status, answered, empty = await _read(harness, JOBS, headers={"If-None-Match": offered})
        assert status == 304, offered
        assert empty == b""
        assert answered["ETag"] == etag
        assert answered["X-Upstream-Calls"] == "0"
        for name in V1_HEADERS:
            assert name in answered, name
    assert await _vacancy_calls(harness) == calls
    assert _not_modified(harness) == 4
    status, _, again = await _read(harness, JOBS, headers={"If-None-Match": '"other"'})
    assert status == 200
    assert again == body


async def test_the_bound_holds(cached: Callable[..., Any]) -> None:
    harness: Harness = await cached(rendered_answers=2)
    paths = [f"{JOBS}?per_page={n}" for n in (3, 4, 5)]
    await _read(harness, JOBS)  # marks the route
    for path in paths:
        status, _, _ = await _read(harness, path)
        assert status == 200
    memo = harness.bridge.app[BRIDGE].rendered
    assert len(memo) == 2
    hits = _lookups(harness, "hit")
    for path in paths[1:]:
        await _read(harness, path)
    assert _lookups(harness, "hit") == hits + 2
    await _read(harness, paths[0])  # the least recently used one was dropped
    assert _lookups(harness, "hit") == hits + 2
    assert len(memo) == 2


async def test_zero_keeps_nothing_but_still_tags(cached: Callable[..., Any]) -> None:
    harness: Harness = await cached(rendered_answers=0)
    answers = [await _read(harness, JOBS) for _ in range(4)]
    assert len(harness.bridge.app[BRIDGE].rendered) == 0
    assert _lookups(harness, "hit") == _lookups(harness, "miss") == 0
    assert len({a[1]["ETag"] for a in answers}) == 1
    assert answers[-1][1]["X-Upstream-Calls"] == "0"  # the read cache still serves


async def test_gzip_from_the_kept_copy(cached: Callable[..., Any]) -> None:
    harness: Harness = await cached()
    _, plain = await _kept(harness)
    hits = _lookups(harness, "hit")
    async with aiohttp.ClientSession(
        auto_decompress=False, skip_auto_headers=("Accept-Encoding",)
    ) as raw:
        async with raw.get(
            harness.url(JOBS), auth=FULL, headers={"Accept-Encoding": "gzip"}
        ) as response:
            zipped = await response.read()
            headers = response.headers
    assert _lookups(harness, "hit") == hits + 1
    assert headers["Content-Encoding"] == "gzip"
    assert int(headers["Content-Length"]) == len(zipped)
    assert "accept-encoding" in headers["Vary"].lower()
    assert gzip.decompress(zipped) == plain
    assert orjson.loads(gzip.decompress(zipped)) == orjson.loads(plain)


async def _raw_read(
    harness: Harness, method: str, accept_encoding: str, if_none_match: str | None = None
) -> tuple[int, CIMultiDict[str], bytes]:
    """``GET``/``HEAD /v1/jobs`` with exactly this Accept-Encoding, bytes as sent."""
    headers = {"Accept-Encoding": accept_encoding}
    if if_none_match is not None:
        headers["If-None-Match"] = if_none_match
    async with aiohttp.ClientSession(
        auto_decompress=False, skip_auto_headers=("Accept-Encoding",)
    ) as raw:
        async with raw.request(method, harness.url(JOBS), auth=FULL, headers=headers) as r:
            return r.status, CIMultiDict(r.headers), await r.read()


@pytest.mark.parametrize("memo", [2048, 0])
async def test_the_gzip_copy_has_its_own_strong_etag(cached: Callable[..., Any], memo: int) -> None:
    """RFC 9110 §8.8.3: a strong validator differs per content coding. Either tag gets a
    304 (one resource), carrying the tag of what the request would have got; HEAD
    says what GET does. Kept (memo on) or rendered anew (memo off) alike."""
    harness: Harness = await cached(rendered_answers=memo)
    tags: dict[str, str] = {}
    for _ in range(3):  # the third from the memo, when on
        for coding in ("identity", "gzip"):
            status, headers, body = await _raw_read(harness, "GET", coding)
            assert status == 200
            assert headers.get("Content-Encoding") == ("gzip" if coding == "gzip" else None)
            plain = gzip.decompress(body) if coding == "gzip" else body
            assert tags.setdefault(coding, headers["ETag"]) == headers["ETag"]
            _, head, head_body = await _raw_read(harness, "HEAD", coding)
            assert head_body == b""
            assert head["ETag"] == headers["ETag"]
            assert head["Content-Length"] == headers["Content-Length"]
    assert tags["identity"] == entity_tag(plain)
    assert tags["gzip"] == gzip_tag(tags["identity"]) != tags["identity"]
    calls = await _vacancy_calls(harness)
    for coding in ("identity", "gzip"):
        for offered in (*tags.values(), f"W/{tags['gzip']}", f'"other", {tags["identity"]}'):
            for method in ("GET", "HEAD"):
                status, headers, body = await _raw_read(harness, method, coding, offered)
                assert (status, body) == (304, b""), (coding, offered, method)
                assert headers["ETag"] == tags[coding], (coding, offered)
                assert "accept-encoding" in headers["Vary"].lower()
    assert await _vacancy_calls(harness) == calls
    status, _, _ = await _raw_read(harness, "GET", "gzip", f'"{tags["identity"][1:-1]}-br"')
    assert status == 200, "only the two forms this resource has"


async def test_answers_with_an_uncached_call_are_never_kept(cached: Callable[..., Any]) -> None:
    harness: Harness = await cached()
    for _ in range(3):
        status, headers, _ = await _read(harness, "/v1/applications?per_page=5")
        assert status == 200
        assert "ETag" not in headers
        assert headers["X-Upstream-Calls"] != "0"
    assert len(harness.bridge.app[BRIDGE].rendered) == 0


async def test_no_cache_refreshes_the_kept_answer(cached: Callable[..., Any]) -> None:
    harness: Harness = await cached()
    await _kept(harness)
    status, headers, _ = await _read(harness, JOBS, headers={"Cache-Control": "no-cache"})
    assert status == 200
    assert headers["X-Upstream-Calls"] == "1"
    hits = _lookups(harness, "hit")
    status, headers, _ = await _read(harness, JOBS)
    assert headers["X-Upstream-Calls"] == "0"
    assert _lookups(harness, "hit") == hits + 1


@pytest.mark.parametrize(
    ("offered", "matches"),
    [
        ('"a"', True),
        ('W/"a"', True),
        ('"b", W/"a"', True),
        ("*", True),
        (" * ", True),
        ('"b"', False),
        ('"ab"', False),
        ("a", False),
        ("", False),
        ('"a-gz"', True),
        ('W/"a-gz"', True),
        ('"b-gz"', False),
        ('"a-gzip"', False),
    ],
)
def test_if_none_match_compares_weakly(offered: str, matches: bool) -> None:
    """Either representation's tag names the answer (the identity body and its gzip copy)."""
    assert none_match(offered, '"a"') is matches


async def test_kept_answers_and_304s_count_as_usage(cached: Callable[..., Any]) -> None:
    harness: Harness = await cached()
    headers, _ = await _kept(harness)  # three reads, the last from the memo
    status, _, _ = await _read(harness, JOBS, headers={"If-None-Match": headers["ETag"]})
    assert status == 304
    bridge = harness.bridge.app[BRIDGE]
    assert await bridge.usage.flush()
    calls = await bridge.store.hgetall("usage:calls:careers-site")
    assert calls == {"GET /v1/jobs": "4"}
    statuses = await bridge.store.hgetall("usage:status:careers-site")
    assert statuses == {"GET /v1/jobs 2xx": "3", "GET /v1/jobs 3xx": "1"}

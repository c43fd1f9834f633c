"""The usage series in the store, against the MemoryStore and the real Redis alike: calls are
bucketed by UTC day whatever the local time zone, 400 days are kept and no more, the user
agents and addresses kept per label are bounded, addresses can be turned off, and replicas
sharing a store add up."""

from __future__ import annotations

import calendar
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import redis.asyncio as redis

from mappings.v1_endpoints import ENDPOINTS
from proxy.usage import (
    DAY_SECONDS,
    DISTINCT_CAP,
    OTHER,
    PENDING_SHAPES,
    SERIES_DAYS,
    TOP_SHOWN,
    UsageBook,
    client_address,
    migration_report,
    replacement_for,
    retirement_state,
    sparkline,
    utc_day,
)
from tests.dashboard.conftest import UsageStore
from tests.redis_support import REDIS_URL

JOBS = "GET /v1/jobs"
CREATE = "POST /v1/applications"


def _midnight(now: float) -> float:
    return (now // DAY_SECONDS) * DAY_SECONDS


@pytest.fixture
def far_time_zone() -> Iterator[None]:
    """Local time 14 hours ahead of UTC: a day bucketed by local time would be wrong."""
    previous = os.environ.get("TZ")
    os.environ["TZ"] = "Pacific/Kiritimati"
    time.tzset()
    yield
    if previous is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = previous
    time.tzset()


async def _report(usage_store: UsageStore, now: float, **kw: Any) -> dict[str, Any]:
    return await migration_report(usage_store.store, now=now, **kw)


def _integration(report: dict[str, Any], label: str) -> dict[str, Any]:
    found = [i for i in report["integrations"] if i["label"] == label]
    assert len(found) == 1, f"{label} not in the report"
    found_one: dict[str, Any] = found[0]
    return found_one


async def test_calls_are_bucketed_by_utc_day(usage_store: UsageStore, far_time_zone: None) -> None:
    now = time.time()
    boundary = _midnight(now) - DAY_SECONDS  # yesterday's midnight, UTC
    book = UsageBook(usage_store.store)
    book.record("careers", JOBS, [], status=200, now=boundary - 1)
    book.record("careers", JOBS, [], status=200, now=boundary + 1)
    book.record("careers", JOBS, [], status=200, now=boundary + 2)
    assert await book.flush()
    careers = _integration(await _report(usage_store, now), "careers")
    before, after = utc_day(boundary - 1), utc_day(boundary + 1)
    assert before != after and after == time.strftime("%Y-%m-%d", time.gmtime(boundary))
    assert careers["days"] == {before: 1, after: 2}
    (route,) = careers["routes"]
    assert route["days"] == {before: 1, after: 2}
    daily = careers["daily"]
    assert len(daily) == 90 and daily[-1]["day"] == utc_day(now)
    assert [d["calls"] for d in daily[-3:]] == [1, 2, 0]
    assert careers["first_seen"] == int(boundary - 1)
    assert careers["last_seen"] == int(boundary + 2)


async def test_four_hundred_days_are_kept_and_no_more(usage_store: UsageStore) -> None:
    now = time.time()
    book = UsageBook(usage_store.store)
    ages = {450: "gone", 401: "filtered", 399: "kept", 10: "kept"}
    for age in ages:
        agent = "new-client" if age < 90 else "old-client"
        book.record(
            "careers", JOBS, [], user_agent=agent, peer="192.0.2.1", now=now - age * DAY_SECONDS
        )
    assert await book.flush()
    careers = _integration(await _report(usage_store, now), "careers")
    assert careers["days"] == {
        utc_day(now - 399 * DAY_SECONDS): 1,
        utc_day(now - 10 * DAY_SECONDS): 1,
    }
    assert careers["calls"] == 4  # the all-time count still counts every call
    # A month whose last day is more than 400 days old is never written at all...
    gone_month = utc_day(now - 450 * DAY_SECONDS)[:7]
    assert await usage_store.store.hgetall(f"usage:days:careers:{gone_month}") == {}
    # Who called is kept 100 days past its month: months older than that are not written.
    for age in (450, 401, 399):
        month = utc_day(now - age * DAY_SECONDS)[:7]
        assert await usage_store.store.hgetall(f"usage:agents:careers:{month}") == {}
        assert await usage_store.store.hgetall(f"usage:addresses:careers:{month}") == {}
    assert careers["user_agents"] == [{"value": "new-client", "calls": 1}]
    if usage_store.prefix is None:
        return
    # ... and in Redis every month of the series expires 400 days after the month ends.
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for age in (399, 10):
            month = utc_day(now - age * DAY_SECONDS)[:7]
            key = f"{usage_store.prefix}usage:days:careers:{month}"
            ttl = await client.ttl(key)
            year, number = (int(p) for p in month.split("-"))
            month_end = calendar.timegm((year + number // 12, number % 12 + 1, 1, 0, 0, 0))
            bound = month_end + SERIES_DAYS * DAY_SECONDS - now
            assert 0 < ttl <= bound + 5, (key, ttl, bound)
            assert ttl >= bound - 3600, (key, ttl, bound)
    finally:
        await client.aclose()


async def test_top_user_agents_and_addresses_are_bounded(usage_store: UsageStore) -> None:
    seed = random.randrange(2**32)
    print(f"seed={seed}")
    rng = random.Random(seed)
    now = time.time()
    book = UsageBook(usage_store.store)
    sent: Counter[str] = Counter()
    for flush_round in range(2):
        for index in range(DISTINCT_CAP + 20):
            agent = f"client-{flush_round}-{index}"
            for _ in range(rng.randint(1, 6)):
                sent[agent] += 1
                book.record(
                    "careers", JOBS, [], user_agent=agent, peer=f"10.0.{flush_round}.{index}"
                )
        assert await book.flush()
    month = utc_day(now)[:7]
    kept = await usage_store.store.hgetall(f"usage:agents:careers:{month}")
    assert len(kept) <= DISTINCT_CAP + 1 and OTHER in kept
    assert sum(int(v) for v in kept.values()) == sum(sent.values())  # nothing lost, only pooled
    addresses = await usage_store.store.hgetall(f"usage:addresses:careers:{month}")
    assert len(addresses) <= DISTINCT_CAP + 1
    careers = _integration(await _report(usage_store, now), "careers")
    top = careers["user_agents"]
    assert len(top) == TOP_SHOWN
    counts = [entry["calls"] for entry in top]
    assert counts == sorted(counts, reverse=True)
    expected = sorted(((-int(v), k) for k, v in kept.items()))[:TOP_SHOWN]
    assert [(e["value"], e["calls"]) for e in top] == [(k, -n) for n, k in expected]


async def test_addresses_can_be_turned_off(usage_store: UsageStore) -> None:
    now = time.time()
    off = UsageBook(usage_store.store, record_addresses=False)
    off.record("quiet-type", JOBS, [], user_agent="cron/1", peer="192.0.2.10")
    assert await off.flush()
    month = utc_day(now)[:7]
    assert await usage_store.store.hgetall(f"usage:addresses:quiet-type:{month}") == {}
    report = await _report(usage_store, now)
    integration = _integration(report, "quiet-type")
    assert integration["addresses"] == []
    assert integration["user_agents"] == [{"value": "cron/1", "calls": 1}]
    on = UsageBook(usage_store.store)
    on.record("talkative", JOBS, [], peer="192.0.2.11")
    assert await on.flush()
    talkative = _integration(await _report(usage_store, now), "talkative")
    assert talkative["addresses"] == [{"value": "192.0.2.11", "calls": 1}]


def test_client_address_is_the_peer_unless_a_trusted_proxy_forwards_one() -> None:
    forwarded = "203.0.113.7, 10.0.0.1"
    assert client_address("10.0.0.1", forwarded, trust_forwarded_for=False) == "10.0.0.1"
    assert client_address("10.0.0.1", forwarded, trust_forwarded_for=True) == "203.0.113.7"
    assert client_address("10.0.0.1", "<script>, 1.2.3.4", trust_forwarded_for=True) == "10.0.0.1"
    assert client_address("10.0.0.1", " 2001:db8::1 ", trust_forwarded_for=True) == "2001:db8::1"
    assert client_address(None, None, trust_forwarded_for=True) is None


async def test_status_classes_first_and_last_seen_and_replicas_add_up(
    usage_store: UsageStore,
) -> None:
    now = time.time()
    first, second = UsageBook(usage_store.store), UsageBook(usage_store.store)
    for book, status, age in ((first, 201, 3), (second, 422, 2), (first, 502, 1)):
        book.record("hr-sync", CREATE, ["favourite_colour"], status=status, now=now - age * 60)
        assert await book.flush()
    second.record("hr-sync", CREATE, [], status=201, now=now - 600)  # later flush, older call
    assert await second.flush()
    (route,) = _integration(await _report(usage_store, now), "hr-sync")["routes"]
    assert route["calls"] == 4
    assert route["statuses"] == {"2xx": 2, "4xx": 1, "5xx": 1}
    assert route["first_seen"] == int(now - 180)  # first written is kept: flush-interval exact
    assert route["last_seen"] == int(now - 60)
    assert route["unknown_fields"] == ["favourite_colour"]
    assert route["v2_call"] == "POST /v2/job-applications"


async def test_retirement_states_and_the_summary(usage_store: UsageStore) -> None:
    now = time.time()
    book = UsageBook(usage_store.store)
    for label, age_days in (("busy", 0.1), ("dozing", 3.5), ("gone-quiet", 45)):
        book.record(label, JOBS, [], now=now - age_days * DAY_SECONDS)
    assert await book.flush()
    report = await _report(usage_store, now, quiet_days=30, configured_labels=["unused"])
    states = {i["label"]: i["retirement"] for i in report["integrations"]}
    assert {label: s["state"] for label, s in states.items()} == {
        "busy": "active",
        "dozing": "quiet",
        "gone-quiet": "retired-ready",
        "unused": "never-called",
    }
    assert states["dozing"]["text"] == "quiet for 3 days"
    assert states["gone-quiet"]["quiet_days"] == 45
    summary = report["summary"]
    assert summary["blocking"] == ["busy", "dozing"]
    assert summary["can_remove_bridge"] is False
    relaxed = await _report(usage_store, now, quiet_days=2)
    assert relaxed["summary"]["blocking"] == ["busy"]


def test_retirement_state_thresholds() -> None:
    now = 1_800_000_000.0
    assert retirement_state(int(now - 3600), now, 30)["state"] == "active"
    assert retirement_state(int(now - DAY_SECONDS), now, 30)["text"] == "quiet for 1 day"
    assert retirement_state(int(now - 29 * DAY_SECONDS - 1), now, 30)["state"] == "quiet"
    ready = retirement_state(int(now - 30 * DAY_SECONDS), now, 30)
    assert ready["state"] == "retired-ready" and not ready["blocks_removal"]
    assert retirement_state(None, now, 30)["state"] == "never-called"


def test_sparkline_scales_to_the_busiest_day() -> None:
    assert sparkline([0, 1, 4, 8, 0]) == "·▁▄█·"
    assert sparkline([0, 0]) == "··"
    assert sparkline([3]) == "█"


async def test_caller_chosen_values_are_bounded_and_printable(usage_store: UsageStore) -> None:
    now = time.time()
    book = UsageBook(usage_store.store)
    book.record("careers", CREATE, ["x\x1b[2J"], user_agent="evil\x1b]0;owned\x07" + "a" * 500)
    assert await book.flush()
    careers = _integration(await _report(usage_store, now), "careers")
    (agent,) = careers["user_agents"]
    assert agent["value"].startswith("evil?]0;owned?a") and len(agent["value"]) == 200
    assert careers["routes"][0]["unknown_fields"] == ["x?[2J"]


async def test_a_flood_of_new_user_agents_between_flushes_is_counted_in_bounded_memory(
    usage_store: UsageStore,
) -> None:
    book = UsageBook(usage_store.store)
    flood = PENDING_SHAPES + 2_000
    for index in range(flood):
        book.record("careers", JOBS, [], status=200, user_agent=f"bot-{index}", peer="10.0.0.9")
    # The buffer between flushes is bounded: the overflow shares one pooled shape.
    assert len(book._calls) == PENDING_SHAPES + 1
    assert await book.flush()
    careers = _integration(await _report(usage_store, time.time()), "careers")
    assert careers["calls"] == flood  # and nothing was lost
    month = utc_day(time.time())[:7]
    agents = await usage_store.store.hgetall(f"usage:agents:careers:{month}")
    assert len(agents) <= DISTINCT_CAP + 1
    assert sum(int(n) for n in agents.values()) == flood


def test_every_v1_route_has_its_replacement_and_a_head_is_its_get() -> None:
    assert replacement_for("HEAD /v1/jobs") == replacement_for("GET /v1/jobs") != ("unknown", "")
    assert all(v2 and hint for v2, hint in map(replacement_for, (e.route() for e in ENDPOINTS)))
    assert replacement_for("GET /v1/no-such-route") == ("unknown", "")

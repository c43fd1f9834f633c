"""Fair shares end to end: two integrations whose v1 keys map to ONE v2 key, the real
budget (60/min, burst 10) in the bridge and the sandbox's own limiter ON. One floods the
key with many concurrent reads; the other reads every 2 s and must not notice."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import pytest

from proxy.keys import hash_key
from proxy.ratelimit import Budget
from tests.conftest_sandbox import StartSandbox
from tests.proxy.conftest import Harness
from tests.proxy.processes import AUTH, spawn_bridge

FLOOD = aiohttp.BasicAuth("fair-flood-v1-key", "")
QUIET = aiohttp.BasicAuth("fair-quiet-v1-key", "")
SHARED_V2_KEY = "demo-v2-key"
# Every read costs one v2 call: the cache is off in the harness, and each read asks for
# another page, so no two reads in flight are coalesced into one call.
READ = "/v1/applications?per_page=1&page={page}"

FLOOD_WORKERS = 30
FLOOD_PAUSE_AFTER_429 = 0.5  # a flooder, but not a busy loop that would load the machine
QUIET_EVERY = 2.0
QUIET_READS = 12
# The target. Two labels busy on one key get a slot each every two intervals
# (2 x 61 s / 51 = 2.39 s), and the quiet one, asking one every 2 s, asks a bit more than
# that: its equal share holds it near 2.4 s, just inside the target.
QUIET_P95_TARGET = 2.5
LAG_PROBE_EVERY = 0.05
PAGES = itertools.count()


@dataclass
class Tally:
    latencies: list[float] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    refusal_latencies: list[float] = field(default_factory=list)


def p95(values: list[float]) -> float:
    """Nearest-rank 95th percentile."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


async def _read(get: Callable[[str], Awaitable[Any]], tally: Tally) -> int:
    """One read of another page through ``get`` (path -> response), timed into ``tally``."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    page = next(PAGES) % 1000 + 1
    async with await get(READ.format(page=page)) as response:
        await response.read()
        status = int(response.status)
    took = loop.time() - started
    tally.statuses.append(status)
    tally.latencies.append(took)
    if status == 429:
        tally.refusal_latencies.append(took)
    return status


async def _flood_during_quiet_reads(
    flood_read: Callable[[], Awaitable[int]],
    quiet_read: Callable[[], Awaitable[int]],
    quiet_reads: int,
) -> list[float]:
    """FLOOD_WORKERS flooders call ``flood_read`` without end (pausing after a 429) while the
    quiet caller calls ``quiet_read`` every QUIET_EVERY seconds, ``quiet_reads`` times.
    Returns how late this loop (bridge, sandbox and clients may all run on it) woke a timer
    meanwhile, probe by probe: the machine's share of any latency measured here."""
    loop = asyncio.get_running_loop()
    lags: list[float] = []

    async def flooder() -> None:
        while True:
            if await flood_read() == 429:
                await asyncio.sleep(FLOOD_PAUSE_AFTER_429)

    async def lag_probe() -> None:
        while True:
            before = loop.time()
            await asyncio.sleep(LAG_PROBE_EVERY)
            lags.append(loop.time() - before - LAG_PROBE_EVERY)

    workers = [asyncio.create_task(flooder()) for _ in range(FLOOD_WORKERS)]
    try:
        await asyncio.sleep(1.0)  # the flood has spent the burst and fills the schedule
        workers.append(asyncio.create_task(lag_probe()))
        for _ in range(quiet_reads):
            await asyncio.gather(quiet_read(), asyncio.sleep(QUIET_EVERY))
    finally:
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
    return lags


async def test_a_quiet_integration_is_served_while_another_floods_the_shared_key(
    make_harness: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_V2_FAIR_FLOOD", SHARED_V2_KEY)
    monkeypatch.setenv("TEST_V2_FAIR_QUIET", SHARED_V2_KEY)
    keys = [
        {
            "label": "flooder",
            "v1_key_sha256": hash_key(FLOOD.login),
            "v2_key_env": "TEST_V2_FAIR_FLOOD",
        },
        {
            "label": "quiet",
            "v1_key_sha256": hash_key(QUIET.login),
            "v2_key_env": "TEST_V2_FAIR_QUIET",
        },
    ]
    harness: Harness = await make_harness(
        sandbox_overrides={"rate_limit_per_minute": 60},
        rate_limit_per_minute=60,
        rate_limit_burst=10,
        keys=keys,
    )
    flood, quiet = Tally(), Tally()
    lags = await _flood_during_quiet_reads(
        lambda: _read(lambda path: harness.get(path, auth=FLOOD), flood),
        lambda: _read(lambda path: harness.get(path, auth=QUIET), quiet),
        QUIET_READS,
    )

    stats = await harness.stats()
    quiet_p95 = p95(quiet.latencies)
    # Only time the machine kept this loop busy excuses a miss; the pacer's part is fixed.
    load_slack = max(lags)
    refusals_p95 = p95(flood.refusal_latencies or [0.0])
    print(
        f"\nquiet: {len(quiet.statuses)} reads, {quiet.statuses.count(429)} refused, "
        f"p95 {quiet_p95:.2f} s (all {[round(t, 2) for t in quiet.latencies]}); "
        f"flooder: {flood.statuses.count(200)} x 200, {flood.statuses.count(429)} x 429 "
        f"(p95 of its refusals {refusals_p95:.2f} s); v2 calls "
        f"{stats['requests'].get(SHARED_V2_KEY, 0)}, upstream 429s "
        f"{stats['rate_limited'].get(SHARED_V2_KEY, 0)}; loop lag max {load_slack:.3f} s"
    )
    assert stats["rate_limited"].get(SHARED_V2_KEY, 0) == 0, "the bridge overran the budget"
    assert quiet.statuses == [200] * QUIET_READS, quiet.statuses
    assert quiet_p95 <= QUIET_P95_TARGET + load_slack, sorted(quiet.latencies)
    assert flood.statuses.count(200) > 0, "the flooder gets the rest of the budget"
    assert flood.statuses.count(429) > 0, "the flood exceeded the budget, so some is refused"
    assert refusals_p95 <= 1.0, "the flood is refused at once, not after a long wait"


async def test_clients_that_left_while_waiting_for_budget_spend_none_of_it(
    start_sandbox: StartSandbox,
) -> None:
    """A bridge process (its handlers are cancelled when the client disconnects): clients
    that give up while queued for a slot cause no v2 call and leave the schedule free."""
    sandbox = await start_sandbox(rate_limit_per_minute=60)
    interval = Budget(60, burst=10).interval
    async with (
        spawn_bridge(sandbox.api_url, rate_limit_per_minute=60, cache_ttl_seconds=0) as bridge,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):

        async def read(page: int, give_up_after: float | None = None) -> int:
            url = f"{bridge.base}{READ.format(page=page)}"
            client_timeout = aiohttp.ClientTimeout(total=give_up_after)
            async with http.get(url, timeout=client_timeout) as response:
                await response.read()
                return response.status

        # A new schedule counts as just spent: one call now, the next a slot later.
        assert await read(1) == 200
        calls_before = sandbox.state.stats.requests[SHARED_V2_KEY]
        impatient = [read(page, give_up_after=interval / 3) for page in range(2, 10)]
        outcomes = await asyncio.gather(*impatient, return_exceptions=True)
        assert all(isinstance(o, asyncio.TimeoutError) for o in outcomes), outcomes
        # Past the slots the first few of them would have had.
        await asyncio.sleep(2.5 * interval)
        assert sandbox.state.stats.requests[SHARED_V2_KEY] == calls_before, (
            "a client that left still cost a v2 call"
        )
        # None of the 8 kept a slot: the next caller is served at once, not 8 slots later.
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await read(20) == 200
        waited = loop.time() - started
    print(f"\nafter 8 clients left: the next read took {waited:.2f} s (interval {interval:.2f} s)")
    assert waited <= 2 * interval, waited
    assert sandbox.state.stats.rate_limited[SHARED_V2_KEY] == 0


async def test_a_flood_on_one_replica_does_not_starve_a_quiet_caller_on_another(
    start_sandbox: StartSandbox, redis_prefix: str
) -> None:
    """Two bridge processes sharing one Redis schedule for the key: each holds at most one
    slot ahead, so a caller on B waits behind A's one slot, never behind A's queue."""
    sandbox = await start_sandbox(rate_limit_per_minute=60)
    settings = {
        "store_url": "redis://127.0.0.1:6379/0",
        "store_prefix": redis_prefix,
        "rate_limit_per_minute": 60,
        "cache_ttl_seconds": 0,
    }
    flood, quiet = Tally(), Tally()
    async with (
        spawn_bridge(sandbox.api_url, **settings) as replica_a,
        spawn_bridge(sandbox.api_url, **settings) as replica_b,
        aiohttp.ClientSession(headers=AUTH) as http,
    ):
        lags = await _flood_during_quiet_reads(
            lambda: _read(lambda path: http.get(replica_a.base + path), flood),
            lambda: _read(lambda path: http.get(replica_b.base + path), quiet),
            8,
        )
    quiet_p95 = p95(quiet.latencies)
    print(
        f"\nquiet on replica B: {quiet.statuses.count(429)} refused, p95 {quiet_p95:.2f} s "
        f"(all {[round(t, 2) for t in quiet.latencies]}); flooder on A: "
        f"{flood.statuses.count(200)} x 200, {flood.statuses.count(429)} x 429; upstream 429s "
        f"{sandbox.state.stats.rate_limited[SHARED_V2_KEY]}; loop lag max {max(lags):.3f} s"
    )
    assert sandbox.state.stats.rate_limited[SHARED_V2_KEY] == 0, "the replicas overran the key"
    assert quiet.statuses == [200] * 8, quiet.statuses
    assert quiet_p95 <= QUIET_P95_TARGET + max(lags), sorted(quiet.latencies)
    assert flood.statuses.count(200) > 0

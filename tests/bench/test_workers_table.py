"""The bench's workers table: what a run of one worker and of two is reduced to, and a real
run against the Redis store that cleans up after itself.

The run uses real processes (sandbox, bridges with ``workers`` and the Redis store) and a
real Redis (skipped, saying why, where none answers; a failure with ``REQUIRE_REDIS=1``),
with tiny request counts; nothing asserted is a time.
"""

from __future__ import annotations

import argparse
import os
from collections import Counter
from collections.abc import Collection
from typing import Any

import pytest
import redis.asyncio as aioredis

from bench import harness, overhead, workers
from bench.load import LoadResult
from tests.redis_support import REDIS_URL


def run_of(throughput: float, per_process: dict[int, float], elapsed: float = 2.0) -> LoadResult:
    count = int(throughput * elapsed)
    return LoadResult(
        [0.001] * count,
        elapsed,
        Counter({200: count}),
        probed_each={workers.SELF: 0.8, **per_process},
    )


def test_a_core_per_worker_is_projected_from_the_busiest_worker() -> None:
    one = workers.WorkerRun.of(1, run_of(1000, {11: 1.0}))  # one core's worth: 1000 req/s
    assert one.serving == 1 and one.busiest_share == 0.5 and one.projected == 2000
    two = workers.WorkerRun.of(2, run_of(1100, {20: 0.01, 21: 0.7, 22: 0.5}))
    assert two.serving == 2, "a supervisor doing almost nothing is not a worker"
    assert two.busiest_share == pytest.approx(0.35) and round(two.projected) == 3143
    assert two.loadgen_share == pytest.approx(0.4)
    assert two.cpu_per_request == pytest.approx(1.21 / 2200)
    scaling = workers.Scaling({1: [one], 2: [two]})
    assert round(scaling.projected_ratio, 2) == 1.57 and round(scaling.measured_ratio, 2) == 1.1
    assert not scaling.met
    lines: list[str] = []
    workers.table(scaling, lines.append)
    assert any(line.startswith("| 2 | 2 | 1100 |") for line in lines), lines
    assert "target ≥ 1.7× on the projection ❌" in "\n".join(lines)


async def test_one_and_two_workers_serve_the_cached_list_and_leave_no_keys(
    redis_prefix: str,  # skips (or fails under REQUIRE_REDIS=1) without Redis
) -> None:
    parser = argparse.ArgumentParser()
    overhead.add_arguments(parser)
    args = parser.parse_args(
        ["--repeats", "2", "--requests", "10", "--warmup", "2", "--redis-url", REDIS_URL]
    )
    notes: list[str] = []
    async with harness.sandbox() as upstream:

        def start(cpu: int | Collection[int] | None, **settings: Any) -> overhead.BridgeContext:
            return overhead.bridge(upstream.base + "/v2", None, **settings)  # not pinned

        scaling = await workers.measure(start, args, lambda message: None, notes)
    assert scaling is not None and not notes
    assert [len(scaling.runs[n]) for n in (1, 2)] == [2, 2]
    assert all(run.throughput > 0 and run.cpu_per_request > 0 for run in scaling.runs[1])
    assert all(run.serving >= 1 for runs in scaling.runs.values() for run in runs)
    client = aioredis.from_url(REDIS_URL)
    try:
        pattern = f"homerun-bench-{os.getpid()}-*"
        assert [key async for key in client.scan_iter(match=pattern)] == []
    finally:
        await client.aclose()


async def test_without_redis_the_table_is_skipped_with_a_line() -> None:
    parser = argparse.ArgumentParser()
    overhead.add_arguments(parser)
    args = parser.parse_args(["--redis-url", f"redis://127.0.0.1:{harness.free_port()}/0"])
    notes: list[str] = []

    def start(cpu: int | Collection[int] | None, **settings: Any) -> overhead.BridgeContext:
        raise AssertionError("no bridge starts without Redis")

    assert await workers.measure(start, args, lambda message: None, notes) is None
    assert notes and "no Redis answers" in notes[0]

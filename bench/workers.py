"""One worker against two on cached reads (issue 15: two workers ≥ 1.7× one's throughput).

Both bridges share one Redis store (``workers = N`` needs it), under a prefix of their
own that is deleted afterwards, cache on, and serve the cached ``GET /v1/jobs`` to the
same closed loop as the other rows. One worker runs pinned to the proxies' core, as every
other bridge of the bench; two workers get both cores.

The load generator is Python too and needs a core's worth of CPU at these rates, so on a
2-core machine two workers share the cores with it: the throughput **measured** with two
workers cannot show what two cores of bridge would serve. What the run can show is how
much of a core each worker needed for that throughput: with the connections spread over
the workers as the kernel spread them (``SO_REUSEPORT``), the busiest worker saturates
first, so a core per worker would serve ``throughput ÷ busiest worker's share of a core``
(the **projected** column; for one worker, throughput ÷ its share). Both are printed,
with the load generator's own share of a core and a local Redis server's CPU per request
(it shares the cores too); the target is judged on the projection, which assumes (as the
CPU table does) that CPU per request stays what it was.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import redis.asyncio as aioredis

from bench import harness
from bench.harness import Server, cpu_seconds, process_tree
from bench.load import LoadResult, run_load

SCALING_TARGET: Final = 1.7
BUSY_SHARE: Final = 0.05  # a process with less of the bridge's CPU than this is not serving
SELF: Final = 0  # probe key of the load generator (this process)
REDIS: Final = -1  # probe key of the local redis-server processes, when readable
StartBridge = Callable[..., contextlib.AbstractAsyncContextManager[Server]]
Show = Callable[[str], None]


@dataclass(frozen=True)
class WorkerRun:
    """One run of the cached read against a bridge of ``workers`` workers."""

    workers: int
    serving: int  # processes that did a share of the work
    throughput: float  # measured, the load generator sharing the machine
    cpu_per_request: float  # every process of the bridge
    busiest_share: float  # the busiest process's CPU ÷ wall time (cores)
    loadgen_share: float  # the load generator's CPU ÷ wall time (cores)
    redis_per_request: float  # a local redis-server's CPU per request (NaN: not found)

    @property
    def projected(self) -> float:
        """Throughput with a core per worker: the busiest worker saturates first."""
        return self.throughput / self.busiest_share if self.busiest_share > 0 else 0.0

    @classmethod
    def of(cls, workers: int, result: LoadResult) -> WorkerRun:
        loadgen = result.probed_each.get(SELF, 0.0)
        redis = result.probed_each.get(REDIS, float("nan"))
        bridge = {pid: cpu for pid, cpu in result.probed_each.items() if pid > 0}
        total = sum(bridge.values())
        wall = result.elapsed or float("nan")
        return cls(
            workers=workers,
            serving=sum(1 for cpu in bridge.values() if total and cpu / total >= BUSY_SHARE),
            throughput=result.throughput,
            cpu_per_request=total / result.count if result.count else float("nan"),
            busiest_share=max(bridge.values(), default=0.0) / wall,
            loadgen_share=loadgen / wall,
            redis_per_request=redis / result.count if result.count else float("nan"),
        )


@dataclass
class Scaling:
    """Rounds of one worker and of two, taken in turn."""

    runs: dict[int, list[WorkerRun]] = field(default_factory=dict)

    def _ratio(self, value: Callable[[WorkerRun], float]) -> float:
        pairs = zip(self.runs.get(1, []), self.runs.get(2, []), strict=False)
        ratios = [value(two) / value(one) for one, two in pairs if value(one) > 0]
        return statistics.median(ratios) if ratios else float("nan")

    @property
    def measured_ratio(self) -> float:
        return self._ratio(lambda run: run.throughput)

    @property
    def projected_ratio(self) -> float:
        return self._ratio(lambda run: run.projected)

    @property
    def met(self) -> bool:
        return self.projected_ratio >= SCALING_TARGET

    def summary(self) -> str:
        return (
            f"projected {self.projected_ratio:.2f}× (a core per worker), measured "
            f"{self.measured_ratio:.2f}× (the load generator sharing the 2 cores)"
        )


def _cores() -> set[int]:
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else set()


async def redis_reachable(url: str) -> bool:
    client = aioredis.from_url(url)
    try:
        return bool(await client.ping())
    except (OSError, aioredis.RedisError):
        return False
    finally:
        await client.aclose()


async def forget(url: str, prefix: str) -> None:
    """Delete what the bench's bridges left under ``prefix``."""
    client = aioredis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
    finally:
        await client.aclose()


def redis_servers() -> list[int]:
    """Local ``redis-server`` processes (their CPU is part of a Redis-backed request's
    cost when the store runs on the same machine)."""
    found = []
    for entry in harness.PROC.iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() == "redis-server":
                    found.append(int(entry.name))
    return found


def _probe_each(pid: int, redis: Sequence[int]) -> Callable[[], Mapping[int, float]]:
    def probe() -> Mapping[int, float]:
        values: dict[int, float] = {SELF: time.process_time()}
        with contextlib.suppress(OSError):
            if redis:
                values[REDIS] = sum(cpu_seconds(server) for server in redis)
        for member in process_tree(pid):
            with contextlib.suppress(OSError):
                values[member] = cpu_seconds(member)
        return values

    return probe


LISTEN_GRACE_SECONDS: Final = 1.0


async def _wait_for_workers(server: Server, workers: int, seconds: float = 20.0) -> None:
    """Workers may start after the first one answers: wait until the supervisor has them
    all (``workers > 1`` runs a supervisor above its workers), then a moment for the last
    to listen, so that the kernel can spread the connections over every one."""
    processes = workers + 1 if workers > 1 else 1
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.2)):
        if len(process_tree(server.pid)) >= processes or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.2)
    if workers > 1:
        await asyncio.sleep(LISTEN_GRACE_SECONDS)


def bridge_settings(workers: int, redis_url: str, prefix: str) -> dict[str, Any]:
    """The settings of a measured bridge of ``workers`` workers (cache on, shared store)."""
    return {
        "workers": workers,
        "store_url": redis_url,
        "store_prefix": f"{prefix}w{workers}:",
        "cache_ttl_seconds": 60,
    }


async def measure(
    start: StartBridge,
    args: argparse.Namespace,
    progress: Callable[[str], None],
    notes: list[str],
) -> Scaling | None:
    """Rounds of one worker and two on the cached list; None (and a note) without Redis."""
    if not await redis_reachable(args.redis_url):
        notes.append(f"_workers: skipped, no Redis answers at {args.redis_url}._")
        return None
    _, proxy_cpu = harness.cpu_layout()
    cores: Collection[int] | None = _cores() or None
    prefix = f"homerun-bench-{os.getpid()}-"
    scaling = Scaling()
    path = "/v1/jobs"
    redis = redis_servers() if args.redis_url.startswith("redis://127.0.0.1") else []
    try:
        async with contextlib.AsyncExitStack() as stack:
            servers: dict[int, Server] = {}
            for workers, cpu in ((1, proxy_cpu), (2, cores)):
                settings = bridge_settings(workers, args.redis_url, prefix)
                servers[workers] = await stack.enter_async_context(
                    start(cpu, name=f"bridge-{workers}w", **settings)
                )
                await _wait_for_workers(servers[workers], workers)
            for repeat in range(args.repeats):
                order = (1, 2) if repeat % 2 == 0 else (2, 1)
                for workers in order:
                    progress(f"workers {workers}, cached list jobs, round {repeat + 1}")
                    server = servers[workers]
                    result = await run_load(
                        server.base + path,
                        concurrency=args.concurrency,
                        requests=args.requests * 2,  # cached: twice as fast
                        warmup=args.warmup,
                        headers=harness.BENCH.auth,
                        probe_each=_probe_each(server.pid, redis),
                    )
                    if not result.ok:
                        raise RuntimeError(f"workers {workers}: {dict(result.statuses)}")
                    scaling.runs.setdefault(workers, []).append(WorkerRun.of(workers, result))
    finally:
        await forget(args.redis_url, prefix)
    return scaling


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def table(scaling: Scaling, show: Show) -> None:
    show(
        "\n### Workers: cached list jobs, one worker (its own core) vs two (both cores), "
        "Redis store (`python -m bench.overhead`; see `bench/workers.py`)\n"
    )
    show(
        "| workers | processes serving | req/s measured | bridge CPU per request (µs) "
        "| busiest worker's core | load generator's core | Redis CPU per request (µs) "
        "| req/s projected, a core per worker |"
    )
    show("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for workers, runs in sorted(scaling.runs.items()):
        show(
            f"| {workers} | {min(r.serving for r in runs)} "
            f"| {_median([r.throughput for r in runs]):.0f} "
            f"| {_median([r.cpu_per_request for r in runs]) * 1e6:.0f} "
            f"| {_median([r.busiest_share for r in runs]):.0%} "
            f"| {_median([r.loadgen_share for r in runs]):.0%} "
            f"| {_median([r.redis_per_request for r in runs]) * 1e6:.0f} "
            f"| {_median([r.projected for r in runs]):.0f} |"
        )
    mark = "✅" if scaling.met else "❌"
    show(
        f"\nTwo workers ÷ one: {scaling.summary()}; target ≥ {SCALING_TARGET}× on the "
        f"projection {mark}"
    )
    if any(r.serving < 2 for r in scaling.runs.get(2, [])):
        show(
            "_With workers = 2 only one process did the work in some round: this tree "
            "may not run workers yet, or the kernel gave one worker every connection._"
        )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--skip-workers", action="store_true", help="no 1 vs 2 workers table")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0"),
        help="the Redis store the workers table uses (a prefix of its own, deleted after)",
    )

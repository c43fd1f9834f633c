"""Goodput: is API v2's budget spent on answers someone is waiting for? (not a test)

Five measurements, each against real processes (the sandbox and ``python -m proxy
serve``, started with ``bench.harness``), and one table of them with their
targets (issue 11):

- **goodput**: three integrations for ``--duration`` seconds against the sandbox with
  its limiter on (60/min per key) and the bridge pacing at 60/min: ``flood`` (8 loops,
  clients that give up after 3 s) and ``quiet`` (one read every 2 s, 10 s timeout)
  share one v2 key; ``other`` (2 loops, 3 s timeout) has its own. The share of v2 calls
  whose answer reached a client still waiting = the ``X-Upstream-Calls`` of every answer
  a client read, over the bridge's own count of v2 calls (``/metrics``).
- **quiet p95**: the quiet integration's p95 latency and its refusals (429/503), while
  ``flood`` floods the key they share.
- **429 storm**: v2 answers every vacancy read ``429 Retry-After: 0`` (the sandbox's
  status fault); v2 calls per v1 read.
- **huge answers**: a stand-in upstream (in this process) answers 500 MB, then an
  endless body; the bridge's peak RSS over its RSS before. And ``/healthz`` latency
  while the bridge reads and translates a maximal answer (a valid page just under
  ``max_upstream_body_bytes``).
- **overflow**: 40 distinct reads at once against a 5 s upstream with a pool of 4:
  the time the overflow takes to get its 503, and any 504.

    .venv/bin/python -m bench.goodput [--duration 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import statistics
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import orjson
from aiohttp import web

from bench import harness
from bench.harness import V2_AUTH, Integration, Server, cpu_layout, peak_rss_bytes, rss_bytes

MIB = 1024 * 1024
LIMIT = 8 * MIB  # max_upstream_body_bytes' default
RETRIES = 2  # upstream_retries' default
# flood and quiet share one v2 key (and so its budget); other has its own.
INTEGRATIONS = {
    i.v1_key: i
    for i in (
        Integration("flood", "flood-v1", "demo-v2-key"),
        Integration("quiet", "quiet-v1", "demo-v2-key"),
        Integration("other", "other-v1", "demo-readonly-v2-key"),
    )
}
Show = Callable[[str], None]
_loops = itertools.count()


def _bridge(
    upstream_v2: str, cpu: int | None, **settings: Any
) -> contextlib.AbstractAsyncContextManager[Server]:
    return harness.bridge(
        upstream_v2,
        cpu,
        integrations=tuple(INTEGRATIONS.values()),
        cache_ttl_seconds=0,
        log_level="warning",
        log_format="json",
        **settings,
    )


def _sandbox(cpu: int | None, rate_limit: str) -> contextlib.AbstractAsyncContextManager[Server]:
    return harness.sandbox(cpu, rate_limit=rate_limit, faults=True)


def _auth(v1_key: str) -> dict[str, str]:
    return INTEGRATIONS[v1_key].auth


async def _v2_calls(http: aiohttp.ClientSession, bridge: Server) -> int:
    async with http.get(bridge.base + "/metrics") as response:
        text = await response.text()
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in text.splitlines()
            if line.startswith("homerun_bridge_v2_calls_total{")
        )
    )


async def _application_ids(http: aiohttp.ClientSession, sandbox: Server) -> list[str]:
    """Distinct reads (identical ones in flight together would share one call)."""
    ids: list[str] = []
    for page in range(1, 4):
        url = f"{sandbox.base}/v2/job-applications?perPage=100&page={page}"
        async with http.get(url, headers=V2_AUTH) as response:
            ids += [item["id"] for item in (await response.json())["data"]]
    return ids


# --- goodput and the quiet integration ---------------------------------------------------


@dataclass
class Traffic:
    delivered_calls: int = 0  # X-Upstream-Calls of answers a client read
    shared: int = 0  # answers a client read that cost no v2 call of their own
    statuses: dict[str, list[int]] = field(default_factory=dict)
    quiet_latencies: list[float] = field(default_factory=list)
    gave_up: int = 0


async def _client(
    bridge: Server,
    v1_key: str,
    ids: list[str],
    traffic: Traffic,
    *,
    patience: float,
    until: float,
    pause: float = 0.0,
    quiet: bool = False,
) -> None:
    label = INTEGRATIONS[v1_key].label
    rng = random.Random(f"{v1_key}-{next(_loops)}")  # each loop its own reads, replayable
    async with aiohttp.ClientSession(
        headers=_auth(v1_key), timeout=aiohttp.ClientTimeout(total=patience)
    ) as http:
        while time.monotonic() < until:
            started = time.perf_counter()
            url = f"{bridge.base}/v1/applications/{rng.choice(ids)}"
            try:
                async with http.get(url) as response:
                    await response.read()
                    calls = int(response.headers.get("X-Upstream-Calls", 0))
                    traffic.delivered_calls += calls
                    traffic.shared += calls == 0 and response.status == 200
                    traffic.statuses.setdefault(label, []).append(response.status)
                    if quiet:
                        traffic.quiet_latencies.append(time.perf_counter() - started)
            except TimeoutError:
                traffic.gave_up += 1
                traffic.statuses.setdefault(label, []).append(0)
                if quiet:
                    traffic.quiet_latencies.append(time.perf_counter() - started)
            wait = pause - (time.perf_counter() - started)
            await asyncio.sleep(max(wait, 0.05))  # a flooder still yields a moment


@dataclass
class GoodputResult:
    v2_calls: int
    traffic: Traffic
    seconds: float

    @property
    def share(self) -> float:
        return self.traffic.delivered_calls / self.v2_calls if self.v2_calls else 1.0

    def quiet_p95(self) -> float:
        latencies = sorted(self.traffic.quiet_latencies)
        return latencies[max(0, int(len(latencies) * 0.95) - 1)] if latencies else float("nan")

    def quiet_refusals(self) -> int:
        return sum(1 for s in self.traffic.statuses.get("quiet", []) if s != 200)


async def measure_goodput(duration: float, cpus: tuple[int | None, int | None]) -> GoodputResult:
    async with (
        _sandbox(cpus[0], "60") as sandbox,
        _bridge(sandbox.base + "/v2", cpus[1], rate_limit_per_minute=60) as bridge,
        aiohttp.ClientSession() as http,
    ):
        ids = await _application_ids(http, sandbox)
        await asyncio.sleep(2)  # the ping and the id listing spent a little of the budget
        before = await _v2_calls(http, bridge)
        traffic = Traffic()
        started = time.monotonic()
        until = started + duration

        def client(v1_key: str, patience: float, **kw: Any) -> Any:
            return _client(bridge, v1_key, ids, traffic, patience=patience, until=until, **kw)

        clients = [
            *(client("flood-v1", 3) for _ in range(8)),
            client("quiet-v1", 10, pause=2, quiet=True),
            *(client("other-v1", 3) for _ in range(2)),
        ]
        await asyncio.gather(*clients)
        await asyncio.sleep(1)  # writes have none here; let the last calls be counted
        v2_calls = await _v2_calls(http, bridge) - before
        return GoodputResult(v2_calls, traffic, time.monotonic() - started)


# --- the Retry-After: 0 storm ---------------------------------------------------------


async def measure_storm(cpus: tuple[int | None, int | None], reads: int = 4) -> list[int]:
    async with (
        _sandbox(cpus[0], "off") as sandbox,
        _bridge(sandbox.base + "/v2", cpus[1], rate_limit_per_minute=0) as bridge,
        aiohttp.ClientSession() as http,
    ):
        fault = {
            "method": "GET",
            "path": "^/v2/vacancies$",
            "action": "status",
            "status": 429,
            "headers": {"Retry-After": "0"},
            "count": 100_000,
        }
        async with http.post(sandbox.base + "/_sandbox/faults", json=fault) as response:
            assert response.status == 201, await response.text()
        calls = []
        for _ in range(reads):
            async with http.get(bridge.base + "/v1/jobs", headers=_auth("flood-v1")) as response:
                await response.read()
                calls.append(int(response.headers["X-Upstream-Calls"]))
        return calls


# --- huge answers ---------------------------------------------------------------------


CHUNK = b"x" * 65536


def _maximal_page() -> bytes:
    """A valid vacancy page just under the bound (100 long descriptions)."""
    words = "Lorem ipsum dolor sit amet, consectetur. "
    description = "<p>" + words * int((LIMIT * 0.95 / 100) / len(words)) + "</p>"
    items = [
        {
            "id": f"vac_{n:04d}",
            "title": f"Job {n}",
            "status": "public",
            "created_at": "2024-01-01T00:00:00Z",
            "description": description,
        }
        for n in range(100)
    ]
    body = orjson.dumps({"data": items, "meta": {"total": 100, "page": 1, "per_page": 100}})
    assert len(body) < LIMIT
    return body


@contextlib.asynccontextmanager
async def _standin(answers: list[str]) -> AsyncIterator[str]:
    maximal = _maximal_page()

    async def handle(request: web.Request) -> web.StreamResponse:
        if request.path == "/v2/ping":
            return web.json_response({"pong": True})
        kind = answers.pop(0) if answers else "maximal"
        if kind == "maximal":
            return web.Response(body=maximal, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        sent = 0
        with contextlib.suppress(ConnectionError):  # the bridge hangs up: that is the point
            while kind == "endless" or sent < 500 * MIB:
                await response.write(CHUNK)
                sent += len(CHUNK)
            await response.write_eof()
        return response

    app = web.Application()
    app.router.add_route("*", "/v2/{tail:.*}", handle)
    async with harness.serve_app(app) as base:
        yield base + "/v2"


@dataclass
class HugeResult:
    statuses: list[int]
    rss_before: int
    peak_after: int
    seconds: list[float]
    healthz_max: float
    healthz_p50: float
    maximal_status: int


async def measure_huge(cpus: tuple[int | None, int | None]) -> HugeResult:
    answers = ["500MB", "endless", "500MB", "endless"]
    async with (
        _standin(answers) as upstream,
        _bridge(upstream, cpus[1], rate_limit_per_minute=0) as bridge,
        aiohttp.ClientSession(headers=_auth("flood-v1")) as http,
    ):
        async with http.get(bridge.base + "/healthz") as response:
            await response.read()
        rss_before = rss_bytes(bridge.pid)
        if rss_before is None:
            raise RuntimeError(f"the bridge is gone: {bridge.log_tail()}")
        statuses, seconds = [], []
        for _ in range(len(answers)):
            started = time.perf_counter()
            async with http.get(bridge.base + "/v1/jobs") as response:
                await response.read()
                statuses.append(response.status)
            seconds.append(time.perf_counter() - started)
        peak_after = peak_rss_bytes(bridge.pid)
        # /healthz every 5 ms while a maximal answer is read, decoded and translated.
        latencies: list[float] = []

        async def probe(stop: asyncio.Event) -> None:
            while not stop.is_set():
                started = time.perf_counter()
                async with http.get(bridge.base + "/healthz") as response:
                    await response.read()
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(0.005)

        stop = asyncio.Event()
        prober = asyncio.ensure_future(probe(stop))
        async with http.get(bridge.base + "/v1/jobs?per_page=100") as response:
            await response.read()
            maximal_status = response.status
        stop.set()
        await prober
        return HugeResult(
            statuses,
            rss_before,
            peak_after,
            seconds,
            max(latencies),
            statistics.median(latencies),
            maximal_status,
        )


# --- the overflow ---------------------------------------------------------------------


async def measure_overflow(cpus: tuple[int | None, int | None]) -> tuple[list[float], list[int]]:
    async with (
        _sandbox(cpus[0], "off") as sandbox,
        _bridge(
            sandbox.base + "/v2",
            cpus[1],
            rate_limit_per_minute=0,
            upstream_connections=4,
            upstream_retries=0,
        ) as bridge,
        aiohttp.ClientSession() as http,
    ):
        ids = (await _application_ids(http, sandbox))[:40]
        fault = {
            "method": "GET",
            "path": "^/v2/job-applications/[^/]+$",
            "action": "latency",
            "latency_ms": 5000,
            "count": 40,
        }
        async with http.post(sandbox.base + "/_sandbox/faults", json=fault) as response:
            assert response.status == 201, await response.text()

        async def read(application_id: str) -> tuple[int, float]:
            started = time.perf_counter()
            url = f"{bridge.base}/v1/applications/{application_id}"
            async with http.get(url, headers=_auth("flood-v1")) as response:
                await response.read()
                return response.status, time.perf_counter() - started

        outcomes = await asyncio.gather(*(read(i) for i in ids))
        shed = [seconds for status, seconds in outcomes if status == 503]
        return shed, [status for status, _ in outcomes]


# --- the table ------------------------------------------------------------------------


def goodput_table(
    goodput: GoodputResult,
    storm: list[int],
    huge: HugeResult,
    overflow: tuple[list[float], list[int]],
    show: Show,
) -> None:
    shed, statuses = overflow
    grown = (huge.peak_after - huge.rss_before) / MIB
    counts = {
        label: {str(s): found.count(s) for s in sorted(set(found))}
        for label, found in goodput.traffic.statuses.items()
    }
    rows = [
        (
            "v2 calls whose answer reached a waiting client",
            f"{goodput.share:.1%} ({goodput.traffic.delivered_calls} of {goodput.v2_calls} "
            f"in {goodput.seconds:.0f} s)",
            ">= 95 %",
            goodput.share >= 0.95,
        ),
        (
            "quiet integration's p95 latency (flood on its key)",
            f"{goodput.quiet_p95():.2f} s over {len(goodput.traffic.quiet_latencies)} reads",
            "<= 2.5 s",
            goodput.quiet_p95() <= 2.5,
        ),
        (
            "quiet integration's refusals (429/503/gave up)",
            str(goodput.quiet_refusals()),
            "0",
            goodput.quiet_refusals() == 0,
        ),
        (
            "v2 calls per v1 read, Retry-After: 0 storm",
            f"max {max(storm)} (reads: {storm})",
            f"<= {1 + RETRIES}",
            max(storm) <= 1 + RETRIES,
        ),
        (
            "bridge peak RSS growth, 2 x 500 MB + 2 x endless answers",
            f"+{grown:.1f} MiB (statuses {sorted(set(huge.statuses))}, "
            f"slowest {max(huge.seconds):.2f} s)",
            "<= +50 MiB",
            grown <= 50,
        ),
        (
            "/healthz during a maximal (just under 8 MiB) answer",
            f"max {huge.healthz_max * 1000:.0f} ms, p50 {huge.healthz_p50 * 1000:.1f} ms "
            f"(the read: {huge.maximal_status})",
            "short",
            huge.healthz_max < 0.25,
        ),
        (
            "overflow's time to a 503 (40 reads, pool 4, 5 s upstream)",
            f"max {max(shed, default=float('nan')):.2f} s over {len(shed)} 503s; "
            f"504s: {statuses.count(504)}",
            "<= 2 s (+ scheduling)",
            bool(shed) and max(shed) <= 2.5 and 504 not in statuses,
        ),
    ]
    show("| measure | this run | target | met |")
    show("|---|---|---|---|")
    for measure, value, target, met in rows:
        show(f"| {measure} | {value} | {target} | {'yes' if met else 'NO'} |")
    show("")
    show(
        f"Statuses per integration during the goodput run (0 = client gave up): {counts}; "
        f"answers that cost no call of their own (shared in flight): "
        f"{goodput.traffic.shared}"
    )


async def measure_all(duration: float) -> tuple[Any, ...]:
    cpus = cpu_layout()
    goodput = await measure_goodput(duration, cpus)
    storm = await measure_storm(cpus)
    huge = await measure_huge(cpus)
    overflow = await measure_overflow(cpus)
    return goodput, storm, huge, overflow


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--duration",
        type=float,
        default=30.0,
        help="seconds of mixed traffic in the goodput run (default 30; the issue's run: 120)",
    )


def run(args: argparse.Namespace, show: Show) -> None:
    goodput, storm, huge, overflow = asyncio.run(measure_all(args.duration))
    goodput_table(goodput, storm, huge, overflow, show)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.goodput", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(), print)


if __name__ == "__main__":
    main()

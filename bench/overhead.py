"""What the bridge costs on top of a bare Python hop, measured side by side (not a test).

Four paths to the same sandbox (API v2, its limiter off), each a separate process:

- **direct**: the load generator straight to the sandbox (v2 calls);
- **hop**: through ``bench.passthrough``, a bare aiohttp proxy that streams bytes
  through untranslated: the floor for any Python proxy;
- **nginx**: through Debian's nginx (``proxy_pass``, ``bench.native``), the native
  anchor; skipped with a line saying so where nginx is absent;
- **bridge**: ``python -m proxy serve`` (v1 calls), cache off and rate limit off unless
  a row says "cache on", logging at its default level (info, JSON, to /dev/null), CORS
  on for one widget origin, gzip at its default (answers of 1 KiB or more, only when
  the request's ``Accept-Encoding`` allows it: only the gzip rows send one).

Rows carry the issue-15 target their CPU ratio answers to (cached reads ≤ 0.35× the
hop, other reads ≤ 1.1×, creates ≤ 1.3×; added p50 at concurrency 1 ≤ 1 ms). A last
table compares one worker with two (``workers = 2``, Redis store) on cached reads.

With two or more CPUs, the hop and the bridges are pinned to one core and the load
generator (this process) and the sandbox to another, so the proxy under measurement
has a core of its own. Each scenario runs its paths in turn, ``--repeats`` times with
the order rotated; the table shows medians, and ratios are the median of the per-round
ratios (the runs of a round are seconds apart, so a neighbour's load affects them
alike). Latency is request sent -> body read, per request, with a
closed loop of ``--concurrency`` kept-open connections.

CPU per request is the proxy process's own CPU time during the measured run (from
``/proc/<pid>/task/*/schedstat``, every thread: aiohttp gzips large bodies in a thread
pool) divided by the requests: it does not depend on
which process was the bottleneck, nor on other load on the machine.

    .venv/bin/python -m bench.overhead [--repeats 5] [--requests 1000] [--concurrency 16]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import time
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final, Literal

import aiohttp

from bench import harness, native, workers
from bench.harness import (
    V2_AUTH,
    Server,
    cpu_layout,
    cpu_seconds,
    free_port,
    peak_rss_bytes,
    sandbox,
    spawn,
)
from bench.load import Body, LoadResult, run_load

V1_KEY = harness.BENCH.v1_key
V1_AUTH = harness.BENCH.auth
JOB_INCLUDES = "include[]=location&include[]=department&include[]=total_candidate_count"
WIDGET = "https://careers.example.com"  # the origin the bridges allow (CORS rows)
GZIP = {"Accept-Encoding": "gzip"}
MB = 1_000_000
UPLOAD_BYTES = 25 * MB
MS = 1000.0
US = 1_000_000.0

# Issue 15's targets: bridge CPU per request ÷ the hop's, per kind of row.
Kind = Literal["cached", "read", "create"]
CPU_TARGETS: Final[dict[str, float]] = {"cached": 0.35, "read": 1.1, "create": 1.3}
ADDED_P50_TARGET_SECONDS: Final = 0.001  # at concurrency 1, every row
UPLOAD_GROWTH_TARGET: Final = 10 * MB
Show = Callable[[str], None]


# --- processes ------------------------------------------------------------------------


def passthrough(upstream: str, cpu: int | None) -> contextlib.AbstractAsyncContextManager[Server]:
    port = free_port()
    args = ["-m", "bench.passthrough", "--port", str(port), "--upstream", upstream]
    return spawn("hop", args, port, "/v2/ping", cpu=cpu, ready_headers=V2_AUTH)


BridgeContext = contextlib.AbstractAsyncContextManager[Server]


def bridge(
    upstream_v2: str,
    cpu: int | Collection[int] | None,
    *,
    cache_ttl_seconds: float,
    name: str = "bridge",
    checkout: Path | None = None,
    **settings: Any,
) -> BridgeContext:
    """The bridge as measured here: rate limit off, logging at its default level (info,
    JSON), CORS for ``WIDGET``, gzip at its default; from another ``checkout`` of the
    project when given; other ``settings`` (names of ``BridgeSettings``) on top."""
    return harness.bridge(
        upstream_v2,
        cpu,
        name=name,
        checkout=checkout,
        cache_ttl_seconds=cache_ttl_seconds,
        rate_limit_per_minute=0,
        log_level="info",
        log_format="json",
        cors_allowed_origins=[WIDGET],
        **settings,
    )


# --- scenarios ------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    headers: dict[str, str]
    body: Body = None


@dataclass(frozen=True)
class Scenario:
    """One row: ``v2`` goes to the sandbox directly, through the hop and through nginx,
    ``v1`` to the bridge. ``kind`` names the issue-15 target of its CPU ratio (None: a
    cost to read, no target); ``weight`` scales the requests of a heavy row; a
    ``conditional`` row sends the bridge's own ``ETag`` back in ``If-None-Match``."""

    name: str
    v2: Call
    v1: Call
    cached_bridge: bool = False
    kind: Kind | None = "read"
    weight: float = 1.0
    conditional: bool = False


@dataclass
class Round:
    direct: LoadResult
    hop: LoadResult
    bridge: LoadResult
    compared: LoadResult | None = None  # the bridge of ``--compare DIR``
    native: LoadResult | None = None  # nginx, when present


@dataclass
class Measured:
    scenario: Scenario
    v2_calls: int
    rounds: list[Round] = field(default_factory=list)


def _create_bodies(job_id: str) -> tuple[Callable[[int], bytes], Callable[[int], bytes]]:
    pid = os.getpid()

    def v2_body(n: int) -> bytes:
        return json.dumps(
            {
                "first_name": "Bench",
                "last_name": f"Direct{n}",
                "email": f"direct{pid}.{n}@example.com",
                "vacancy_id": job_id,
                "education": "BSc",
            }
        ).encode()

    def v1_body(n: int) -> bytes:
        form = {
            "job": job_id,
            "candidate[first_name]": "Bench",
            "candidate[last_name]": f"Bridge{n}",
            "candidate[email]": f"bridge{pid}.{n}@example.com",
            "content[education]": "BSc",
        }
        return "&".join(f"{k}={v}" for k, v in form.items()).encode()

    return v2_body, v1_body


async def _application_without_files(http: aiohttp.ClientSession, sandbox_base: str) -> str:
    """An application with no files: the sandbox issues a download token for every file
    of every application it renders and, past 5000 tokens, scans them all on each issue,
    so reading an application with files gets slower with every read (a sandbox cost
    that would swamp the one measured here)."""
    async with http.get(sandbox_base + "/v2/job-applications?perPage=100") as response:
        candidates = [item["id"] for item in (await response.json())["data"]]
    for application_id in candidates:
        async with http.get(f"{sandbox_base}/v2/job-applications/{application_id}") as response:
            if not (await response.json())["data"].get("files"):
                return str(application_id)
    raise RuntimeError("every application of the first page has files")


PREFLIGHT_HEADERS: Final = {
    "Origin": WIDGET,
    "Access-Control-Request-Method": "POST",
    "Access-Control-Request-Headers": "authorization,content-type",
}


def read_scenarios(application_id: str) -> list[Scenario]:
    """The reads, cheapest first; what each row's v2 side stands for is in its name or
    in RESULTS.md ("How the rows are built")."""
    list_jobs_v2 = Call("GET", f"/v2/vacancies?{JOB_INCLUDES}&perPage=100", V2_AUTH)
    list_jobs_v1 = Call("GET", "/v1/jobs", V1_AUTH)
    widget = {**V1_AUTH, "Origin": WIDGET}
    page_v2 = "/v2/job-applications?page=1&perPage=100&include[]=vacancy&include[]=stage"
    page_v1 = "/v1/applications?per_page=100"
    return [
        Scenario("list jobs", list_jobs_v2, list_jobs_v1),
        Scenario(
            "list jobs, HEAD",
            replace(list_jobs_v2, method="HEAD"),
            replace(list_jobs_v1, method="HEAD"),
        ),
        Scenario(
            "list jobs, cache on", list_jobs_v2, list_jobs_v1, cached_bridge=True, kind="cached"
        ),
        Scenario(
            "list jobs, cache on, If-None-Match (304)",
            list_jobs_v2,
            list_jobs_v1,
            cached_bridge=True,
            kind="cached",
            conditional=True,
        ),
        Scenario(
            "list jobs, cache on, CORS GET (Origin)",
            list_jobs_v2,
            replace(list_jobs_v1, headers=widget),
            cached_bridge=True,
            kind="cached",
        ),
        Scenario(
            "list jobs, cache on, gzip (a browser's request)",
            replace(list_jobs_v2, headers={**V2_AUTH, **GZIP}),
            replace(list_jobs_v1, headers={**widget, **GZIP}),
            cached_bridge=True,
            kind="cached",
        ),
        Scenario(
            "CORS preflight (v2 side: GET /v2/ping)",
            Call("GET", "/v2/ping", V2_AUTH),
            Call("OPTIONS", "/v1/applications", PREFLIGHT_HEADERS),
            kind=None,
        ),
        Scenario(
            "get application",
            Call("GET", f"/v2/job-applications/{application_id}?include[]=vacancy", V2_AUTH),
            Call("GET", f"/v1/applications/{application_id}", V1_AUTH),
        ),
        Scenario(
            "list applications (page 2, per_page 25)",
            Call(
                "GET",
                "/v2/job-applications?page=2&perPage=25&include[]=vacancy&include[]=stage",
                V2_AUTH,
            ),
            Call("GET", "/v1/applications?page=2&per_page=25", V1_AUTH),
        ),
        Scenario(
            "list applications (per_page 100)",
            Call("GET", page_v2, V2_AUTH),
            Call("GET", page_v1, V1_AUTH),
            weight=0.3,
        ),
        Scenario(
            "list applications (per_page 100), gzip",
            Call("GET", page_v2, {**V2_AUTH, **GZIP}),
            Call("GET", page_v1, {**V1_AUTH, **GZIP}),
            kind=None,
            weight=0.3,
        ),
    ]


def create_scenarios(job_id: str) -> list[Scenario]:
    """The creates (run last: the sandbox grows with every create)."""
    v2_create, v1_create = _create_bodies(job_id)
    json_type = {"Content-Type": "application/json"}
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    create_v2 = Call("POST", "/v2/job-applications", {**V2_AUTH, **json_type}, v2_create)
    create_v1 = Call("POST", "/v1/applications", {**V1_AUTH, **form_type}, v1_create)
    return [
        Scenario("create application", create_v2, create_v1, kind="create"),
        Scenario(
            "create application, cache on", create_v2, create_v1, cached_bridge=True, kind="create"
        ),
    ]


async def scenarios(sandbox_base: str) -> list[Scenario]:
    async with aiohttp.ClientSession(headers=V2_AUTH) as http:
        application_id = await _application_without_files(http, sandbox_base)
        async with http.get(sandbox_base + "/v2/vacancies?filter[status]=public") as response:
            job_id = (await response.json())["data"][0]["id"]
    return read_scenarios(application_id) + create_scenarios(job_id)


async def with_etag(base: str, call: Call) -> Call | None:
    """``call`` with ``If-None-Match`` set to the ETag the bridge answers it with now;
    None when the answer has no ETag (a bridge without conditional answers)."""
    async with (
        aiohttp.ClientSession(headers=call.headers, skip_auto_headers=("Accept-Encoding",)) as http,
        http.request(call.method, base + call.path) as response,
    ):
        await response.read()
        etag = response.headers.get("ETag")
    if response.status != 200 or etag is None:
        return None
    return replace(call, headers={**call.headers, "If-None-Match": etag})


async def _v2_calls_of(base: str, call: Call) -> int:
    """``X-Upstream-Calls`` of one v1 request (after a first one warmed any cache)."""
    async with aiohttp.ClientSession(
        headers=call.headers, skip_auto_headers=("Accept-Encoding",)
    ) as http:
        calls = 0
        for n in range(2):
            body = call.body(10_000_000 + n) if callable(call.body) else call.body
            async with http.request(call.method, base + call.path, data=body) as response:
                await response.read()
                if response.status >= 400:
                    raise RuntimeError(f"{call.method} {call.path}: {response.status}")
                calls = int(response.headers["X-Upstream-Calls"])
        return calls


def requests_for(args: argparse.Namespace, scenario: Scenario, concurrency: int) -> int:
    total: int = args.requests if concurrency > 1 else args.serial_requests
    return max(20, round(total * scenario.weight))


async def _load(
    base: str,
    call: Call,
    args: argparse.Namespace,
    pid: int | None,
    concurrency: int,
    requests: int,
) -> LoadResult:
    result = await run_load(
        base + call.path,
        method=call.method,
        concurrency=concurrency,
        requests=requests,
        warmup=min(args.warmup, requests),
        headers=call.headers,
        body=call.body,
        probe=(lambda: cpu_seconds(pid)) if pid is not None else None,
    )
    if not result.ok:
        raise RuntimeError(
            f"{call.method} {base}{call.path}: statuses {dict(result.statuses)}, "
            f"{result.errors} errors"
        )
    return result


@dataclass
class Servers:
    """What one overhead run measures: the sandbox and every proxy in front of it."""

    upstream: Server
    hop: Server
    plain: Server
    cached: Server
    native: Server | None = None
    compared: dict[bool, Server] = field(default_factory=dict)  # by cache on

    def bridge_for(self, scenario: Scenario) -> Server:
        return self.cached if scenario.cached_bridge else self.plain


async def start_servers(
    stack: contextlib.AsyncExitStack, args: argparse.Namespace, notes: list[str]
) -> Servers:
    loadgen_cpu, proxy_cpu = cpu_layout()
    upstream = await stack.enter_async_context(sandbox(loadgen_cpu))
    v2 = upstream.base + "/v2"
    servers = Servers(
        upstream=upstream,
        hop=await stack.enter_async_context(passthrough(upstream.base, proxy_cpu)),
        plain=await stack.enter_async_context(bridge(v2, proxy_cpu, cache_ttl_seconds=0)),
        cached=await stack.enter_async_context(
            bridge(v2, proxy_cpu, cache_ttl_seconds=60, name="bridge-cache")
        ),
    )
    binary = None if args.skip_nginx else native.nginx_binary()
    if binary is not None:
        servers.native = await stack.enter_async_context(
            native.nginx(upstream.base, proxy_cpu, binary)
        )
    else:
        notes.append(native.absent_line() if not args.skip_nginx else "_nginx: skipped._")
    if args.compare is not None:
        for cache_on in (False, True):
            servers.compared[cache_on] = await stack.enter_async_context(
                bridge(
                    v2,
                    proxy_cpu,
                    cache_ttl_seconds=60 if cache_on else 0,
                    name="compared",
                    checkout=args.compare,
                )
            )
    return servers


async def measure_scenario(
    servers: Servers,
    scenario: Scenario,
    concurrency: int,
    args: argparse.Namespace,
    progress: Callable[[str], None],
) -> Measured:
    """``--repeats`` rounds of one row, every path once per round, the order rotated."""
    target = servers.bridge_for(scenario)
    measured = Measured(scenario, await _v2_calls_of(target.base, scenario.v1))
    requests = requests_for(args, scenario, concurrency)
    for repeat in range(args.repeats):
        progress(f"{scenario.name}, concurrency {concurrency}, round {repeat + 1}")
        paths: list[tuple[str, str, Call, int | None]] = [
            ("direct", servers.upstream.base, scenario.v2, None),
            ("hop", servers.hop.base, scenario.v2, servers.hop.pid),
            ("bridge", target.base, scenario.v1, target.pid),
        ]
        if servers.native is not None:
            paths.append(("native", servers.native.base, scenario.v2, servers.native.pid))
        if servers.compared:
            twin = servers.compared[scenario.cached_bridge]
            paths.append(("compared", twin.base, scenario.v1, twin.pid))
        shift = repeat % len(paths)
        done: dict[str, LoadResult] = {}
        for name, base, call, pid in paths[shift:] + paths[:shift]:
            done[name] = await _load(base, call, args, pid, concurrency, requests)
        measured.rounds.append(
            Round(
                done["direct"],
                done["hop"],
                done["bridge"],
                compared=done.get("compared"),
                native=done.get("native"),
            )
        )
    return measured


@dataclass(frozen=True)
class Floor:
    """aiohttp's server alone answering the cached list's bytes, beside the hop's list."""

    body_bytes: int
    rounds: list[tuple[LoadResult, LoadResult]]  # (floor, hop) per round

    @property
    def cpu(self) -> float:
        return _median([_cpu_per_request(floor) for floor, _ in self.rounds])

    @property
    def ratio(self) -> float:
        return _median([_cpu_per_request(f) / _cpu_per_request(h) for f, h in self.rounds])


async def measure_floor(
    servers: Servers, args: argparse.Namespace, progress: Callable[[str], None]
) -> Floor:
    """The cached list's bytes from a bare aiohttp server, rounds taken with the hop's list."""
    jobs = read_scenarios("-")[0]
    async with (
        aiohttp.ClientSession(skip_auto_headers=("Accept-Encoding",)) as http,
        http.get(servers.cached.base + jobs.v1.path, headers=jobs.v1.headers) as response,
    ):
        size = len(await response.read())
    _, proxy_cpu = cpu_layout()
    port = free_port()
    args_floor = ["-m", "bench.passthrough", "--port", str(port), "--answer-bytes", str(size)]
    rounds: list[tuple[LoadResult, LoadResult]] = []
    async with spawn("floor", args_floor, port, "/", cpu=proxy_cpu) as floor:
        for repeat in range(args.repeats):
            progress(f"aiohttp floor, round {repeat + 1}")
            requests = requests_for(args, jobs, args.concurrency)
            bare = await _load(floor.base, jobs.v1, args, floor.pid, args.concurrency, requests)
            hop = await _load(
                servers.hop.base, jobs.v2, args, servers.hop.pid, args.concurrency, requests
            )
            rounds.append((bare, hop))
    return Floor(size, rounds)


@dataclass
class Measurements:
    loaded: list[Measured] = field(default_factory=list)
    serial: list[Measured] = field(default_factory=list)
    growth: list[float] = field(default_factory=list)
    workers: workers.Scaling | None = None
    floor: Floor | None = None
    notes: list[str] = field(default_factory=list)  # rows skipped, paths absent: why


async def measure(args: argparse.Namespace, progress: Callable[[str], None]) -> Measurements:
    """Every scenario at ``--concurrency`` and at concurrency 1; workers; upload memory."""
    loadgen_cpu, proxy_cpu = cpu_layout()
    if loadgen_cpu is not None:
        os.sched_setaffinity(0, {loadgen_cpu})
    found = Measurements()
    async with contextlib.AsyncExitStack() as stack:
        servers = await start_servers(stack, args, found.notes)
        chosen = await scenarios(servers.upstream.base)
        if args.only:
            chosen = [s for s in chosen if any(word in s.name for word in args.only)]
        for scenario in chosen:
            if scenario.conditional:
                call = await with_etag(servers.bridge_for(scenario).base, scenario.v1)
                if call is None:
                    found.notes.append(
                        f"_{scenario.name}: skipped, the bridge answers `{scenario.v1.path}` "
                        "without an ETag._"
                    )
                    continue
                scenario = replace(scenario, v1=call)
            found.loaded.append(
                await measure_scenario(servers, scenario, args.concurrency, args, progress)
            )
            if args.serial_requests > 0:
                found.serial.append(await measure_scenario(servers, scenario, 1, args, progress))
        if not args.only or any(s.cached_bridge for s in chosen):
            found.floor = await measure_floor(servers, args, progress)
        if not args.skip_workers:
            v2 = servers.upstream.base + "/v2"

            def start(cpu: Collection[int] | int | None, **settings: Any) -> BridgeContext:
                return bridge(v2, cpu, **settings)

            found.workers = await workers.measure(start, args, progress, found.notes)
        if not args.skip_upload:
            for repeat in range(args.repeats):
                progress(f"upload memory, round {repeat + 1}")
                found.growth.append(await upload_growth(servers.upstream.base + "/v2", proxy_cpu))
    return found


async def upload_growth(upstream_v2: str, cpu: int | None) -> float:
    """Peak RSS growth (bytes) of a fresh bridge process during a 25 MB upload."""
    async with bridge(upstream_v2, cpu, cache_ttl_seconds=0, name="bridge-upload") as server:
        chunk = os.urandom(1 << 20)

        async def blob() -> AsyncIterator[bytes]:
            left = UPLOAD_BYTES
            while left > 0:
                piece = chunk[: min(left, len(chunk))]
                left -= len(piece)
                yield piece

        async with aiohttp.ClientSession(headers=V1_AUTH) as http:
            async with http.get(server.base + "/v1/applications?per_page=1") as response:
                application_id = (await response.json())["data"][0]["id"]
            idle = peak_rss_bytes(server.pid)
            writer = aiohttp.MultipartWriter("form-data")
            part = writer.append(blob())
            part.set_content_disposition("form-data", name="file", filename="portfolio.bin")
            url = f"{server.base}/v1/applications/{application_id}/files"
            async with http.post(url, data=writer) as response:
                if response.status != 201:
                    text = await response.text()
                    raise RuntimeError(f"upload answered {response.status}: {text}")
            return peak_rss_bytes(server.pid) - idle


# --- the tables -------------------------------------------------------------------------


def _median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _cpu_per_request(result: LoadResult | None) -> float:
    if result is None or result.probed is None or not result.count:
        return float("nan")
    return result.probed / result.count


@dataclass(frozen=True)
class Side:
    """One path's medians over the rounds of a row (NaN for a path that did not run)."""

    rps: float
    p50: float
    p99: float
    cpu: float
    body_bytes: float

    @classmethod
    def of(cls, results: Sequence[LoadResult | None]) -> Side:
        ran = [r for r in results if r is not None]
        return cls(
            rps=_median([r.throughput for r in ran]),
            p50=_median([r.p50 for r in ran]),
            p99=_median([r.p99 for r in ran]),
            cpu=_median([_cpu_per_request(r) for r in ran]),
            body_bytes=_median([r.body_bytes for r in ran]),
        )


def _ratio(rounds: Sequence[Round], value: Callable[[Round], float]) -> float:
    """The median of a per-round ratio (NaN where a path did not run)."""
    return _median([v for v in (value(r) for r in rounds) if v == v])


@dataclass(frozen=True)
class Summary:
    """Medians over the rounds of one scenario; ratios are medians of per-round ratios."""

    name: str
    kind: Kind | None
    v2_calls: int
    direct: Side
    hop: Side
    native: Side
    bridge: Side
    throughput_ratio: float
    added_p50: float
    added_p99: float
    cpu_ratio: float  # bridge ÷ hop
    hop_native_cpu: float  # hop ÷ nginx
    bridge_native_cpu: float  # bridge ÷ nginx
    bridge_busy: float

    @classmethod
    def of(cls, measured: Measured) -> Summary:
        rounds = measured.rounds
        cpu = _cpu_per_request
        return cls(
            name=measured.scenario.name,
            kind=measured.scenario.kind,
            v2_calls=measured.v2_calls,
            direct=Side.of([r.direct for r in rounds]),
            hop=Side.of([r.hop for r in rounds]),
            native=Side.of([r.native for r in rounds]),
            bridge=Side.of([r.bridge for r in rounds]),
            throughput_ratio=_ratio(rounds, lambda r: r.bridge.throughput / r.hop.throughput),
            added_p50=_median([r.bridge.p50 - r.hop.p50 for r in rounds]),
            added_p99=_median([r.bridge.p99 - r.hop.p99 for r in rounds]),
            cpu_ratio=_ratio(rounds, lambda r: cpu(r.bridge) / cpu(r.hop)),
            hop_native_cpu=_ratio(rounds, lambda r: cpu(r.hop) / cpu(r.native)),
            bridge_native_cpu=_ratio(rounds, lambda r: cpu(r.bridge) / cpu(r.native)),
            bridge_busy=_median(
                [(r.bridge.probed or 0.0) / r.bridge.elapsed for r in rounds if r.bridge.elapsed]
            ),
        )

    @property
    def cpu_target(self) -> float | None:
        return CPU_TARGETS[self.kind] if self.kind is not None else None

    @property
    def cpu_met(self) -> bool | None:
        target = self.cpu_target
        return None if target is None else self.cpu_ratio <= target


def _num(value: float, spec: str = ".0f") -> str:
    return "n/a" if value != value else format(value, spec)


def _ms(seconds: float) -> str:
    return _num(seconds * MS, ".2f")


def _signed_ms(seconds: float) -> str:
    return _num(seconds * MS, "+.2f")


def p50_within_target(s: Summary) -> bool:
    """Judged on the value as printed (to 0.01 ms), so +1.00 never shows a ❌."""
    return round(s.added_p50 * MS, 2) <= ADDED_P50_TARGET_SECONDS * MS


def _mark(ok: bool | None) -> str:
    return "—" if ok is None else "✅" if ok else "❌"


def _four(s: Summary, value: Callable[[Side], float], fmt: Callable[[float], str]) -> str:
    return " / ".join(fmt(value(side)) for side in (s.direct, s.hop, s.native, s.bridge))


def _bytes(value: float) -> str:
    if value != value:
        return "n/a"
    return f"{value / 1000:.1f} kB" if value >= 1000 else f"{value:.0f} B"


def throughput_table(summaries: Sequence[Summary], args: argparse.Namespace, show: Show) -> None:
    show(
        f"### Throughput and latency, {args.concurrency} connections "
        f"({args.requests} requests per run, fewer for rows marked ×weight; median of "
        f"{args.repeats} rounds)\n"
    )
    show(
        "| scenario | v2 calls per request | req/s direct / hop / nginx / bridge "
        "| bridge ÷ hop throughput | p50 direct / hop / nginx / bridge (ms) "
        "| p99 direct / hop / nginx / bridge (ms) | added p50 (ms) | added p99 (ms) |"
    )
    show("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in summaries:
        show(
            f"| {s.name} | {s.v2_calls} | {_four(s, lambda x: x.rps, _num)} "
            f"| {_num(s.throughput_ratio * 100)} % "
            f"| {_four(s, lambda x: x.p50, _ms)} | {_four(s, lambda x: x.p99, _ms)} "
            f"| {_signed_ms(s.added_p50)} | {_signed_ms(s.added_p99)} |"
        )


def _target(s: Summary) -> str:
    target = s.cpu_target
    return "—" if target is None else f"≤ {target:.2f}× {_mark(s.cpu_met)}"


def cpu_table(summaries: Sequence[Summary], show: Show) -> None:
    show(
        "\n### Proxy CPU per request (same runs; independent of which process was the "
        "bottleneck), bytes per answer, and issue 15's target\n"
    )
    show(
        "| scenario | answer bytes hop / nginx / bridge | CPU nginx / hop / bridge (µs) "
        "| bridge ÷ hop CPU | hop ÷ nginx | bridge ÷ nginx | bridge core busy "
        "| target (bridge ÷ hop) |"
    )
    show("| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for s in summaries:
        sizes = " / ".join(_bytes(x.body_bytes) for x in (s.hop, s.native, s.bridge))
        cpus = " / ".join(_num(x.cpu * US) for x in (s.native, s.hop, s.bridge))
        show(
            f"| {s.name} | {sizes} | {cpus} | {_num(s.cpu_ratio, '.2f')}× "
            f"| {_num(s.hop_native_cpu, '.2f')}× | {_num(s.bridge_native_cpu, '.2f')}× "
            f"| {_num(s.bridge_busy * 100)} % | {_target(s)} |"
        )


def floor_line(floor: Floor, show: Show) -> None:
    target = CPU_TARGETS["cached"]
    if floor.ratio > target:
        verdict = f"so the cached target ({target}×) is below what aiohttp alone spends"
    else:
        verdict = (
            f"so the cached target ({target}×) leaves {(target - floor.ratio) * 100:.0f} % of "
            "the hop's CPU for the bridge's own work"
        )
    show(
        f"\n_aiohttp's floor: a bare aiohttp server answering the cached list's "
        f"{_bytes(floor.body_bytes)} (no middleware, no lookup; `bench.passthrough "
        f"--answer-bytes`) costs **{_num(floor.cpu * US)} µs** per request, "
        f"**{_num(floor.ratio, '.2f')}×** the hop's CPU for list jobs (same rounds), "
        f"{verdict}._"
    )


def serial_table(summaries: Sequence[Summary], args: argparse.Namespace, show: Show) -> None:
    show(
        f"\n### Latency at concurrency 1 ({args.serial_requests} requests per run, "
        f"median of {args.repeats} rounds): the bridge's own time, without queueing\n"
    )
    show(
        "| scenario | p50 direct / hop / nginx / bridge (ms) "
        "| p99 direct / hop / nginx / bridge (ms) | added p50 (ms), target ≤ +1 ms "
        "| added p99 (ms) |"
    )
    show("| --- | ---: | ---: | ---: | ---: |")
    for s in summaries:
        show(
            f"| {s.name} | {_four(s, lambda x: x.p50, _ms)} | {_four(s, lambda x: x.p99, _ms)} "
            f"| {_signed_ms(s.added_p50)} {_mark(p50_within_target(s))} "
            f"| {_signed_ms(s.added_p99)} |"
        )


def memory_line(growth: Sequence[float], show: Show) -> None:
    median = _median(growth)
    runs = ", ".join(f"{g / MB:.1f}" for g in growth)
    show(
        f"\n### Memory\n\nBridge peak RSS (VmHWM) growth during a 25 MB upload, fresh "
        f"process each round: **{median / MB:.1f} MB** median (rounds: {runs} MB) "
        f"{_mark(median <= UPLOAD_GROWTH_TARGET)} (target ≤ 10 MB)"
    )


def _listed(rows: Sequence[Summary], value: Callable[[Summary], str]) -> str:
    return "; ".join(f"{s.name} {value(s)}" for s in rows) or "no row measured"


def _all(flags: Sequence[bool | None]) -> bool | None:
    known = [f for f in flags if f is not None]
    return all(known) if known else None


def targets_table(found: Measurements, show: Show) -> None:
    """Issue 15's targets, each with the rows it covers and whether every one holds."""
    loaded = [Summary.of(m) for m in found.loaded]
    serial = [Summary.of(m) for m in found.serial]
    show("\n### Issue 15's targets (this run)\n")
    show("| target | rows | met |")
    show("| --- | --- | --- |")
    for kind, label in (
        ("cached", "cached reads ≤ 0.35× the hop's CPU"),
        ("read", "every uncached read ≤ 1.1×"),
        ("create", "creates ≤ 1.3×"),
    ):
        rows = [s for s in loaded if s.kind == kind]
        ratios = _listed(rows, lambda s: f"{_num(s.cpu_ratio, '.2f')}×")
        show(f"| {label} | {ratios} | {_mark(_all([s.cpu_met for s in rows]))} |")
    late = [s for s in serial if not p50_within_target(s)]
    missed = _listed(late, lambda s: _signed_ms(s.added_p50))
    held = _all([p50_within_target(s) for s in serial])
    show(
        f"| added p50 at concurrency 1 ≤ 1 ms, every row | {len(serial) - len(late)} of "
        f"{len(serial)} rows; over: {missed if late else 'none'} | {_mark(held)} |"
    )
    if found.workers is not None:
        scaling = found.workers
        show(
            f"| two workers ≥ 1.7× one worker's cached throughput | {scaling.summary()} "
            f"| {_mark(scaling.met)} |"
        )
    if found.growth:
        median = _median(found.growth)
        show(
            f"| memory during a 25 MB upload ≤ +10 MB | +{median / MB:.1f} MB "
            f"| {_mark(median <= UPLOAD_GROWTH_TARGET)} |"
        )


def tables(found: Measurements, args: argparse.Namespace, show: Show = print) -> None:
    for note in found.notes:
        show(note + "\n")
    summaries = [Summary.of(m) for m in found.loaded]
    throughput_table(summaries, args, show)
    cpu_table(summaries, show)
    if found.floor is not None:
        floor_line(found.floor, show)
    if found.serial:
        serial_table([Summary.of(m) for m in found.serial], args, show)
    if args.compare is not None:
        compare_table(found.loaded, found.serial, args, show)
    if found.workers is not None:
        workers.table(found.workers, show)
    if found.growth:
        memory_line(found.growth, show)
    targets_table(found, show)


def compare_table(
    loaded: list[Measured],
    serial: list[Measured],
    args: argparse.Namespace,
    show: Show = print,
) -> None:
    """This bridge against the bridge of ``--compare DIR``, measured in the same rounds."""
    show(
        f"\n### This bridge vs the bridge of `{args.compare}` (same rounds; ratios are "
        "medians of per-round ratios)\n"
    )
    show(
        "| scenario | connections | req/s this / that | throughput this ÷ that "
        "| p50 this / that (ms) | p99 this / that (ms) | CPU per request this / that (µs) "
        "| CPU this ÷ that |"
    )
    show("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for concurrency, group in ((args.concurrency, loaded), (1, serial)):
        for m in group:
            pairs = [(r.bridge, r.compared) for r in m.rounds if r.compared is not None]
            this = Side.of([a for a, _ in pairs])
            that = Side.of([b for _, b in pairs])
            throughput = _median([a.throughput / b.throughput for a, b in pairs])
            cpu_ratio = _median([_cpu_per_request(a) / _cpu_per_request(b) for a, b in pairs])
            show(
                f"| {m.scenario.name} | {concurrency} | {this.rps:.0f} / {that.rps:.0f} "
                f"| {throughput:.2f} | {_ms(this.p50)} / {_ms(that.p50)} "
                f"| {_ms(this.p99)} / {_ms(that.p99)} "
                f"| {this.cpu * US:.0f} / {that.cpu * US:.0f} | {cpu_ratio:.2f} |"
            )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # 12 rows x 4 paths x 5 rounds: 500 requests per run keep `make bench` near 6 minutes
    # on a loaded 2-core machine (1000 took 11); CPU per request does not need more.
    parser.add_argument("--repeats", type=int, default=5, help="rounds per scenario (5)")
    parser.add_argument("--requests", type=int, default=500, help="requests per run (500)")
    parser.add_argument(
        "--serial-requests", type=int, default=100, help="requests per concurrency-1 run (100)"
    )
    parser.add_argument("--warmup", type=int, default=50, help="unrecorded requests (50)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections (16)")
    parser.add_argument("--only", nargs="*", help="scenarios whose name contains a word")
    parser.add_argument("--skip-upload", action="store_true")
    parser.add_argument("--skip-nginx", action="store_true", help="no native anchor")
    workers.add_arguments(parser)
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also measure the bridge of another checkout (e.g. before a change), same rounds",
    )


def run(args: argparse.Namespace, show: Show = print) -> None:
    started = time.monotonic()

    def progress(message: str) -> None:
        minutes, seconds = divmod(int(time.monotonic() - started), 60)
        print(f"  … {minutes:02d}:{seconds:02d} {message}", file=sys.stderr, flush=True)

    tables(asyncio.run(measure(args, progress)), args, show)


def main(argv: Sequence[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()

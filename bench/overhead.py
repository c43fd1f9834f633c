"""What the bridge costs on top of a bare Python hop, measured side by side (not a test).

Three paths to the same sandbox (API v2, its limiter off), each a separate process:

- **direct**: the load generator straight to the sandbox (v2 calls);
- **hop**: through ``bench.passthrough``, a bare aiohttp proxy that streams bytes
  through untranslated: the floor for any Python proxy;
- **bridge**: ``python -m proxy serve`` (v1 calls), cache off and rate limit off unless
  a row says "cache on", logging at its default level (info, JSON, to /dev/null).

With two or more CPUs, the hop and the bridges are pinned to one core and the load
generator (this process) and the sandbox to another, so the proxy under measurement
has a core of its own. Each scenario runs its three paths in turn, ``--repeats``
times with the order rotated; the table shows medians, and ratios are the median of
the per-round ratios (the three runs of a round are seconds apart, so a neighbour's
load affects them alike). Latency is request sent -> body read, per request, with a
closed loop of ``--concurrency`` kept-open connections.

CPU per request is the proxy process's own CPU time during the measured run (from
``/proc/<pid>/task/*/schedstat``) divided by the requests: it does not depend on
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
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench import harness
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
MB = 1_000_000
UPLOAD_BYTES = 25 * MB
MS = 1000.0
US = 1_000_000.0


# --- processes ------------------------------------------------------------------------


def passthrough(upstream: str, cpu: int | None) -> contextlib.AbstractAsyncContextManager[Server]:
    port = free_port()
    args = ["-m", "bench.passthrough", "--port", str(port), "--upstream", upstream]
    return spawn("hop", args, port, "/v2/ping", cpu=cpu, ready_headers=V2_AUTH)


def bridge(
    upstream_v2: str,
    cpu: int | None,
    *,
    cache_ttl_seconds: float,
    name: str = "bridge",
    checkout: Path | None = None,
) -> contextlib.AbstractAsyncContextManager[Server]:
    """The bridge as measured here: rate limit off, logging at its default level (info,
    JSON); from another ``checkout`` of the project when given. Other ``HOMERUN_BRIDGE_*``
    come from this environment (tests/browser/measure_browsers.py sets one there)."""
    return harness.bridge(
        upstream_v2,
        cpu,
        name=name,
        checkout=checkout,
        inherit_settings=True,
        cache_ttl_seconds=cache_ttl_seconds,
        rate_limit_per_minute=0,
        log_level="info",
        log_format="json",
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
    name: str
    v2: Call  # sent to the sandbox directly and through the hop
    v1: Call  # sent to the bridge
    cached_bridge: bool = False


@dataclass
class Round:
    direct: LoadResult
    hop: LoadResult
    bridge: LoadResult
    compared: LoadResult | None = None  # the bridge of ``--compare DIR``


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


async def scenarios(sandbox_base: str) -> list[Scenario]:
    async with aiohttp.ClientSession(headers=V2_AUTH) as http:
        application_id = await _application_without_files(http, sandbox_base)
        async with http.get(sandbox_base + "/v2/vacancies?filter[status]=public") as response:
            job_id = (await response.json())["data"][0]["id"]
    v2_create, v1_create = _create_bodies(job_id)
    json_type = {"Content-Type": "application/json"}
    form_type = {"Content-Type": "application/x-www-form-urlencoded"}
    list_jobs_v2 = Call("GET", f"/v2/vacancies?{JOB_INCLUDES}&perPage=100", V2_AUTH)
    list_jobs_v1 = Call("GET", "/v1/jobs", V1_AUTH)
    create_v2 = Call("POST", "/v2/job-applications", {**V2_AUTH, **json_type}, v2_create)
    create_v1 = Call("POST", "/v1/applications", {**V1_AUTH, **form_type}, v1_create)
    return [
        Scenario("list jobs", list_jobs_v2, list_jobs_v1),
        Scenario("list jobs, cache on", list_jobs_v2, list_jobs_v1, cached_bridge=True),
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
        Scenario("create application", create_v2, create_v1),
        Scenario("create application, cache on", create_v2, create_v1, cached_bridge=True),
    ]


async def _v2_calls_of(base: str, call: Call) -> int:
    """``X-Upstream-Calls`` of one v1 request (after a first one warmed any cache)."""
    async with aiohttp.ClientSession(headers=call.headers) as http:
        calls = 0
        for n in range(2):
            body = call.body(10_000_000 + n) if callable(call.body) else call.body
            async with http.request(call.method, base + call.path, data=body) as response:
                await response.read()
                if response.status >= 300:
                    raise RuntimeError(f"{call.method} {call.path}: {response.status}")
                calls = int(response.headers["X-Upstream-Calls"])
        return calls


async def _load(
    base: str, call: Call, args: argparse.Namespace, pid: int | None, concurrency: int
) -> LoadResult:
    result = await run_load(
        base + call.path,
        method=call.method,
        concurrency=concurrency,
        requests=args.requests if concurrency > 1 else args.serial_requests,
        warmup=args.warmup,
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


async def measure(
    args: argparse.Namespace, progress: Callable[[str], None]
) -> tuple[list[Measured], list[Measured], list[float]]:
    """Every scenario at ``--concurrency`` and at concurrency 1; upload peak memory."""
    loadgen_cpu, proxy_cpu = cpu_layout()
    if loadgen_cpu is not None:
        os.sched_setaffinity(0, {loadgen_cpu})
    async with contextlib.AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(sandbox(loadgen_cpu))
        hop = await stack.enter_async_context(passthrough(upstream.base, proxy_cpu))
        plain = await stack.enter_async_context(
            bridge(upstream.base + "/v2", proxy_cpu, cache_ttl_seconds=0)
        )
        cached = await stack.enter_async_context(
            bridge(upstream.base + "/v2", proxy_cpu, cache_ttl_seconds=60, name="bridge-cache")
        )
        other: dict[bool, Server] = {}
        if args.compare is not None:
            for cache_on in (False, True):
                other[cache_on] = await stack.enter_async_context(
                    bridge(
                        upstream.base + "/v2",
                        proxy_cpu,
                        cache_ttl_seconds=60 if cache_on else 0,
                        name="compared",
                        checkout=args.compare,
                    )
                )
        chosen = await scenarios(upstream.base)
        if args.only:
            chosen = [s for s in chosen if any(word in s.name for word in args.only)]
        loaded: list[Measured] = []
        serial: list[Measured] = []
        # Scenario by scenario (the creates last: the sandbox grows with every create,
        # and counts candidates by scanning every application).
        for scenario in chosen:
            target = cached if scenario.cached_bridge else plain
            v2_calls = await _v2_calls_of(target.base, scenario.v1)
            plan = [(args.concurrency, loaded)]
            if args.serial_requests > 0:
                plan.append((1, serial))
            for concurrency, results in plan:
                measured = Measured(scenario, v2_calls)
                for repeat in range(args.repeats):
                    progress(f"{scenario.name}, concurrency {concurrency}, round {repeat + 1}")
                    paths: list[tuple[str, str, Call, int | None]] = [
                        ("direct", upstream.base, scenario.v2, None),
                        ("hop", hop.base, scenario.v2, hop.pid),
                        ("bridge", target.base, scenario.v1, target.pid),
                    ]
                    if other:
                        twin = other[scenario.cached_bridge]
                        paths.append(("compared", twin.base, scenario.v1, twin.pid))
                    shift = repeat % len(paths)
                    done: dict[str, LoadResult] = {}
                    for name, base, call, pid in paths[shift:] + paths[:shift]:
                        done[name] = await _load(base, call, args, pid, concurrency)
                    measured.rounds.append(
                        Round(done["direct"], done["hop"], done["bridge"], done.get("compared"))
                    )
                results.append(measured)
        growth: list[float] = []
        if not args.skip_upload:
            for repeat in range(args.repeats):
                progress(f"upload memory, round {repeat + 1}")
                growth.append(await upload_growth(upstream.base + "/v2", proxy_cpu))
    return loaded, serial, growth


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
    return statistics.median(values)


def _cpu_per_request(result: LoadResult) -> float:
    return result.probed / result.count if result.probed is not None else float("nan")


@dataclass(frozen=True)
class Summary:
    """Medians over the rounds of one scenario; ratios are medians of per-round ratios."""

    name: str
    v2_calls: int
    direct_rps: float
    hop_rps: float
    bridge_rps: float
    throughput_ratio: float
    direct_p50: float
    hop_p50: float
    bridge_p50: float
    direct_p99: float
    hop_p99: float
    bridge_p99: float
    added_p50: float
    added_p99: float
    hop_cpu: float
    bridge_cpu: float
    bridge_busy: float

    @classmethod
    def of(cls, measured: Measured) -> Summary:
        rounds = measured.rounds
        return cls(
            name=measured.scenario.name,
            v2_calls=measured.v2_calls,
            direct_rps=_median([r.direct.throughput for r in rounds]),
            hop_rps=_median([r.hop.throughput for r in rounds]),
            bridge_rps=_median([r.bridge.throughput for r in rounds]),
            throughput_ratio=_median([r.bridge.throughput / r.hop.throughput for r in rounds]),
            direct_p50=_median([r.direct.p50 for r in rounds]),
            hop_p50=_median([r.hop.p50 for r in rounds]),
            bridge_p50=_median([r.bridge.p50 for r in rounds]),
            direct_p99=_median([r.direct.p99 for r in rounds]),
            hop_p99=_median([r.hop.p99 for r in rounds]),
            bridge_p99=_median([r.bridge.p99 for r in rounds]),
            added_p50=_median([r.bridge.p50 - r.hop.p50 for r in rounds]),
            added_p99=_median([r.bridge.p99 - r.hop.p99 for r in rounds]),
            hop_cpu=_median([_cpu_per_request(r.hop) for r in rounds]),
            bridge_cpu=_median([_cpu_per_request(r.bridge) for r in rounds]),
            bridge_busy=_median(
                [(r.bridge.probed or 0.0) / r.bridge.elapsed for r in rounds if r.bridge.elapsed]
            ),
        )


def _ms(seconds: float) -> str:
    return f"{seconds * MS:.2f}"


def _signed_ms(seconds: float) -> str:
    return f"{seconds * MS:+.2f}"


def _mark(ok: bool) -> str:
    return "✅" if ok else "❌"


def tables(
    loaded: list[Measured],
    serial: list[Measured],
    growth: list[float],
    args: argparse.Namespace,
    show: Callable[[str], None] = print,
) -> None:
    summaries = [Summary.of(m) for m in loaded]
    show(
        f"### Throughput and latency, {args.concurrency} connections "
        f"({args.requests} requests per run, median of {args.repeats} rounds)\n"
    )
    show(
        "| scenario | v2 calls per request | direct req/s | hop req/s | bridge req/s "
        "| bridge / hop throughput | p50 direct / hop / bridge (ms) "
        "| p99 direct / hop / bridge (ms) | added p50 (ms) | added p99 (ms) |"
    )
    show("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for s in summaries:
        show(
            f"| {s.name} | {s.v2_calls} | {s.direct_rps:.0f} | {s.hop_rps:.0f} "
            f"| {s.bridge_rps:.0f} | {s.throughput_ratio:.0%} {_mark(s.throughput_ratio >= 0.7)} "
            f"| {_ms(s.direct_p50)} / {_ms(s.hop_p50)} / {_ms(s.bridge_p50)} "
            f"| {_ms(s.direct_p99)} / {_ms(s.hop_p99)} / {_ms(s.bridge_p99)} "
            f"| {_signed_ms(s.added_p50)} {_mark(s.added_p50 <= 0.001)} "
            f"| {_signed_ms(s.added_p99)} |"
        )
    show(
        "\n### Proxy CPU per request (same runs; independent of which process was the bottleneck)\n"
    )
    show(
        "| scenario | hop CPU (µs) | bridge CPU (µs) | bridge / hop CPU "
        "| hop-bound throughput ratio | bridge core busy |"
    )
    show("| --- | ---: | ---: | ---: | ---: | ---: |")
    for s in summaries:
        show(
            f"| {s.name} | {s.hop_cpu * US:.0f} | {s.bridge_cpu * US:.0f} "
            f"| {s.bridge_cpu / s.hop_cpu:.2f}× | {s.hop_cpu / s.bridge_cpu:.0%} "
            f"| {s.bridge_busy:.0%} |"
        )
    if serial:
        show(
            f"\n### Latency at concurrency 1 ({args.serial_requests} requests per run, "
            f"median of {args.repeats} rounds): the bridge's own time, without queueing\n"
        )
        show(
            "| scenario | p50 direct / hop / bridge (ms) | p99 direct / hop / bridge (ms) "
            "| added p50 (ms) | added p99 (ms) |"
        )
        show("| --- | ---: | ---: | ---: | ---: |")
        for s in (Summary.of(m) for m in serial):
            show(
                f"| {s.name} | {_ms(s.direct_p50)} / {_ms(s.hop_p50)} / {_ms(s.bridge_p50)} "
                f"| {_ms(s.direct_p99)} / {_ms(s.hop_p99)} / {_ms(s.bridge_p99)} "
                f"| {_signed_ms(s.added_p50)} {_mark(s.added_p50 <= 0.001)} "
                f"| {_signed_ms(s.added_p99)} |"
            )
    if args.compare is not None:
        compare_table(loaded, serial, args, show)
    if growth:
        median = _median(growth)
        runs = ", ".join(f"{g / MB:.1f}" for g in growth)
        show(
            f"\n### Memory\n\nBridge peak RSS (VmHWM) growth during a 25 MB upload, fresh "
            f"process each round: **{median / MB:.1f} MB** median (rounds: {runs} MB) "
            f"{_mark(median <= 10 * MB)} (target ≤ 10 MB)"
        )


def compare_table(
    loaded: list[Measured],
    serial: list[Measured],
    args: argparse.Namespace,
    show: Callable[[str], None] = print,
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
            this = [a for a, _ in pairs]
            that = [b for _, b in pairs]
            med = _median
            rps = f"{med([r.throughput for r in this]):.0f} / "
            rps += f"{med([r.throughput for r in that]):.0f}"
            p50 = f"{_ms(med([r.p50 for r in this]))} / {_ms(med([r.p50 for r in that]))}"
            p99 = f"{_ms(med([r.p99 for r in this]))} / {_ms(med([r.p99 for r in that]))}"
            cpu_this = med([_cpu_per_request(r) for r in this]) * US
            cpu_that = med([_cpu_per_request(r) for r in that]) * US
            cpu_ratio = med([_cpu_per_request(a) / _cpu_per_request(b) for a, b in pairs])
            show(
                f"| {m.scenario.name} | {concurrency} | {rps} "
                f"| {med([a.throughput / b.throughput for a, b in pairs]):.2f} | {p50} | {p99} "
                f"| {cpu_this:.0f} / {cpu_that:.0f} | {cpu_ratio:.2f} |"
            )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--repeats", type=int, default=5, help="rounds per scenario (5)")
    parser.add_argument("--requests", type=int, default=1000, help="requests per run (1000)")
    parser.add_argument(
        "--serial-requests", type=int, default=200, help="requests per concurrency-1 run (200)"
    )
    parser.add_argument("--warmup", type=int, default=100, help="unrecorded requests (100)")
    parser.add_argument("--concurrency", type=int, default=16, help="connections (16)")
    parser.add_argument("--only", nargs="*", help="scenarios whose name contains a word")
    parser.add_argument("--skip-upload", action="store_true")
    parser.add_argument(
        "--compare",
        type=Path,
        metavar="DIR",
        help="also measure the bridge of another checkout (e.g. before a change), same rounds",
    )


def run(args: argparse.Namespace, show: Callable[[str], None] = print) -> None:
    def progress(message: str) -> None:
        print(f"  … {message}", file=sys.stderr, flush=True)

    loaded, serial, growth = asyncio.run(measure(args, progress))
    tables(loaded, serial, growth, args, show)


def main(argv: Sequence[str] | None = None) -> Any:
    parser = argparse.ArgumentParser(prog="python -m bench.overhead", description=__doc__)
    add_arguments(parser)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()

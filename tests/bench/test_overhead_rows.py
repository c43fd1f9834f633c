"""The overhead bench's rows still measure what their names say, and the tables judge each
row against its issue-15 target.

The rows run for real (sandbox, hop, nginx when installed, bridges: processes on real
sockets), with tiny request counts; what is asserted is what each row sends and gets
(statuses, bytes, v2 calls), never a time. The tables are checked on made-up results.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
from collections import Counter
from collections.abc import Sequence

import pytest

from bench import overhead
from bench.load import LoadResult
from tests.browser import measure_browsers

TINY = ["--repeats", "1", "--requests", "12", "--serial-requests", "4", "--warmup", "2"]


def bench_args(*extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    overhead.add_arguments(parser)
    return parser.parse_args([*TINY, *extra])


def by_name(measured: Sequence[overhead.Measured]) -> dict[str, overhead.Measured]:
    return {m.scenario.name: m for m in measured}


async def test_every_row_sends_what_its_name_says_through_every_path() -> None:
    args = bench_args()
    notes: list[str] = []
    async with contextlib.AsyncExitStack() as stack:
        servers = await overhead.start_servers(stack, args, notes)
        rows = await overhead.scenarios(servers.upstream.base)
        measured: list[overhead.Measured] = []
        for scenario in rows:
            if scenario.conditional:
                call = await overhead.with_etag(servers.bridge_for(scenario).base, scenario.v1)
                if call is None:
                    continue  # a tree without ETags: the bench skips the row (and says so)
                scenario = dataclasses.replace(scenario, v1=call)
            measured.append(await overhead.measure_scenario(servers, scenario, 2, args, print))
        floor = await overhead.measure_floor(servers, args, print)
    rows_measured = by_name(measured)
    (bare, hop), *_ = floor.rounds
    cached = rows_measured["list jobs, cache on"].rounds[0].bridge
    assert floor.body_bytes == bare.body_bytes, "the floor sends the cached list's size"
    # (creates ran since that row: a candidate count may have grown a digit)
    assert floor.body_bytes == pytest.approx(cached.body_bytes, abs=8)
    assert bare.ok and hop.ok and bare.probed and hop.probed
    assert len({s.name for s in rows}) == len(rows), "row names are unique"
    for m in measured:
        (only,) = m.rounds
        paths = [only.direct, only.hop, only.bridge] + ([only.native] if only.native else [])
        sent = overhead.requests_for(args, m.scenario, 2)
        assert all(r.ok and r.count == sent for r in paths), m.scenario.name
        assert (only.native is None) == (servers.native is None)
        assert only.bridge.probed is not None and only.bridge.probed > 0
    assert rows_measured["list jobs"].v2_calls == 1
    assert rows_measured["list jobs, cache on"].v2_calls == 0
    preflight = rows_measured["CORS preflight (v2 side: GET /v2/ping)"]
    assert preflight.v2_calls == 0, "a preflight is answered by the bridge itself"
    assert set(preflight.rounds[0].bridge.statuses) == {204}
    head = rows_measured["list jobs, HEAD"].rounds[0]
    assert head.bridge.wire_bytes == 0 and head.hop.wire_bytes == 0
    plain = rows_measured["list applications (per_page 100)"].rounds[0]
    gzip = rows_measured["list applications (per_page 100), gzip"].rounds[0]
    assert plain.bridge.body_bytes > 50_000, "a 100-item page is large"
    assert gzip.bridge.body_bytes < plain.bridge.body_bytes / 4, "the bridge gzips when asked"
    assert gzip.hop.body_bytes == pytest.approx(plain.hop.body_bytes, rel=0.05), (
        "the sandbox does not compress: the hop passes its identity bytes"
    )
    if gzip.native is not None:
        assert gzip.native.body_bytes < plain.hop.body_bytes / 4, "nginx gzips when asked"
    conditional = rows_measured.get("list jobs, cache on, If-None-Match (304)")
    if conditional is not None:
        assert set(conditional.rounds[0].bridge.statuses) == {304}
        assert conditional.rounds[0].bridge.wire_bytes == 0
        assert conditional.v2_calls == 0


async def test_a_run_without_nginx_says_so_and_prints_na(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NGINX", "")
    args = bench_args("--only", "preflight", "--skip-upload", "--skip-workers")
    found = await overhead.measure(args, lambda message: None)
    assert [m.scenario.name for m in found.loaded] == ["CORS preflight (v2 side: GET /v2/ping)"]
    assert found.serial and found.workers is None and not found.growth
    lines: list[str] = []
    overhead.tables(found, args, lines.append)
    text = "\n".join(lines)
    assert "nginx not found" in text
    assert "n/a" in text, "the nginx columns of a run without nginx"


def result(requests: int, cpu_seconds: float, latency: float = 0.002) -> LoadResult:
    return LoadResult(
        [latency] * requests, requests * latency, Counter({200: requests}), 0, cpu_seconds
    )


def row(
    name: str, kind: overhead.Kind | None, hop_cpu: float, bridge_cpu: float
) -> overhead.Measured:
    call = overhead.Call("GET", "/", {})
    scenario = overhead.Scenario(name, call, call, kind=kind)
    measured = overhead.Measured(scenario, v2_calls=1)
    measured.rounds.append(
        overhead.Round(
            direct=result(100, 0.0), hop=result(100, hop_cpu), bridge=result(100, bridge_cpu)
        )
    )
    return measured


def section(lines: Sequence[str], title: str) -> list[str]:
    """The table rows under the heading that names ``title``, up to the next heading."""
    start = next(n for n, line in enumerate(lines) if "###" in line and title in line)
    rows: list[str] = []
    for line in lines[start + 1 :]:
        if line.lstrip("\n").startswith("###"):
            break
        if line.startswith("| ") and not line.startswith("| scenario"):
            rows.append(line)
    return rows


def test_each_row_is_judged_against_its_own_target() -> None:
    found = overhead.Measurements(
        loaded=[
            row("cached fast", "cached", 0.030, 0.009),  # 0.30×
            row("read slow", "read", 0.030, 0.036),  # 1.20×
            row("create fine", "create", 0.030, 0.036),  # 1.20×
            row("gzip cost", None, 0.030, 0.090),
        ],
        growth=[2e6],
    )
    found.serial = [row("read slow", "read", 0.03, 0.036)]
    found.serial[0].rounds[0].bridge.latencies[:] = [0.0045] * 100  # hop 2 ms: +2.5 ms
    lines: list[str] = []
    overhead.tables(found, bench_args(), lines.append)
    cpu = {line.split(" | ")[0].lstrip("| "): line for line in section(lines, "Proxy CPU")}
    assert cpu["cached fast"].endswith("| ≤ 0.35× ✅ |")
    assert cpu["read slow"].endswith("| ≤ 1.10× ❌ |")
    assert cpu["create fine"].endswith("| ≤ 1.30× ✅ |")
    assert cpu["gzip cost"].endswith("| — |"), "a cost to read has no target"
    text = "\n".join(lines)
    assert "| cached reads ≤ 0.35× the hop's CPU | cached fast 0.30× | ✅ |" in text
    assert "| every uncached read ≤ 1.1× | read slow 1.20× | ❌ |" in text
    assert "0 of 1 rows; over: read slow +2.50 | ❌ |" in text
    assert "| memory during a 25 MB upload ≤ +10 MB | +2.0 MB | ✅ |" in text


def test_the_browser_measurement_is_the_bench_on_its_browser_rows() -> None:
    args = bench_args(*measure_browsers.arguments(["--repeats", "2"]))
    assert args.skip_upload and args.skip_workers and args.repeats == 2
    names = [s.name for s in overhead.read_scenarios("1") + overhead.create_scenarios("1")]
    chosen = [n for n in names if any(word in n for word in args.only)]
    assert "list applications (per_page 100), gzip" in chosen
    assert "CORS preflight (v2 side: GET /v2/ping)" in chosen
    assert "list jobs, HEAD" in chosen
    assert "create application" not in chosen and "list jobs" not in chosen

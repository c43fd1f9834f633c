"""What gzip costs the bridge: CPU per 100-item page with and without it, side by side.

    .venv/bin/python -m tests.browser.measure_gzip [--rounds 5] [--requests 200]

Not a test (nothing here gates on a time): a measurement to read. The sandbox (demo data)
and the bridge run as processes, pinned apart as ``bench/`` pins them; CPU per request is
the bridge process's own CPU time (``/proc/<pid>/task/*/schedstat``) over the requests, so
it does not depend on which process was the bottleneck. Rounds alternate identity and gzip
to share whatever else the machine is doing; the median round is printed. It also prints
the page's size plain and gzipped, and the cost of compressing it alone (zlib, level 6,
what aiohttp's compression uses).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import zlib

import aiohttp

from bench.overhead import V1_KEY, bridge, cpu_layout, cpu_seconds, sandbox

PAGE = "/v1/applications?per_page=100"
AUTH = {"Authorization": f"Bearer {V1_KEY}"}
CONCURRENCY = 4


async def _load(base: str, accept_encoding: str, requests: int) -> int:
    """``requests`` reads of the page; the bytes of the last answer as sent."""
    headers = {**AUTH, "Accept-Encoding": accept_encoding}
    size = 0
    queue = iter(range(requests))

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal size
        for _ in queue:
            async with http.get(base + PAGE, headers=headers) as response:
                assert response.status == 200, response.status
                size = len(await response.read())

    async with aiohttp.ClientSession(
        auto_decompress=False, skip_auto_headers=("Accept-Encoding",)
    ) as http:
        await asyncio.gather(*(worker(http) for _ in range(CONCURRENCY)))
    return size


def _compress_alone(body: bytes, repeats: int = 200) -> float:
    """CPU seconds to gzip ``body`` once, as aiohttp does (zlib, default level)."""
    started = time.process_time()
    for _ in range(repeats):
        compressor = zlib.compressobj(wbits=16 + zlib.MAX_WBITS)
        compressor.compress(body)
        compressor.flush()
    return (time.process_time() - started) / repeats


async def measure(rounds: int, requests: int) -> None:
    loadgen_cpu, bridge_cpu = cpu_layout()
    if loadgen_cpu is not None:
        os.sched_setaffinity(0, {loadgen_cpu})
    async with (
        sandbox(loadgen_cpu) as upstream,
        bridge(upstream.base + "/v2", bridge_cpu, cache_ttl_seconds=60) as proxy,
    ):
        sizes = {
            name: await _load(proxy.base, coding, 20)  # warm-up
            for name, coding in (("identity", "identity"), ("gzip", "gzip, deflate, br"))
        }
        per_request: dict[str, list[float]] = {"identity": [], "gzip": []}
        for _ in range(rounds):
            for name, coding in (("identity", "identity"), ("gzip", "gzip, deflate, br")):
                before = cpu_seconds(proxy.pid)
                await _load(proxy.base, coding, requests)
                per_request[name].append((cpu_seconds(proxy.pid) - before) / requests)
        async with (
            aiohttp.ClientSession() as http,
            http.get(
                proxy.base + PAGE, headers={**AUTH, "Accept-Encoding": "identity"}
            ) as response,
        ):
            body = await response.read()
    plain = statistics.median(per_request["identity"]) * 1e6
    zipped = statistics.median(per_request["gzip"]) * 1e6
    alone = _compress_alone(body) * 1e6
    pinning = f"bridge on CPU {bridge_cpu}" if bridge_cpu is not None else "not pinned"
    print(f"GET {PAGE} through the bridge ({rounds} rounds x {requests} requests, {pinning})")
    print(f"  size plain           {sizes['identity']:>9} bytes")
    print(
        f"  size gzipped         {sizes['gzip']:>9} bytes "
        f"({sizes['gzip'] / sizes['identity']:.1%} of plain)"
    )
    print(f"  bridge CPU, identity {plain:>9.0f} µs/request")
    print(f"  bridge CPU, gzip     {zipped:>9.0f} µs/request ({zipped / plain:.2f}x)")
    print(f"  added by gzip        {zipped - plain:>9.0f} µs/request")
    print(f"  zlib on the page     {alone:>9.0f} µs (compression alone, this process)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(measure(args.rounds, args.requests))


if __name__ == "__main__":
    main()

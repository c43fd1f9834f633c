"""What browsers cost the bridge: gzip and CORS, CPU per request side by side.

    .venv/bin/python -m tests.browser.measure_browsers [--rounds 5] [--requests 200]

Not a test (nothing here gates on a time): a measurement to read. The sandbox (demo data)
and the bridge (CORS on for one origin) run as processes, pinned apart as ``bench/`` pins
them; CPU per request is the bridge process's own CPU time (``/proc/<pid>/task/*/schedstat``)
over the requests, so it does not depend on which process was the bottleneck. Each round
runs every variant once, to share whatever else the machine is doing; the median round is
printed. Rows:

- the 100-item page (``GET /v1/applications?per_page=100``) plain and gzipped, with its
  sizes and the cost of compressing it alone (zlib at its default level, as aiohttp does);
- a cached ``GET /v1/jobs`` without ``Origin`` and from the allowed origin (CORS headers);
- a preflight, answered by the bridge itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import zlib
from dataclasses import dataclass

import aiohttp

from bench.overhead import V1_KEY, bridge, cpu_layout, cpu_seconds, sandbox

PAGE = "/v1/applications?per_page=100"
WIDGET = "https://careers.example.com"
AUTH = {"Authorization": f"Bearer {V1_KEY}"}
CONCURRENCY = 4


@dataclass(frozen=True)
class Variant:
    name: str
    method: str
    path: str
    headers: dict[str, str]


VARIANTS = (
    Variant("page, identity", "GET", PAGE, {**AUTH, "Accept-Encoding": "identity"}),
    Variant("page, gzip", "GET", PAGE, {**AUTH, "Accept-Encoding": "gzip, deflate, br"}),
    Variant("cached jobs, no Origin", "GET", "/v1/jobs", AUTH),
    Variant("cached jobs, CORS", "GET", "/v1/jobs", {**AUTH, "Origin": WIDGET}),
    Variant(
        "preflight",
        "OPTIONS",
        "/v1/applications",
        {
            "Origin": WIDGET,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    ),
)


async def _load(base: str, variant: Variant, requests: int) -> int:
    """``requests`` calls of one variant; the bytes of the last answer as sent."""
    size = 0
    queue = iter(range(requests))

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal size
        for _ in queue:
            async with http.request(
                variant.method, base + variant.path, headers=variant.headers
            ) as response:
                assert response.status in (200, 204), response.status
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
    # bench.overhead's bridge takes the rest of its settings from this environment.
    os.environ["HOMERUN_BRIDGE_CORS_ALLOWED_ORIGINS"] = WIDGET
    async with (
        sandbox(loadgen_cpu) as upstream,
        bridge(upstream.base + "/v2", bridge_cpu, cache_ttl_seconds=3600) as proxy,
    ):
        sizes = {v.name: await _load(proxy.base, v, 20) for v in VARIANTS}  # and warm-up
        per_request: dict[str, list[float]] = {v.name: [] for v in VARIANTS}
        for _ in range(rounds):
            for variant in VARIANTS:
                before = cpu_seconds(proxy.pid)
                await _load(proxy.base, variant, requests)
                per_request[variant.name].append((cpu_seconds(proxy.pid) - before) / requests)
        async with (
            aiohttp.ClientSession() as http,
            http.get(proxy.base + PAGE, headers=VARIANTS[0].headers) as response,
        ):
            body = await response.read()
    cpu = {name: statistics.median(values) * 1e6 for name, values in per_request.items()}
    pinning = f"bridge on CPU {bridge_cpu}" if bridge_cpu is not None else "not pinned"
    print(f"bridge CPU per request, median of {rounds} rounds x {requests} requests ({pinning})")
    for variant in VARIANTS:
        print(f"  {variant.name:<24} {cpu[variant.name]:>7.0f} µs   {sizes[variant.name]:>7} bytes")
    plain, zipped = sizes["page, identity"], sizes["page, gzip"]
    print(
        f"gzip on the 100-item page: {zipped / plain:.1%} of the bytes, "
        f"+{cpu['page, gzip'] - cpu['page, identity']:.0f} µs "
        f"({cpu['page, gzip'] / cpu['page, identity']:.2f}x); "
        f"zlib alone {_compress_alone(body) * 1e6:.0f} µs"
    )
    print(
        f"CORS headers on a cached read: "
        f"{cpu['cached jobs, CORS'] - cpu['cached jobs, no Origin']:+.0f} µs "
        f"({cpu['cached jobs, CORS'] / cpu['cached jobs, no Origin']:.2f}x); "
        f"a preflight costs {cpu['preflight'] / cpu['cached jobs, no Origin']:.2f}x "
        "a cached read and no upstream call"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    asyncio.run(measure(args.rounds, args.requests))


if __name__ == "__main__":
    main()

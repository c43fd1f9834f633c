"""A closed-loop HTTP load generator: N connections kept open, per-request latency.

One ``ClientSession`` whose connector holds exactly ``concurrency`` connections; as
many workers as connections, each sending its next request as soon as the previous
answer is read in full. Latency is measured per request with ``time.perf_counter``
(request sent -> body read). A warm-up (not recorded) opens the connections first.
No ``Accept-Encoding`` is sent unless given in the headers (aiohttp would send ``gzip,
deflate`` by default, and the bridge would then compress every answer of 1 KiB or more
while the hop forwards the sandbox's identity bytes); bodies are read as sent.

    .venv/bin/python -m bench.load URL [-c 16] [-n 2000] [-H 'Name: value'] [--method POST --body …]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import aiohttp

Body = bytes | Callable[[int], bytes] | None


@dataclass(frozen=True, slots=True)
class LoadResult:
    """What one run measured: every latency (seconds), the statuses and the wall time."""

    latencies: list[float]
    elapsed: float
    statuses: Counter[int] = field(default_factory=Counter)
    errors: int = 0
    probed: float | None = None  # probe() after the measured requests minus before
    wire_bytes: int = 0  # answer bodies as sent (compressed when the server compressed)
    probed_each: dict[int, float] = field(default_factory=dict)  # probe_each(), per key

    @property
    def count(self) -> int:
        return len(self.latencies)

    @property
    def throughput(self) -> float:
        """Completed requests per second."""
        return self.count / self.elapsed if self.elapsed > 0 else 0.0

    def percentile(self, q: float) -> float:
        """Nearest-rank percentile (q in 0..100) of the latencies, in seconds."""
        if not self.latencies:
            return math.nan
        ordered = sorted(self.latencies)
        rank = max(1, math.ceil(q / 100 * len(ordered)))
        return ordered[rank - 1]

    @property
    def p50(self) -> float:
        return self.percentile(50)

    @property
    def p99(self) -> float:
        return self.percentile(99)

    @property
    def body_bytes(self) -> float:
        """Mean answer body per request, as sent on the wire."""
        return self.wire_bytes / self.count if self.count else math.nan

    @property
    def ok(self) -> bool:
        """No error and every answer a success: 2xx, or 304 to a conditional request."""
        return self.errors == 0 and all(200 <= s < 300 or s == 304 for s in self.statuses)


async def run_load(
    url: str,
    *,
    method: str = "GET",
    concurrency: int = 16,
    requests: int = 2000,
    warmup: int = 0,
    headers: Mapping[str, str] | None = None,
    body: Body = None,
    probe: Callable[[], float] | None = None,
    probe_each: Callable[[], Mapping[int, float]] | None = None,
) -> LoadResult:
    """Send ``requests`` requests over ``concurrency`` kept-open connections.

    ``body`` is bytes sent with every request, or a function of the request number
    (for bodies that must differ, e.g. unique e-mail addresses). ``probe`` is read
    right before and right after the measured requests (e.g. a server's CPU time);
    ``probe_each`` likewise, per key (e.g. the CPU time of each worker process).
    """
    connector = aiohttp.TCPConnector(limit=concurrency, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector,
        timeout=timeout,
        headers=dict(headers or {}),
        auto_decompress=False,
        skip_auto_headers=("Accept-Encoding",),
    ) as session:
        counter = 0
        latencies: list[float] = []
        statuses: Counter[int] = Counter()
        errors = 0
        wire_bytes = 0

        async def one(number: int, record: bool) -> None:
            nonlocal errors, wire_bytes
            data = body(number) if callable(body) else body
            started = time.perf_counter()
            try:
                async with session.request(method, url, data=data) as response:
                    size = len(await response.read())
                    status = response.status
            except (aiohttp.ClientError, TimeoutError):
                errors += 1
                return
            if record:
                latencies.append(time.perf_counter() - started)
                statuses[status] += 1
                wire_bytes += size

        async def worker(total: int, record: bool) -> None:
            nonlocal counter
            while counter < total:
                counter += 1
                await one(counter, record)

        workers = max(1, concurrency)
        if warmup:
            await asyncio.gather(*(worker(warmup, False) for _ in range(workers)))
        counter = 0
        before = probe() if probe is not None else None
        before_each = dict(probe_each()) if probe_each is not None else {}
        start = time.perf_counter()
        await asyncio.gather(*(worker(requests, True) for _ in range(workers)))
        elapsed = time.perf_counter() - start
        probed = probe() - before if probe is not None and before is not None else None
        after_each = dict(probe_each()) if probe_each is not None else {}
    each = {k: v - before_each[k] for k, v in after_each.items() if k in before_each}
    return LoadResult(latencies, elapsed, statuses, errors, probed, wire_bytes, each)


def _headers(raw: list[str]) -> dict[str, str]:
    pairs = (item.split(":", 1) for item in raw)
    return {name.strip(): value.strip() for name, value in pairs}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("url")
    parser.add_argument("-c", "--concurrency", type=int, default=16)
    parser.add_argument("-n", "--requests", type=int, default=2000)
    parser.add_argument("-w", "--warmup", type=int, default=200)
    parser.add_argument("-X", "--method", default="GET")
    parser.add_argument("-H", "--header", action="append", default=[])
    parser.add_argument("--body", default=None, help="request body (text)")
    args = parser.parse_args()
    result = asyncio.run(
        run_load(
            args.url,
            method=args.method,
            concurrency=args.concurrency,
            requests=args.requests,
            warmup=args.warmup,
            headers=_headers(args.header),
            body=args.body.encode() if args.body is not None else None,
        )
    )
    print(
        f"{result.count} requests in {result.elapsed:.2f} s: {result.throughput:.0f} req/s, "
        f"p50 {result.p50 * 1000:.2f} ms, p99 {result.p99 * 1000:.2f} ms, "
        f"statuses {dict(result.statuses)}, errors {result.errors}"
    )


if __name__ == "__main__":
    main()

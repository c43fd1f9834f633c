"""Where a bench row's bridge CPU goes: py-spy on the bridge while the row's load runs.

    .venv/bin/python -m bench.profile "list jobs, cache on" [--seconds 15] [--rate 200]

Starts the sandbox and the row's bridge as the overhead bench does (same settings, same
pinning), runs the row's v1 request in a closed loop of 16 connections for ``--seconds``
while ``py-spy record --format raw`` samples the bridge, then prints the share of samples
per place where the time was spent (the innermost frame's package or project file: time
inside a C call such as zlib counts for the Python function that made it) and the project
functions with the largest inclusive share. py-spy is not a dependency: ``pip install
py-spy`` into the venv (it is on PyPI); without it this says so and stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench import harness, overhead, workers
from bench.load import run_load

PROJECT = Path(__file__).resolve().parent.parent
ENTRY_POINTS = ("proxy/__main__.py", "proxy/cli.py")  # in every sample: not informative
FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")


def py_spy() -> Path | None:
    """py-spy beside this Python (the venv's), else on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    if os.access(beside, os.X_OK):
        return beside
    found = shutil.which("py-spy")
    return Path(found) if found else None


@dataclass(frozen=True)
class Frame:
    function: str
    file: str

    @property
    def place(self) -> str:
        """A package name, a project file (``proxy/cache.py``) or a stdlib module."""
        path = self.file
        if "site-packages/" in path:
            return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
        with contextlib.suppress(ValueError):
            return str(Path(path).resolve().relative_to(PROJECT))
        if path.startswith("<"):
            return path
        parts = Path(path).parts
        stdlib = [p for p in parts if p.startswith("python3")]
        if stdlib:
            tail = parts[parts.index(stdlib[-1]) + 1 :]
            return tail[0].removesuffix(".py") if tail else path
        return path

    @property
    def own(self) -> bool:
        """A frame of the bridge's own code (its entry points left out)."""
        place = self.place
        return place.startswith(("proxy/", "mappings/")) and place not in ENTRY_POINTS


def parse_frame(text: str) -> Frame:
    match = FRAME.match(text.strip())
    if match is None:
        return Frame(text.strip(), "?")
    return Frame(match["function"], match["file"])


def parse_raw(lines: Iterable[str]) -> list[tuple[list[Frame], int]]:
    """py-spy's raw (collapsed) format: ``outer;…;inner count`` per line."""
    stacks: list[tuple[list[Frame], int]] = []
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            continue
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        stacks.append(([parse_frame(f) for f in stack.split(";") if f], int(count)))
    return stacks


GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("the bridge's code (proxy/, mappings/)", ("proxy/", "mappings/")),
    ("pydantic (validating v2 bodies)", ("pydantic",)),
    ("structlog (logging)", ("structlog",)),
    ("prometheus_client (metrics)", ("prometheus_client",)),
    ("redis client", ("redis",)),
    ("aiohttp, asyncio, sockets (server, client, loop)", (
        "aiohttp", "asyncio", "selectors", "socket", "multidict", "yarl", "ssl",
    )),
)  # fmt: skip


def group_of(place: str) -> str:
    for name, prefixes in GROUPS:
        if place.startswith(prefixes):
            return name
    return "other (stdlib, zlib, json, …)"


@dataclass(frozen=True)
class Profile:
    total: int
    by_place: Counter[str]  # innermost frame's place (self time)
    by_function: Counter[str]  # project functions, inclusive

    @classmethod
    def of(cls, stacks: Sequence[tuple[list[Frame], int]]) -> Profile:
        by_place: Counter[str] = Counter()
        by_function: Counter[str] = Counter()
        total = 0
        for frames, count in stacks:
            if not frames:
                continue
            total += count
            by_place[frames[-1].place] += count
            for name in {f"{f.place}:{f.function}" for f in frames if f.own}:
                by_function[name] += count
        return cls(total, by_place, by_function)

    def lines(self, top: int = 15) -> list[str]:
        def share(count: int) -> str:
            return f"{count / self.total:.1%}" if self.total else "n/a"

        groups: Counter[str] = Counter()
        for place, n in self.by_place.items():
            groups[group_of(place)] += n
        out = [f"{self.total} samples", "", "| group (innermost frame) | share |", "| --- | ---: |"]
        out += [f"| {name} | {share(n)} |" for name, n in groups.most_common()]
        out += ["", "| where (innermost frame) | share |", "| --- | ---: |"]
        out += [f"| {place} | {share(n)} |" for place, n in self.by_place.most_common(top)]
        out += ["", "| project function (inclusive) | share |", "| --- | ---: |"]
        out += [f"| `{name}` | {share(n)} |" for name, n in self.by_function.most_common(top)]
        return out


def choose(rows: Sequence[overhead.Scenario], wanted: str) -> overhead.Scenario:
    """The row named ``wanted``, else the first whose name contains it."""
    chosen = [s for s in rows if s.name == wanted] or [s for s in rows if wanted in s.name]
    if not chosen:
        raise SystemExit(f"no row named {wanted!r}: {', '.join(s.name for s in rows)}")
    return chosen[0]


async def _profile(
    wanted: str, seconds: float, rate: int, spy: Path, store_url: str | None
) -> tuple[str, Profile]:
    loadgen_cpu, proxy_cpu = harness.cpu_layout()
    if loadgen_cpu is not None:
        os.sched_setaffinity(0, {loadgen_cpu})
    async with harness.sandbox(loadgen_cpu) as upstream:
        scenario = choose(await overhead.scenarios(upstream.base), wanted)
        ttl = 60 if scenario.cached_bridge else 0
        store: dict[str, Any] = (
            {"store_url": store_url, "store_prefix": f"homerun-bench-profile-{os.getpid()}:"}
            if store_url
            else {}
        )
        async with overhead.bridge(
            upstream.base + "/v2", proxy_cpu, cache_ttl_seconds=ttl, **store
        ) as server:
            call = scenario.v1
            if scenario.conditional:
                call = await overhead.with_etag(server.base, call) or call
            with tempfile.TemporaryDirectory(prefix="bench-profile-") as folder:
                raw = Path(folder) / "profile.txt"
                record = await asyncio.create_subprocess_exec(
                    str(spy), "record", "--pid", str(server.pid), "--rate", str(rate),
                    "--format", "raw", "--output", str(raw), "--nonblocking",
                    "--duration", str(int(seconds)),
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.PIPE,
                )  # fmt: skip
                deadline = time.monotonic() + seconds
                while time.monotonic() < deadline and record.returncode is None:
                    await run_load(
                        server.base + call.path,
                        method=call.method,
                        concurrency=16,
                        requests=500,
                        headers=call.headers,
                        body=call.body,
                    )
                _, errors = await record.communicate()
                if record.returncode != 0 or not raw.exists():
                    raise RuntimeError(f"py-spy failed: {errors.decode(errors='replace')}")
                return scenario.name, Profile.of(parse_raw(raw.read_text().splitlines()))


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("row", help="a row of the overhead bench (a word of its name will do)")
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rate", type=int, default=200, help="samples per second (200)")
    parser.add_argument("--store-url", help="e.g. redis://127.0.0.1:6379/0 (default: memory)")
    args = parser.parse_args(argv)
    spy = py_spy()
    if spy is None:
        sys.exit("py-spy not found: .venv/bin/pip install py-spy (it is on PyPI)")
    try:
        name, profile = asyncio.run(
            _profile(args.row, args.seconds, args.rate, spy, args.store_url)
        )
    finally:
        if args.store_url:
            asyncio.run(workers.forget(args.store_url, f"homerun-bench-profile-{os.getpid()}:"))
    print(f"## {name}: py-spy, {args.seconds:g} s at {args.rate}/s\n")
    print("\n".join(profile.lines()))


if __name__ == "__main__":
    main()

"""``make bench``: every benchmark, one table each (ratios measured in this run).

    .venv/bin/python -m bench [--write-results] [--repeats 5] [--requests 1000] […]

``--write-results`` also writes the tables, with the machine, the date and the
command, into ``bench/RESULTS.md`` between its ``bench:start``/``bench:end`` markers
(the notes around them are kept). The other options are those of ``bench.overhead``.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import sys
import time
from pathlib import Path

from bench import economy, goodput, harness, overhead

RESULTS = Path(__file__).with_name("RESULTS.md")
START = "<!-- bench:start -->"
END = "<!-- bench:end -->"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def machine_lines(argv: list[str]) -> list[str]:
    import aiohttp
    import pydantic

    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    cores, proxy_core = harness.cpu_layout()
    pinning = (
        f"load generator and sandbox on CPU {cores}, hop, nginx and bridges on CPU "
        f"{proxy_core} (the two-worker bridge: every CPU)"
        if proxy_core is not None
        else "not pinned (fewer than two CPUs)"
    )
    return [
        f"- **date**: {now}",
        f"- **command**: `{' '.join(['.venv/bin/python', '-m', 'bench', *argv])}`"
        + (" (`make bench` + writing this file)" if argv == ["--write-results"] else ""),
        f"- **machine**: {os.cpu_count()} CPUs ({cpu_model()}), Python "
        f"{platform.python_version()}, aiohttp {aiohttp.__version__}, "
        f"pydantic {pydantic.__version__}, {platform.system()} {platform.release()}",
        f"- **pinning**: {pinning}",
        f"- **load average at start**: {load_average()} (other work on the machine)",
    ]


def write_results(lines: list[str]) -> None:
    block = "\n".join([START, *lines, END])
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n\n"
    if START in text and END in text:
        before, _, rest = text.partition(START)
        _, _, after = rest.partition(END)
        text = before + block + after
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    RESULTS.write_text(text)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    overhead.add_arguments(parser)
    goodput.add_arguments(parser)
    parser.add_argument(
        "--write-results", action="store_true", help="also write the tables to bench/RESULTS.md"
    )
    args = parser.parse_args()
    started = time.monotonic()
    lines: list[str] = []

    def show(line: str) -> None:
        print(line, flush=True)
        lines.append(line)

    for line in machine_lines(sys.argv[1:]):
        show(line)
    show("\n## The bridge vs a bare hop (`python -m bench.overhead`)\n")
    overhead.run(args, show)
    show(f"\n_load average at the end: {load_average()}_")
    show("\n## v2 calls per v1 call (realistic mix; `python -m bench.economy`)\n")
    economy.economy_table(asyncio.run(economy.measure_mix()), show)
    show("\n## Full application walk (cache on and off; whole embedded jobs, contract §6)\n")
    economy.walk_table(asyncio.run(economy.measure_walks()), show)
    show(
        f"\n## Goodput: the v2 budget spent on answers someone waits for "
        f"(`python -m bench.goodput --duration {args.duration:g}`)\n"
    )
    goodput.run(args, show)
    minutes, seconds = divmod(round(time.monotonic() - started), 60)
    show(
        f"\n_the whole bench took {minutes} min {seconds:02d} s; load average at the end: "
        f"{load_average()}_"
    )
    if args.write_results:
        write_results(lines)
        print(f"\nwritten to {RESULTS}", file=sys.stderr)


if __name__ == "__main__":
    main()

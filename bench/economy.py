"""v2 calls per v1 call for a realistic mix of legacy traffic (not a test).

A careers site polling its job board, an HR sync walking every application page,
and a form campaign creating applications with a note and a file each. The bridge
(``python -m proxy serve``, cache on, defaults otherwise) runs in front of the sandbox
(``python -m sandbox``, its limiter off so the numbers measure the bridge's planning,
not waiting), both started with ``bench.harness``; every v1 answer reports the v2 calls
it made in ``X-Upstream-Calls``, summed here per endpoint.

A second scenario, "full application walk", walks every application page (25 and 100 a
page) through a bridge with the cache on (60 s) and one with it off, twice each: what
embedding the whole job (contract §6 rev 2) costs. With the cache on the first walk reads
the key's vacancy list once (one ``GET /vacancies`` per 100 jobs), the second costs one
call a page; with it off every walk costs one call a page and the jobs are v2's embed.

    .venv/bin/python -m bench.economy
"""

from __future__ import annotations

import asyncio
import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from bench import harness

AUTH = harness.BENCH.auth


async def measure_mix() -> dict[str, tuple[int, int]]:
    """Per v1 endpoint: (v1 calls, v2 calls)."""
    async with (
        harness.sandbox() as upstream,
        harness.bridge(
            upstream.base + "/v2", rate_limit_per_minute=0, log_level="warning", log_format="json"
        ) as bridge,
    ):
        return await _mix(bridge.base)


async def _mix(base: str) -> dict[str, tuple[int, int]]:
    """The three integrations' traffic against the bridge at ``base``, counted."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    async with aiohttp.ClientSession(headers=AUTH) as http:

        async def call(label: str, method: str, path: str, **kw: Any) -> Any:
            async with http.request(method, base + path, **kw) as response:
                body = await response.json()
                assert response.status < 300, (path, response.status, body)
                counts[label][0] += 1
                counts[label][1] += int(response.headers["X-Upstream-Calls"])
                return body

        # A careers site: every page view lists open jobs, some open a job.
        jobs = (await call("GET /v1/jobs", "GET", "/v1/jobs?status=open"))["data"]
        for view in range(300):
            await call("GET /v1/jobs", "GET", "/v1/jobs?status=open")
            if view % 6 == 0:
                job = jobs[view % len(jobs)]
                await call("GET /v1/jobs/{id}", "GET", f"/v1/jobs/{job['id']}")
        # An HR sync: walk every application page, twice, at two page sizes.
        for per_page in (100, 25):
            page = 1
            while True:
                body = await call(
                    "GET /v1/applications",
                    "GET",
                    f"/v1/applications?page={page}&per_page={per_page}",
                )
                if not body["has_more"]:
                    break
                page += 1
        # A form campaign: creates with a note and a file each.
        for n in range(30):
            form = {
                "job": jobs[n % 3]["id"],
                "candidate[first_name]": "Bench",
                "candidate[last_name]": f"Person{n}",
                "candidate[email]": f"bench{n}@example.com",
                "content[education]": "BSc",
            }
            created = await call("POST /v1/applications", "POST", "/v1/applications", data=form)
            await call(
                "POST /v1/applications/{id}/notes",
                "POST",
                f"/v1/applications/{created['id']}/notes",
                data={"body": "Applied via the campaign", "name": "Bench"},
            )
            upload = aiohttp.FormData()
            upload.add_field("file", b"%PDF-1.4 bench", filename="cv.pdf")
            await call(
                "POST /v1/applications/{id}/files",
                "POST",
                f"/v1/applications/{created['id']}/files",
                data=upload,
            )
            await call("GET /v1/applications/{id}", "GET", f"/v1/applications/{created['id']}")
    return {label: (v1, v2) for label, (v1, v2) in counts.items()}


TARGETS = {
    "GET /v1/jobs": "≤ 0.05",
    # A page may read the key's vacancy list once per TTL to embed whole jobs (§6 rev 2).
    "GET /v1/applications": "≤ 1.0 + ⌈jobs / 100⌉ per TTL",
    # The listing read that gives the file the id its listing shows (§5 rev 2): v2's upload
    # answer cannot tell a repeated name.
    "POST /v1/applications/{id}/files": "≤ 2.0",
    # The campaign reads each application right after writing to it: its embedded job is
    # read again since the write (§6 rev 2), one call; without a write in between, 1.0.
    "GET /v1/applications/{id}": "≤ 1.0, + 1 after a write",
}


def economy_table(results: dict[str, tuple[int, int]], show: Callable[[str], None] = print) -> None:
    show("| v1 endpoint | v1 calls | v2 calls | v2 per v1 | target |")
    show("| --- | ---: | ---: | ---: | --- |")
    for label, (v1, v2) in results.items():
        target = TARGETS.get(label, "≤ 1.0")
        show(f"| `{label}` | {v1} | {v2} | {v2 / v1:.3f} | {target} |")
    total_v1 = sum(v1 for v1, _ in results.values())
    total_v2 = sum(v2 for _, v2 in results.values())
    show(f"| **all** | {total_v1} | {total_v2} | {total_v2 / total_v1:.3f} | |")


# --- full application walk: what the whole embedded job costs ---------------------------

WALK_PAGE_SIZES = (100, 25)
WALK_CACHE_TTLS = (60.0, 0.0)


@dataclass(frozen=True)
class WalkCost:
    """One walk over every application page: its pages, v2 calls and whole jobs."""

    cache_ttl_seconds: float
    per_page: int
    walk: int  # 1: the first walk of this bridge, 2: the one right after (within the TTL)
    pages: int
    v2_calls: int
    jobs: int  # applications with a job
    whole_jobs: int  # of those, embedded with location, department and count read
    vacancies: int  # the key's jobs, for the bound N + ceil(jobs / 100)

    @property
    def bound(self) -> int:
        return self.pages + math.ceil(self.vacancies / 100)


async def measure_walks() -> list[WalkCost]:
    """Each page size through a fresh bridge per cache setting, walked twice."""
    costs: list[WalkCost] = []
    async with harness.sandbox() as upstream:
        vacancies = await _vacancy_count(upstream.base)
        for ttl in WALK_CACHE_TTLS:
            for per_page in WALK_PAGE_SIZES:
                async with harness.bridge(
                    upstream.base + "/v2",
                    rate_limit_per_minute=0,
                    cache_ttl_seconds=ttl,
                    log_level="warning",
                    log_format="json",
                ) as bridge:
                    for walk in (1, 2):
                        costs.append(await _walk(bridge.base, ttl, per_page, walk, vacancies))
    return costs


async def _vacancy_count(sandbox_base: str) -> int:
    async with (
        aiohttp.ClientSession(headers=harness.V2_AUTH) as http,
        http.get(sandbox_base + "/v2/vacancies?perPage=1") as response,
    ):
        return int((await response.json())["meta"]["total"])


async def _walk(base: str, ttl: float, per_page: int, walk: int, vacancies: int) -> WalkCost:
    pages = calls = jobs = whole = 0
    async with aiohttp.ClientSession(headers=AUTH) as http:
        page, more = 1, True
        while more:
            url = f"{base}/v1/applications?page={page}&per_page={per_page}"
            async with http.get(url) as response:
                body = await response.json()
                assert response.status == 200, (url, response.status, body)
                calls += int(response.headers["X-Upstream-Calls"])
            pages += 1
            embedded = [item["job"] for item in body["data"] if item["job"] is not None]
            jobs += len(embedded)
            whole += sum(1 for job in embedded if job["total_candidate_count"] is not None)
            more, page = bool(body["has_more"]), page + 1
    return WalkCost(ttl, per_page, walk, pages, calls, jobs, whole, vacancies)


def walk_table(costs: list[WalkCost], show: Callable[[str], None] = print) -> None:
    show("| cache | per page | walk | pages (N) | v2 calls | v2 per page | bound | whole jobs |")
    show("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c in costs:
        cache = f"on ({c.cache_ttl_seconds:g} s)" if c.cache_ttl_seconds else "off"
        whole = f"{c.whole_jobs}/{c.jobs}"
        show(
            f"| {cache} | {c.per_page} | {c.walk} | {c.pages} | {c.v2_calls} | "
            f"{c.v2_calls / c.pages:.3f} | ≤ {c.bound} | {whole} |"
        )


def main() -> None:
    economy_table(asyncio.run(measure_mix()))
    print("\n## Full application walk (cache on and off; whole embedded jobs, contract §6)\n")
    walk_table(asyncio.run(measure_walks()))


if __name__ == "__main__":
    main()

"""v2 calls per v1 call for a realistic mix of legacy traffic (not a test).

A careers site polling its job board, an HR sync walking every application page,
and a form campaign creating applications with a note and a file each. The bridge
(``python -m proxy serve``, cache on, defaults otherwise) runs in front of the sandbox
(``python -m sandbox``, its limiter off so the numbers measure the bridge's planning,
not waiting), both started with ``bench.harness``; every v1 answer reports the v2 calls
it made in ``X-Upstream-Calls``, summed here per endpoint.

    .venv/bin/python -m bench.economy
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable
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


def economy_table(results: dict[str, tuple[int, int]], show: Callable[[str], None] = print) -> None:
    show("| v1 endpoint | v1 calls | v2 calls | v2 per v1 | target |")
    show("| --- | ---: | ---: | ---: | --- |")
    for label, (v1, v2) in results.items():
        target = "≤ 0.05" if label == "GET /v1/jobs" else "≤ 1.0"
        show(f"| `{label}` | {v1} | {v2} | {v2 / v1:.3f} | {target} |")
    total_v1 = sum(v1 for v1, _ in results.values())
    total_v2 = sum(v2 for _, v2 in results.values())
    show(f"| **all** | {total_v1} | {total_v2} | {total_v2 / total_v1:.3f} | |")


def main() -> None:
    economy_table(asyncio.run(measure_mix()))


if __name__ == "__main__":
    main()

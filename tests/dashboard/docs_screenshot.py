"""Write the README's picture of the retirement dashboard: ``docs/dashboard.png``.

    .venv/bin/python -m tests.dashboard.docs_screenshot [docs/dashboard.png] [--seed N]

A real bridge app (memory store, no upstream call made) is given 90 days of synthetic,
seeded traffic of four integrations through its own usage book, served on loopback and
photographed in headless Chromium (Debian's package via Playwright) signed in through the
Basic prompt, as an operator would see it. The seed is printed so a picture can be redrawn.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

from aiohttp import web

from proxy.app import BRIDGE, create_app
from proxy.config import BridgeSettings
from proxy.keys import build_key_map, hash_key
from proxy.store import MemoryStore
from proxy.usage import DAY_SECONDS, UsageBook
from tests.browser.chromium import headless_chromium

TOKEN = "docs-screenshot-token"

# label -> (days ago it stopped calling, [(route, calls per day, share of 4xx)], user agents)
INTEGRATIONS = {
    "careers-site": (
        0,
        [("GET /v1/jobs", 180, 0.0), ("GET /v1/jobs/{id}", 45, 0.03)],
        ["careers-site/2.1 (+https://jobs.example.com)", "Mozilla/5.0 careers widget"],
    ),
    "hr-sync": (
        0,
        [("GET /v1/applications", 40, 0.0), ("PUT /v1/applications/{id}", 8, 0.08)],
        ["hr-sync-cron/1.4 python-requests/2.31"],
    ),
    "legacy-ats": (
        12,
        [("POST /v1/applications", 14, 0.1), ("GET /v1/candidates", 20, 0.0)],
        ["LegacyATS/7.0 (Java 8)"],
    ),
    "old-reporting": (50, [("GET /v1/applications", 25, 0.0)], ["curl/7.68.0"]),
}


def _record_history(usage: UsageBook, rng: random.Random, now: float) -> None:
    for label, (stopped, routes, agents) in INTEGRATIONS.items():
        address = f"10.0.{rng.randint(1, 9)}.{rng.randint(2, 250)}"
        for back in range(89, stopped - 1, -1):
            day_start = (now // DAY_SECONDS - back) * DAY_SECONDS
            weekday = time.gmtime(day_start).tm_wday
            for route, per_day, errors in routes:
                fade = 1.0 if stopped else 0.55 + 0.45 * back / 89  # active ones are migrating
                calls = int(rng.gauss(per_day * fade, per_day * 0.15) * (0.4 if weekday > 4 else 1))
                for _ in range(max(0, calls)):
                    at = min(now - 60, day_start + rng.uniform(0, DAY_SECONDS))
                    status = 422 if rng.random() < errors else 200
                    fields = ["favourite_colour"] if route.startswith("PUT") else []
                    usage.record(
                        label,
                        route,
                        fields,
                        status=status,
                        user_agent=rng.choice(agents),
                        peer=address,
                        now=at,
                    )


async def photograph(target: Path, seed: int) -> None:
    os.environ["DOCS_SCREENSHOT_TOKEN"] = TOKEN
    keys: list[dict[str, str]] = []
    for label in INTEGRATIONS:
        env = f"DOCS_V2_{label.upper().replace('-', '_')}"
        os.environ[env] = f"unused-v2-key-{label}"
        keys.append({"label": label, "v1_key_sha256": hash_key(f"v1-{label}"), "v2_key_env": env})
    values: dict[str, Any] = {
        "upstream_url": "http://127.0.0.1:9/",  # never called: the page reads the store only
        "keys": keys,
        "admin_token_env": "DOCS_SCREENSHOT_TOKEN",
    }
    settings = BridgeSettings(**values)
    app = create_app(settings, build_key_map(settings), store=MemoryStore())
    _record_history(app[BRIDGE].usage, random.Random(seed), time.time())
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        async with headless_chromium() as browser:
            context = await browser.new_context(
                http_credentials={"username": "operator", "password": TOKEN},
                viewport={"width": 1280, "height": 1060},
            )
            page = await context.new_page()
            await page.goto(f"http://127.0.0.1:{port}/_bridge/", wait_until="load")
            await page.screenshot(path=str(target), full_page=False)
            await context.close()
    finally:
        await runner.cleanup()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("target", nargs="?", type=Path, default=Path("docs/dashboard.png"))
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(2**32)
    print(f"seed={seed}", file=sys.stderr)
    args.target.parent.mkdir(parents=True, exist_ok=True)
    asyncio.run(photograph(args.target, seed))
    print(f"wrote {args.target} ({args.target.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

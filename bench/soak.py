"""Soak: two bridge replicas sharing one Redis, in front of one faulty sandbox (not a test).

Ten minutes by default of mixed v1 traffic, from a few concurrent clients, through two
``python -m proxy serve`` processes that share one Redis (a fresh ``store_prefix``,
deleted afterwards), in front of one ``python -m sandbox --faults`` process. Every few
seconds a fault rule is injected into the sandbox: latency past the bridge's upstream
timeout, 5xx (JSON and a load balancer's HTML page), connections dropped before and
after the upstream handled a request (``drop_after`` on each kind of POST), malformed
and non-v2 bodies, slow drips. Redis fails too: the soak runs a ``redis-server`` of its own
and every ``--redis-fault-interval`` seconds kills it (back empty after a few seconds),
hangs it (SIGSTOP) or flaps it (restarted empty at once); ``--no-redis-faults`` uses the
shared Redis at ``SOAK_REDIS_URL`` untouched instead. It stops by itself.

    make soak                                   # 10 minutes
    .venv/bin/python -m bench.soak --minutes 1  # a quick try

At the end it prints the requests by class and status, the memory (VmRSS) of each
replica at the start and the end, and a reconciliation of every write with what the
sandbox holds: each create, note and upload the client saw succeed exists exactly once;
one answered 502/504 (the bridge could not tell whether the write landed) exists once
or not at all; one refused otherwise (e.g. 503, 429) does not exist; nothing exists
twice. The exit status is 1 when the reconciliation fails, a request got no answer
within the client's timeout, the bridge answered 500 or something that is not v1 JSON,
logged a crash, or a replica died.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as redis

from bench import harness
from bench.harness import V2_AUTH, Integration, Server, rss_bytes
from tests.store.own_redis import OwnRedis

SOAK = Integration("soak", "soak-v1-key")
AUTH = SOAK.auth
REDIS_URL = os.environ.get("SOAK_REDIS_URL", "redis://127.0.0.1:6379/0")

UPSTREAM_TIMEOUT_SECONDS = 2.0
# Longer than anything the bridge may legitimately take (a write, then its job read,
# each with retries): a request without an answer by then is a hang.
CLIENT_TIMEOUT_SECONDS = 30.0
# After the traffic stops: long enough for a write delayed by a latency fault to land.
SETTLE_SECONDS = 4.0
MAX_REQUESTS_PER_CLIENT = 1_000_000
MIB = 1024 * 1024

BRIDGE_SETTINGS: dict[str, Any] = {
    "upstream_timeout_seconds": UPSTREAM_TIMEOUT_SECONDS,
    # A budget the sandbox (its limiter off) never needs, so the shared GCRA in Redis
    # runs on every call without throttling the soak.
    "rate_limit_per_minute": 30_000,
    "rate_limit_burst": 500,
    # Short, so cached vacancy reads expire and refill many times in a run.
    "cache_ttl_seconds": 5,
    "log_level": "warning",
    "log_format": "json",
}

# (name, rule): one is injected every --fault-interval seconds, at random.
FAULTS: list[tuple[str, dict[str, Any]]] = [
    (
        "latency on application reads",
        {"method": "GET", "path": r"^/v2/job-applications", "action": "latency",
         "latency_ms": 3000, "count": 2},
    ),
    (
        "latency on a create",
        {"method": "POST", "path": r"^/v2/job-applications$", "action": "latency",
         "latency_ms": 3000, "count": 1},
    ),
    ("503 on anything", {"action": "status", "status": 503, "count": 3}),
    (
        "500 on vacancies",
        {"method": "GET", "path": r"^/v2/vacancies", "action": "status", "status": 500,
         "count": 3},
    ),
    ("HTML 502 on anything", {"action": "status", "status": 502, "html": True, "count": 2}),
    ("drop_before on anything", {"action": "drop_before", "count": 2}),
    (
        "drop_after on a create",
        {"method": "POST", "path": r"^/v2/job-applications$", "action": "drop_after"},
    ),
    ("drop_after on a note", {"method": "POST", "path": r"/notes$", "action": "drop_after"}),
    ("drop_after on an upload", {"method": "POST", "path": r"/files$", "action": "drop_after"}),
    ("drop_after on an update", {"method": "PATCH", "action": "drop_after"}),
    ("malformed on a read", {"method": "GET", "action": "malformed"}),
    # Only on reads: a v2 that answers a write 2xx has done it (the bridge answers success),
    # and this fault answers without handling the request.
    ("schema_mismatch on a read", {"method": "GET", "action": "schema_mismatch"}),
    (
        "unreadable answer after a create",
        {"method": "POST", "path": r"^/v2/job-applications$",
         "action": "unreadable_after_write"},
    ),
    (
        "slow drip on an application page",
        {"method": "GET", "path": r"^/v2/job-applications$", "action": "slow_drip",
         "drip_interval_ms": 40, "drip_chunk_bytes": 256},
    ),
]  # fmt: skip

# (class, weight)
MIX: list[tuple[str, float]] = [
    ("jobs list", 3),
    ("job detail", 1),
    ("application page", 3),
    ("application detail", 3),
    ("create", 1.5),
    ("update", 1),
    ("note", 1),
    ("upload", 1),
]
WRITE_CLASSES = ("create", "note", "upload")
# The bridge (or the client) cannot tell whether such a write landed.
UNKNOWN_OUTCOME = frozenset({"502", "504", "no answer", "connection error"})


# --- processes --------------------------------------------------------------------------


def bridge(
    name: str, upstream_url: str, prefix: str, logs: Path, redis_url: str = REDIS_URL
) -> contextlib.AbstractAsyncContextManager[Server]:
    """A replica: the soak's key mapped, the shared store under the run's prefix."""
    return harness.bridge(
        upstream_url,
        name=name,
        integrations=(SOAK,),
        logs=logs,
        store_url=redis_url,
        store_prefix=prefix,
        **BRIDGE_SETTINGS,
    )


# --- the traffic --------------------------------------------------------------------------


@dataclass
class Write:
    """One write the client attempted: where, and what the bridge answered."""

    application_id: str | None
    status: str


@dataclass
class Soak:
    bases: list[str]
    sandbox: str
    run: str
    stop_at: float
    think_seconds: float
    job_ids: list[str]
    application_ids: list[str]
    statuses: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    problems: Counter[str] = field(default_factory=Counter)
    examples: dict[str, str] = field(default_factory=dict)
    writes: dict[str, dict[str, Write]] = field(default_factory=lambda: defaultdict(dict))
    serial: int = 0

    def token(self) -> str:
        self.serial += 1
        return f"soak-{self.run}-{self.serial}"

    def problem(self, kind: str, example: str) -> None:
        self.problems[kind] += 1
        self.examples.setdefault(kind, example)

    async def request(
        self,
        http: aiohttp.ClientSession,
        kind: str,
        method: str,
        url: str,
        **kwargs: Any,
    ) -> tuple[str, Any]:
        """One v1 request: its status (or why there is none) and its JSON body."""
        started = time.perf_counter()
        status: str
        body: Any = None
        try:
            async with asyncio.timeout(CLIENT_TIMEOUT_SECONDS):
                async with http.request(method, url, headers=AUTH, **kwargs) as response:
                    status = str(response.status)
                    text = await response.text()
            try:
                body = json.loads(text)
            except ValueError:
                self.problem("not v1 JSON", f"{method} {url} -> {status}: {text[:200]}")
            else:
                if response.status >= 400 and not (
                    isinstance(body, dict) and body.get("status") == response.status
                ):
                    self.problem("not a v1 error body", f"{method} {url}: {text[:200]}")
            if response.status == 500:
                self.problem("bridge 500", f"{method} {url}: {text[:200]}")
        except TimeoutError:
            status = "no answer"
            self.problem("hang", f"{method} {url}: no answer in {CLIENT_TIMEOUT_SECONDS:g} s")
        except aiohttp.ClientError as exc:
            status = "connection error"
            self.problem("connection error", f"{method} {url}: {exc!r}")
        self.statuses[kind][status] += 1
        self.latencies[kind].append(time.perf_counter() - started)
        return status, body


async def client(soak: Soak, number: int, http: aiohttp.ClientSession, seed: int) -> None:
    rng = random.Random(seed * 1000 + number)
    classes = [name for name, _ in MIX]
    weights = [weight for _, weight in MIX]
    page = 1
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if time.monotonic() >= soak.stop_at:
            return
        kind = rng.choices(classes, weights)[0]
        base = rng.choice(soak.bases)
        application_id = rng.choice(soak.application_ids)
        if kind == "jobs list":
            query = "?status=open" if rng.random() < 0.5 else ""
            await soak.request(http, kind, "GET", f"{base}/v1/jobs{query}")
        elif kind == "job detail":
            await soak.request(http, kind, "GET", f"{base}/v1/jobs/{rng.choice(soak.job_ids)}")
        elif kind == "application page":
            url = f"{base}/v1/applications?page={page}&per_page=25"
            status, body = await soak.request(http, kind, "GET", url)
            if status == "200":
                page = page + 1 if body.get("has_more") else 1
        elif kind == "application detail":
            expand = "?expand[]=notes" if rng.random() < 0.3 else ""
            url = f"{base}/v1/applications/{application_id}{expand}"
            await soak.request(http, kind, "GET", url)
        elif kind == "create":
            token = soak.token()
            form = {
                "job": rng.choice(soak.job_ids),
                "candidate[first_name]": "Soak",
                "candidate[last_name]": token,
                "candidate[email]": f"{token}@example.com",
                "content[soak_run]": soak.run,
            }
            url = f"{base}/v1/applications"
            status, body = await soak.request(http, kind, "POST", url, data=form)
            soak.writes[kind][f"{token}@example.com"] = Write(None, status)
            if status == "201":
                soak.application_ids.append(body["id"])
        elif kind == "update":
            form = {"content[pronouns]": rng.choice(["she/her", "he/him", "they/them"])}
            url = f"{base}/v1/applications/{application_id}"
            await soak.request(http, kind, "PATCH", url, data=form)
        elif kind == "note":
            token = soak.token()
            url = f"{base}/v1/applications/{application_id}/notes"
            form = {"body": token, "name": "Soak"}
            status, _ = await soak.request(http, kind, "POST", url, data=form)
            soak.writes[kind][token] = Write(application_id, status)
        elif kind == "upload":
            token = soak.token()
            upload = aiohttp.FormData()
            upload.add_field(
                "file", token.encode() * 20, filename=f"{token}.txt", content_type="text/plain"
            )
            url = f"{base}/v1/applications/{application_id}/files"
            status, _ = await soak.request(http, kind, "POST", url, data=upload)
            soak.writes[kind][f"{token}.txt"] = Write(application_id, status)
        await asyncio.sleep(soak.think_seconds)


async def inject_faults(
    soak: Soak, http: aiohttp.ClientSession, interval: float, seed: int, injected: Counter[str]
) -> None:
    rng = random.Random(seed)
    while time.monotonic() + interval < soak.stop_at:
        await asyncio.sleep(interval)
        name, rule = rng.choice(FAULTS)
        async with http.post(f"{soak.sandbox}/_sandbox/faults", json=rule) as response:
            if response.status == 201:
                injected[name] += 1


# (name, what it does to the soak's own redis-server, seconds it lasts)
REDIS_FAULTS: list[tuple[str, str, float]] = [
    ("redis: killed, back empty", "kill", 3.0),
    ("redis: hung (SIGSTOP)", "hang", 3.0),
    ("redis: flap (restarted empty)", "kill", 0.0),
]


async def inject_redis_faults(
    server: OwnRedis, stop_at: float, interval: float, seed: int, injected: Counter[str]
) -> None:
    """Kill, hang and flap the store the replicas share, as a production Redis might."""
    rng = random.Random(seed + 1)
    while time.monotonic() + interval < stop_at:
        await asyncio.sleep(interval)
        name, action, lasts = rng.choice(REDIS_FAULTS)
        injected[name] += 1
        if action == "hang":
            server.hang()
            await asyncio.sleep(lasts)
            server.resume()
        else:
            server.kill()
            await asyncio.sleep(lasts)
            await asyncio.to_thread(server.start)


async def store_outages(http: aiohttp.ClientSession, base: str) -> str:
    """How often a replica marked the store down (its /metrics)."""
    async with http.get(base + "/metrics") as response:
        for line in (await response.text()).splitlines():
            if line.startswith("homerun_bridge_store_outages_total "):
                return line.split()[1]
    return "n/a"


async def sample_memory(replicas: list[Server], peaks: dict[str, int], stop_at: float) -> None:
    while time.monotonic() < stop_at:
        for replica in replicas:
            now = rss_bytes(replica.pid)
            if now is not None:
                peaks[replica.name] = max(peaks.get(replica.name, 0), now)
        await asyncio.sleep(2)


# --- the reconciliation ------------------------------------------------------------------


async def v2_get(http: aiohttp.ClientSession, url: str) -> Any:
    for _ in range(5):
        async with http.get(url, headers=V2_AUTH) as response:
            if response.status == 200:
                return await response.json()
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the sandbox does not answer {url}")


async def sandbox_emails(http: aiohttp.ClientSession, base: str) -> Counter[str]:
    emails: Counter[str] = Counter()
    page = 1
    while True:
        body = await v2_get(http, f"{base}/v2/job-applications?page={page}&perPage=100")
        emails.update(item["personal_info"]["email"] for item in body["data"])
        if page >= body["meta"]["last_page"]:
            return emails
        page += 1


async def sandbox_notes_and_files(
    http: aiohttp.ClientSession, base: str, application_ids: set[str]
) -> tuple[Counter[str], Counter[str]]:
    notes: Counter[str] = Counter()
    files: Counter[str] = Counter()
    for application_id in sorted(application_ids):
        url = f"{base}/v2/job-applications/{application_id}?include[]=notes"
        data = (await v2_get(http, url))["data"]
        notes.update(note["note"] for note in data.get("notes") or [])
        files.update(stored["name"] for stored in data.get("files") or [])
    return notes, files


@dataclass
class Reconciled:
    kind: str
    confirmed: int = 0  # answered 201, exists once
    unknown_landed: int = 0  # answered 502/504, exists once
    unknown_absent: int = 0  # answered 502/504, does not exist
    refused: int = 0  # answered otherwise, does not exist
    failures: list[str] = field(default_factory=list)

    def check(self, key: str, status: str, found: int) -> None:
        if found > 1:
            self.failures.append(f"{key} (answered {status}) exists {found} times")
        elif status == "201":
            if found == 1:
                self.confirmed += 1
            else:
                self.failures.append(f"{key} answered 201 but does not exist")
        elif status in UNKNOWN_OUTCOME:
            if found:
                self.unknown_landed += 1
            else:
                self.unknown_absent += 1
        elif found:
            self.failures.append(f"{key} answered {status} but exists")
        else:
            self.refused += 1

    def line(self) -> str:
        return (
            f"  {self.kind:<8} {self.confirmed:>6} answered 201, each exists once;"
            f" {self.unknown_landed + self.unknown_absent} answered 502/504:"
            f" {self.unknown_landed} exist once, {self.unknown_absent} do not;"
            f" {self.refused} refused, none exist; {len(self.failures)} failure(s)"
        )


async def reconcile(soak: Soak, http: aiohttp.ClientSession) -> list[Reconciled]:
    emails = await sandbox_emails(http, soak.sandbox)
    targets = {w.application_id for k in ("note", "upload") for w in soak.writes[k].values()}
    notes, files = await sandbox_notes_and_files(
        http, soak.sandbox, {t for t in targets if t is not None}
    )
    found = {"create": emails, "note": notes, "upload": files}
    results = []
    for kind in WRITE_CLASSES:
        result = Reconciled(kind)
        attempted = soak.writes[kind]
        for key, write in attempted.items():
            result.check(key, write.status, found[kind][key])
        # Nothing of this run the client did not ask for (a resent write with another key
        # cannot exist, but a stray one would show here).
        prefix = f"soak-{soak.run}-"
        strays = [k for k in found[kind] if k.startswith(prefix) and k not in attempted]
        result.failures += [f"{k} exists but was never sent" for k in strays]
        results.append(result)
    return results


# --- the report ----------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(share * len(ordered)) - 1)] if ordered else 0.0


def status_table(soak: Soak) -> list[str]:
    seen = sorted({s for counts in soak.statuses.values() for s in counts})
    head = f"  {'class':<20}{'total':>7}" + "".join(f"{s:>7}" for s in seen)
    lines = [head + f"{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}"]
    totals: Counter[str] = Counter()
    for kind, _ in MIX:
        counts = soak.statuses.get(kind, Counter())
        totals.update(counts)
        times = soak.latencies.get(kind, [])
        lines.append(
            f"  {kind:<20}{sum(counts.values()):>7}"
            + "".join(f"{counts.get(s, 0):>7}" for s in seen)
            + f"{percentile(times, 0.5) * 1000:>9.0f}{percentile(times, 0.99) * 1000:>9.0f}"
            + f"{max(times, default=0) * 1000:>9.0f}"
        )
    lines.append(
        f"  {'all':<20}{sum(totals.values()):>7}" + "".join(f"{totals[s]:>7}" for s in seen)
    )
    return lines


def error_table(soak: Soak) -> list[str]:
    lines = []
    for kind, _ in MIX:
        errors = {
            s: n
            for s, n in sorted(soak.statuses.get(kind, Counter()).items())
            if not s.startswith("2")
        }
        if errors:
            total = sum(soak.statuses[kind].values())
            share = 100 * sum(errors.values()) / total
            listed = ", ".join(f"{s}: {n}" for s, n in errors.items())
            lines.append(f"  {kind:<20}{sum(errors.values()):>6} ({share:.1f} %)  {listed}")
    return lines or ["  none"]


def log_events(log: Path) -> Counter[str]:
    """Error-level events a replica logged (JSON lines), and non-JSON lines (crashes)."""
    events: Counter[str] = Counter()
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            if "Traceback" in line:
                events["(traceback)"] += 1
            continue
        if isinstance(entry, dict) and entry.get("level") in ("error", "critical"):
            events[str(entry.get("event"))] += 1
    return events


def mib(size: int | None) -> str:
    return "gone" if size is None else f"{size / MIB:.1f}"


# --- main ------------------------------------------------------------------------------------


async def clean_redis(prefix: str, url: str = REDIS_URL) -> int:
    client = redis.Redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        return len(keys)
    finally:
        await client.aclose()


async def discover(http: aiohttp.ClientSession, base: str) -> tuple[list[str], list[str]]:
    vacancies = (await v2_get(http, f"{base}/v2/vacancies?perPage=100"))["data"]
    jobs = [v["id"] for v in vacancies if v["status"] == "public"]
    applications = await v2_get(http, f"{base}/v2/job-applications?perPage=100")
    return jobs, [a["id"] for a in applications["data"]]


async def soak_run(args: argparse.Namespace) -> int:
    run = uuid.uuid4().hex[:8]
    prefix = f"homerun-bridge-soak-{run}:"
    logs = Path(tempfile.mkdtemp(prefix="homerun-soak-"))
    failed: list[str] = []
    own_redis = OwnRedis() if args.redis_faults else None
    redis_url = own_redis.url if own_redis else REDIS_URL
    try:
        async with contextlib.AsyncExitStack() as stack:
            if own_redis is not None:
                own_redis.start()
                stack.callback(own_redis.kill)
                stack.callback(own_redis.resume)
            upstream = await stack.enter_async_context(harness.sandbox(faults=True, logs=logs))
            replicas = [
                await stack.enter_async_context(
                    bridge(name, upstream.base + "/v2", prefix, logs, redis_url)
                )
                for name in ("bridge-a", "bridge-b")
            ]
            http = await stack.enter_async_context(
                aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None))
            )
            jobs, applications = await discover(http, upstream.base)
            rss_start = {r.name: rss_bytes(r.pid) for r in replicas}
            started = time.monotonic()
            soak = Soak(
                bases=[r.base for r in replicas],
                sandbox=upstream.base,
                run=run,
                stop_at=started + args.minutes * 60,
                think_seconds=args.think_ms / 1000,
                job_ids=jobs,
                application_ids=applications,
            )
            print(
                f"soak {run}: {args.minutes:g} min, 2 replicas (pids "
                f"{', '.join(str(r.pid) for r in replicas)}) sharing Redis prefix {prefix!r}, "
                f"1 sandbox, {args.concurrency} clients, a fault every {args.fault_interval:g} s",
                flush=True,
            )
            injected: Counter[str] = Counter()
            peaks: dict[str, int] = {}
            background: list[Awaitable[None]] = [
                inject_faults(soak, http, args.fault_interval, args.seed, injected),
                sample_memory(replicas, peaks, soak.stop_at),
            ]
            if own_redis is not None:
                background.append(
                    inject_redis_faults(
                        own_redis, soak.stop_at, args.redis_fault_interval, args.seed, injected
                    )
                )
            await asyncio.gather(
                *(client(soak, n, http, args.seed) for n in range(args.concurrency)),
                *background,
            )
            elapsed = time.monotonic() - started
            rss_end = {r.name: rss_bytes(r.pid) for r in replicas}
            async with http.delete(f"{upstream.base}/_sandbox/faults") as response:
                await response.read()
            async with http.get(f"{upstream.base}/_sandbox/stats") as response:
                sandbox_stats = await response.json()
            await asyncio.sleep(SETTLE_SECONDS)
            reconciled = await reconcile(soak, http)
            dead = [r.name for r in replicas if not r.alive]
            outages = {r.name: await store_outages(http, r.base) for r in replicas}
            redis_keys = await clean_redis(prefix, redis_url)
        events = {r.name: log_events(r.log) for r in replicas}
    finally:
        with contextlib.suppress(Exception):
            await clean_redis(prefix, redis_url)

    total = sum(sum(c.values()) for c in soak.statuses.values())
    print(f"\n{total} requests in {elapsed:.0f} s ({total / elapsed:.1f}/s)\n")
    print("requests by class and status")
    print("\n".join(status_table(soak)))
    print("\nerrors by class (anything but 2xx)")
    print("\n".join(error_table(soak)))
    print(
        f"\nfaults: {sum(injected.values())} rules injected, "
        f"{sandbox_stats['faults_injected']} requests hit by one"
    )
    for name, count in sorted(injected.items()):
        print(f"  {name:<36}{count:>4}")
    print("\nmemory (VmRSS, MiB)")
    print(f"  {'replica':<10}{'start':>8}{'peak':>8}{'end':>8}{'growth':>9}")
    for replica in replicas:
        start, end = rss_start[replica.name], rss_end[replica.name]
        growth = (
            f"{(end - start) / MIB:+.1f}" + f" ({100 * (end - start) / start:+.0f} %)"
            if start and end
            else "n/a"
        )
        print(
            f"  {replica.name:<10}{mib(start):>8}{mib(peaks.get(replica.name)):>8}"
            f"{mib(end):>8}  {growth}"
        )
    print("\nreconciliation (writes the client sent vs. what the sandbox holds)")
    for result in reconciled:
        print(result.line())
        for failure in result.failures[:10]:
            print(f"    FAIL {failure}")
        if result.failures:
            failed.append(f"{result.kind}: {len(result.failures)} reconciliation failure(s)")
    print("\nreplica logs (error-level events)")
    for name, counts in events.items():
        listed = ", ".join(f"{event}: {n}" for event, n in counts.most_common()) or "none"
        print(f"  {name}: {listed}")
        for crash in ("request.crashed", "(traceback)"):
            if counts.get(crash):
                failed.append(f"{name} logged {counts[crash]} {crash}")
    print(f"\nRedis: {redis_keys} keys under the run's prefix at the end, deleted")
    print(
        "store outages each replica noticed: "
        + ", ".join(f"{name} {count}" for name, count in outages.items())
    )
    for kind, count in soak.problems.items():
        failed.append(f"{count} x {kind}, e.g. {soak.examples[kind]}")
    failed += [f"{name} died during the soak" for name in dead]
    if failed:
        print("\nRESULT: FAIL")
        for reason in failed:
            print(f"  - {reason}")
        print(f"  logs kept in {logs}")
        return 1
    shutil.rmtree(logs, ignore_errors=True)
    print("\nRESULT: PASS")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.soak", description=__doc__)
    parser.add_argument("--minutes", type=float, default=10.0, help="duration (default 10)")
    parser.add_argument("--concurrency", type=int, default=8, help="clients (default 8)")
    parser.add_argument(
        "--fault-interval", type=float, default=3.0, help="seconds between faults (default 3)"
    )
    parser.add_argument(
        "--think-ms", type=float, default=10.0, help="pause of each client between requests"
    )
    parser.add_argument("--seed", type=int, default=1, help="seed of the traffic and faults")
    parser.add_argument(
        "--redis-fault-interval",
        type=float,
        default=20.0,
        help="seconds between Redis faults (default 20)",
    )
    parser.add_argument(
        "--no-redis-faults",
        dest="redis_faults",
        action="store_false",
        help="use the shared Redis at SOAK_REDIS_URL and leave it alone",
    )
    args = parser.parse_args(argv)
    if (
        args.minutes <= 0
        or args.concurrency < 1
        or args.fault_interval <= 0
        or args.redis_fault_interval <= 0
    ):
        parser.error("--minutes, --concurrency and --fault-interval must be positive")
    return asyncio.run(soak_run(args))


if __name__ == "__main__":
    raise SystemExit(main())

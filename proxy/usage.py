"""Usage of the v1 face as a time series: the evidence for retiring the bridge.

Every answered v1 request is counted per key label and route: calls per UTC day (400 days
kept), first and last seen, status classes (2xx/4xx/5xx), the v1 body fields v2 has no
place for, and per label the user agents and client addresses that called. Counts are
buffered in memory and flushed to the store every few seconds (and at shutdown), so one
report covers all replicas without adding a store round trip to each request. A flush the
store refuses (Redis down) keeps what it could not write for the next one and never
raises into a request.

Store layout (every key under ``usage:``, every hash bounded and expiring):

- ``labels``: the set of labels that called;
- ``calls:{label}``, ``seen:{label}``, ``first:{label}``: route -> calls, last and first
  seen (Unix seconds; first seen is as exact as the flush interval);
- ``status:{label}``: "route 2xx" -> calls;
- ``days:{label}:{YYYY-MM}``: "route YYYY-MM-DD" -> calls; a month's hash expires 400 days
  after the month ends, so the series is bounded by time, and by routes x 31 per month;
- ``fields:{label}``: "route name" -> calls (names come from request bodies);
- ``agents:{label}:{YYYY-MM}``, ``addresses:{label}:{YYYY-MM}``: who called that month,
  kept about 100 days (the dashboard shows the last 90).

Values that callers choose (user agents, addresses, body field names) are admitted to a
hash only while it holds fewer than :data:`DISTINCT_CAP` of them; the rest are counted
under ``(other)``, so a caller sending a new user agent per request costs one field. The
top ten shown are thus the busiest of the first 50 seen each month (a month starts afresh),
with every call still counted. A request costs a counter increment of its call shape
(label, route, UTC day, status, user agent, address); the flush turns shapes into fields.

Retirement: an integration is ``active`` (called within a day), ``quiet`` for N whole days,
``retired-ready`` once quiet for ``retirement_quiet_days``, or ``never-called`` (a key of
the map that never called); all but the last two block removing the bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import structlog

from mappings.v1_endpoints import endpoint_for
from proxy.store import Store, StoreError

log = structlog.get_logger("homerun_bridge.usage")

USAGE_TTL_SECONDS: Final = 400 * 24 * 3600
FLUSH_SECONDS: Final = 5.0
DAY_SECONDS: Final = 24 * 3600
SERIES_DAYS: Final = 400  # UTC days of calls kept, today included
CHART_DAYS: Final = 90  # days the dashboard and the report draw
WHO_KEEP_DAYS: Final = 100  # a month's user agents and addresses outlive it this long
TOP_SHOWN: Final = 10  # user agents / addresses shown per label
DISTINCT_CAP: Final = 50  # distinct caller-chosen values admitted per hash
OTHER: Final = "(other)"
PENDING_SHAPES: Final = 10_000  # distinct call shapes buffered between flushes
NO_AGENT: Final = "(none)"
MAX_AGENT_CHARS: Final = 200

# label, route, UTC day number, status, user agent, client address: one kind of call.
CallShape = tuple[str, str, int, int | None, str | None, str | None]


def replacement_for(route: str) -> tuple[str, str]:
    """The v2 call that replaces a v1 route and the change its caller's code needs.

    Read from the one declaration of the v1 face (``mappings.v1_endpoints``). A HEAD is
    replaced as its GET is."""
    if route.startswith("HEAD "):
        route = "GET " + route.removeprefix("HEAD ")
    entry = endpoint_for(route)
    return (entry.replacement, entry.hint) if entry is not None else ("unknown", "")


def utc_day(timestamp: float) -> str:
    """The UTC day of a Unix time, as YYYY-MM-DD."""
    return time.strftime("%Y-%m-%d", time.gmtime(timestamp))


def _month_end(month: str) -> float:
    """Unix time of the first instant after a YYYY-MM month (UTC)."""
    year, number = (int(part) for part in month.split("-"))
    following = datetime(year + number // 12, number % 12 + 1, 1, tzinfo=UTC)
    return following.timestamp()


def _months_back(now: float, days: int) -> list[str]:
    """The YYYY-MM months that overlap the ``days`` UTC days ending today."""
    today = datetime.fromtimestamp(now, UTC).date()
    first = today - timedelta(days=days - 1)
    months, cursor = [], first.replace(day=1)
    while cursor <= today:
        months.append(cursor.strftime("%Y-%m"))
        cursor = (cursor + timedelta(days=32)).replace(day=1)
    return months


def client_address(
    peer: str | None, forwarded_for: str | None, *, trust_forwarded_for: bool
) -> str | None:
    """Who called: the connection's peer, or behind a reverse proxy (when trusted) the first
    ``X-Forwarded-For`` hop, when it is a valid IP address (otherwise the peer)."""
    if trust_forwarded_for and forwarded_for:
        first = forwarded_for.split(",", 1)[0].strip()
        with contextlib.suppress(ValueError):
            return str(ipaddress.ip_address(first))
    return peer or None


def printable(text: str) -> str:
    """A caller-chosen value as it may be shown: bounded, control characters (a terminal's
    escape sequences) replaced by ``?``."""
    text = text[:MAX_AGENT_CHARS]
    return text if text.isprintable() else "".join(c if c.isprintable() else "?" for c in text)


def status_class(status: int) -> str:
    return f"{status // 100}xx"


class UsageBook:
    """The buffer of usage counts one process has not yet written to the store."""

    def __init__(
        self, store: Store, *, record_addresses: bool = True, trust_forwarded_for: bool = False
    ) -> None:
        self._store = store
        self.record_addresses = record_addresses
        self.trust_forwarded_for = trust_forwarded_for
        self._labels: set[str] = set()
        self._counts: dict[str, Counter[str]] = {}  # store key -> field -> increment
        self._capped: dict[str, Counter[str]] = {}  # the same, for caller-chosen fields
        self._latest: dict[str, dict[str, int]] = {}  # store key -> field -> newest time
        self._earliest: dict[str, dict[str, int]] = {}  # written only where absent
        self._first_known: set[tuple[str, str]] = set()  # (key, field) the store has
        # The hot path only counts call shapes; a flush expands them into store fields.
        self._calls: Counter[CallShape] = Counter()
        self._spans: dict[tuple[str, str], tuple[int, int]] = {}  # first and last seen
        self._fields: Counter[tuple[str, str, str]] = Counter()
        self._day_names: dict[int, str] = {}

    def record(
        self,
        label: str,
        route: str,
        unknown_fields: list[str],
        *,
        status: int | None = None,
        user_agent: str | None = None,
        peer: str | None = None,
        forwarded_for: str | None = None,
        now: float | None = None,
    ) -> None:
        """Count one answered v1 request (no I/O: the next flush writes it)."""
        stamp = int(time.time() if now is None else now)
        address = None
        if self.record_addresses:
            address = peer
            if self.trust_forwarded_for and forwarded_for:
                address = client_address(peer, forwarded_for, trust_forwarded_for=True)
        agent = user_agent[:MAX_AGENT_CHARS] if user_agent else None
        shape = (label, route, stamp // DAY_SECONDS, status, agent, address)
        calls = self._calls
        if shape not in calls and len(calls) >= PENDING_SHAPES:
            # Bounded in memory: a flood of new user agents during an outage costs nothing.
            shape = (label, route, stamp // DAY_SECONDS, status, OTHER, address and OTHER)
        calls[shape] += 1
        key = (label, route)
        span = self._spans.get(key)
        if span is None:
            self._spans[key] = (stamp, stamp)
        elif not span[0] <= stamp <= span[1]:
            self._spans[key] = (min(span[0], stamp), max(span[1], stamp))
        for name in unknown_fields:
            self._fields[(label, route, name[:MAX_AGENT_CHARS])] += 1

    def _day_name(self, day_number: int) -> str:
        name = self._day_names.get(day_number)
        if name is None:
            name = self._day_names[day_number] = utc_day(day_number * DAY_SECONDS)
        return name

    def _expand(self) -> None:
        """Move the counted call shapes into the store's fields (each hash's own buffer)."""
        calls, spans, fields = self._calls, self._spans, self._fields
        self._calls, self._spans, self._fields = Counter(), {}, Counter()
        for (label, route, day_number, status, agent, address), n in calls.items():
            day = self._day_name(day_number)
            month = day[:7]
            self._labels.add(label)
            self._count(f"usage:calls:{label}", route, n)
            self._count(f"usage:days:{label}:{month}", f"{route} {day}", n)
            if status is not None:
                self._count(f"usage:status:{label}", f"{route} {status_class(status)}", n)
            shown = printable(agent.strip()) if agent else ""
            self._count_capped(f"usage:agents:{label}:{month}", shown or NO_AGENT, n)
            if address:
                self._count_capped(f"usage:addresses:{label}:{month}", address, n)
        for (label, route), (first, last) in spans.items():
            latest = self._latest.setdefault(f"usage:seen:{label}", {})
            latest[route] = max(last, latest.get(route, last))
            earliest = self._earliest.setdefault(f"usage:first:{label}", {})
            earliest[route] = min(first, earliest.get(route, first))
        for (label, route, name), n in fields.items():
            self._count_capped(f"usage:fields:{label}", f"{route} {printable(name)}", n)

    def _count(self, key: str, name: str, n: int) -> None:
        self._counts.setdefault(key, Counter())[name] += n

    def _count_capped(self, key: str, name: str, n: int) -> None:
        # Bounded in memory too: a store outage must not let a buffer grow without end.
        counter = self._capped.setdefault(key, Counter())
        if name not in counter and len(counter) >= DISTINCT_CAP:
            name = OTHER
        counter[name] += n

    @staticmethod
    def _ttl(key: str, now: float) -> float:
        """Seconds a usage key lives: month hashes until their bound, the rest 400 days."""
        kind, _, rest = key.removeprefix("usage:").partition(":")
        month = rest.rsplit(":", 1)[-1] if kind in ("days", "agents", "addresses") else ""
        if not month:
            return USAGE_TTL_SECONDS
        keep_days = SERIES_DAYS if kind == "days" else WHO_KEEP_DAYS
        return _month_end(month) + keep_days * DAY_SECONDS - now

    async def flush(self) -> bool:
        """Write the buffered counts to the store; False when it failed. Never raises:
        what was not written stays buffered for the next flush (each part is taken off
        the buffer only once the store took it, so nothing is counted twice)."""
        self._expand()
        labels, counts, capped = self._labels, self._counts, self._capped
        latest, earliest = self._latest, self._earliest
        self._labels, self._counts, self._capped = set(), {}, {}
        self._latest, self._earliest = {}, {}
        now = time.time()
        try:
            for label in sorted(labels):
                await self._store.sadd("usage:labels", label, USAGE_TTL_SECONDS)
            labels = set()
            for key in sorted(counts):
                ttl = self._ttl(key, now)
                if ttl >= 1:  # a month older than its bound is not written at all
                    await self._store.hincr(key, dict(counts[key]), ttl)
                del counts[key]
            for key in sorted(capped):
                ttl = self._ttl(key, now)
                if ttl >= 1:
                    await self._store.hincr(key, await self._admit(key, capped[key]), ttl)
                del capped[key]
            for key in sorted(latest):
                await self._write_last_seen(key, latest[key])
                del latest[key]
            for key in sorted(earliest):
                await self._write_first_seen(key, earliest[key])
                del earliest[key]
        except StoreError as exc:
            # Keep what was not written for the next flush rather than lose it.
            self._keep(labels, counts, capped, latest, earliest)
            kept = sum(sum(c.values()) for k, c in counts.items() if k.startswith("usage:calls:"))
            log.warning("usage.flush_failed", error=str(exc), kept=kept)
            return False
        return True

    async def _admit(self, key: str, counter: Counter[str]) -> dict[str, int]:
        """The increments for a capped hash: values beyond its cap counted as ``(other)``."""
        present = set(await self._store.hgetall(key))
        room = DISTINCT_CAP - len(present - {OTHER})
        admitted: Counter[str] = Counter()
        for name, amount in counter.most_common():
            if name != OTHER and name not in present:
                if room <= 0:
                    name = OTHER
                else:
                    room -= 1
            admitted[name] += amount
        return dict(admitted)

    async def _write_last_seen(self, key: str, last: dict[str, int]) -> None:
        # Only where newer: a flush retried after an outage carries calls older than
        # what another replica wrote meanwhile.
        stored = await self._store.hgetall(key)
        newer = {f: str(t) for f, t in last.items() if t > int(stored.get(f, "0"))}
        if newer:
            await self._store.hset(key, newer, USAGE_TTL_SECONDS)

    async def _write_first_seen(self, key: str, first: dict[str, int]) -> None:
        unknown = {f: t for f, t in first.items() if (key, f) not in self._first_known}
        if unknown:
            stored = await self._store.hgetall(key)
            missing = {f: str(t) for f, t in unknown.items() if f not in stored}
            if missing:
                await self._store.hset(key, missing, USAGE_TTL_SECONDS)
            self._first_known.update((key, f) for f in unknown)

    def _keep(
        self,
        labels: set[str],
        counts: dict[str, Counter[str]],
        capped: dict[str, Counter[str]],
        latest: dict[str, dict[str, int]],
        earliest: dict[str, dict[str, int]],
    ) -> None:
        self._labels |= labels
        for key, counter in counts.items():
            self._counts.setdefault(key, Counter()).update(counter)
        for key, counter in capped.items():
            self._capped.setdefault(key, Counter()).update(counter)
        for key, times in latest.items():
            mine = self._latest.setdefault(key, {})
            for name, stamp in times.items():
                mine[name] = max(stamp, mine.get(name, stamp))
        for key, times in earliest.items():
            mine = self._earliest.setdefault(key, {})
            for name, stamp in times.items():
                mine[name] = min(stamp, mine.get(name, stamp))

    async def run(self) -> AsyncIterator[None]:
        """A cleanup context: flush periodically while the app runs, and once at the end."""

        async def loop() -> None:
            while True:
                await asyncio.sleep(FLUSH_SECONDS)
                await self.flush()

        task = asyncio.create_task(loop())
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await self.flush()


def retirement_state(last_seen: int | None, now: float, quiet_days: int) -> dict[str, Any]:
    """Where an integration stands: ``active`` (called within a day), ``quiet`` (for N whole
    days), ``retired-ready`` (quiet for at least ``quiet_days``) or ``never-called``."""
    if not last_seen:
        return {
            "state": "never-called",
            "quiet_days": None,
            "blocks_removal": False,
            "text": "never called",
        }
    quiet = max(0, int((now - last_seen) // DAY_SECONDS))
    if quiet >= quiet_days:
        state, text = "retired-ready", f"retired-ready: quiet for {quiet} days"
    elif quiet >= 1:
        state, text = "quiet", f"quiet for {quiet} day{'s' if quiet != 1 else ''}"
    else:
        state, text = "active", "active"
    return {
        "state": state,
        "quiet_days": quiet,
        "blocks_removal": state != "retired-ready",
        "text": text,
    }


def _split_route_field(name: str) -> tuple[str, str]:
    """ "GET /v1/jobs 2026-12-01" -> ("GET /v1/jobs", "2026-12-01"): the route is all but the
    last word."""
    route, _, last = name.rpartition(" ")
    return route, last


def _top(counter: Counter[str]) -> list[dict[str, Any]]:
    ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
    return [{"value": value, "calls": calls} for value, calls in ranked[:TOP_SHOWN]]


async def _integration(store: Store, label: str, now: float, quiet_days: int) -> dict[str, Any]:
    series_months = _months_back(now, SERIES_DAYS)
    who_months = _months_back(now, CHART_DAYS)
    keys = [f"usage:{kind}:{label}" for kind in ("calls", "seen", "first", "status", "fields")]
    keys += [f"usage:days:{label}:{month}" for month in series_months]
    keys += [f"usage:{kind}:{label}:{m}" for kind in ("agents", "addresses") for m in who_months]
    # One after another: concurrent reads open a Redis connection each, and are slower.
    hashes = [await store.hgetall(key) for key in keys]
    calls, seen, first, statuses, fields = hashes[:5]
    month_hashes = hashes[5 : 5 + len(series_months)]
    who = hashes[5 + len(series_months) :]
    oldest = utc_day(now - (SERIES_DAYS - 1) * DAY_SECONDS)
    days: dict[str, Counter[str]] = {}
    for month_hash in month_hashes:
        for name, count in month_hash.items():
            route, day = _split_route_field(name)
            if day >= oldest:
                days.setdefault(route, Counter())[day] += int(count)
    agents: Counter[str] = Counter()
    addresses: Counter[str] = Counter()
    for index, who_hash in enumerate(who):
        target = agents if index < len(who_months) else addresses
        for name, count in who_hash.items():
            target[name] += int(count)
    routes: list[dict[str, Any]] = []
    for route in sorted(calls, key=lambda r: (-int(calls[r]), r)):
        v2_call, hint = replacement_for(route)
        classes = {}
        for name, count in statuses.items():
            owner, status = _split_route_field(name)
            if owner == route:
                classes[status] = int(count)
        routes.append(
            {
                "route": route,
                "calls": int(calls[route]),
                "first_seen": int(first.get(route, seen.get(route, "0"))),
                "last_seen": int(seen.get(route, "0")),
                "statuses": dict(sorted(classes.items())),
                "v2_call": v2_call,
                "hint": hint,
                "unknown_fields": sorted(
                    parts[2]
                    for parts in (name.split(" ", 2) for name in fields)
                    if len(parts) == 3 and f"{parts[0]} {parts[1]}" == route
                ),
                "days": dict(sorted(days.get(route, Counter()).items())),
            }
        )
    total: Counter[str] = Counter()
    for route_days in days.values():
        total.update(route_days)
    last_seen = max((r["last_seen"] for r in routes), default=0)
    first_seen = min((r["first_seen"] for r in routes if r["first_seen"]), default=0)
    chart = [utc_day(now - back * DAY_SECONDS) for back in range(CHART_DAYS - 1, -1, -1)]
    return {
        "label": label,
        "calls": sum(r["calls"] for r in routes),
        "first_seen": first_seen,
        "last_seen": last_seen,
        "retirement": retirement_state(last_seen, now, quiet_days),
        "daily": [{"day": day, "calls": total.get(day, 0)} for day in chart],
        "days": dict(sorted(total.items())),
        "user_agents": _top(agents),
        "addresses": _top(addresses),
        "routes": routes,
    }


async def migration_report(
    store: Store,
    *,
    now: float | None = None,
    quiet_days: int = 30,
    configured_labels: Iterable[str] = (),
) -> dict[str, Any]:
    """Per integration: its calls per day, who it is, where it stands on retirement, and
    each v1 route it still uses with the v2 call that replaces it and the change needed.

    ``configured_labels``: labels of the key map; those that never called are listed as
    ``never-called`` (they block nothing)."""
    at = time.time() if now is None else now
    called = await store.smembers("usage:labels")
    integrations = [
        await _integration(store, label, at, quiet_days)
        for label in sorted(called | set(configured_labels))
    ]
    blocking = [i["label"] for i in integrations if i["retirement"]["blocks_removal"]]
    return {
        "generated_at": int(at),
        "quiet_days": quiet_days,
        "chart_days": CHART_DAYS,
        "series_days": SERIES_DAYS,
        "summary": {
            "blocking": blocking,
            "retired_ready": [
                i["label"] for i in integrations if i["retirement"]["state"] == "retired-ready"
            ],
            "can_remove_bridge": not blocking,
            "text": removal_verdict(blocking, quiet_days),
        },
        "integrations": integrations,
    }


def removal_verdict(blocking: list[str], quiet_days: int) -> str:
    if not blocking:
        return f"No integration has called for {quiet_days} days: the bridge can be removed."
    names = ", ".join(blocking)
    return (
        f"{len(blocking)} integration{'s' if len(blocking) != 1 else ''} still "
        f"block{'s' if len(blocking) == 1 else ''} removing the bridge: {names}"
    )


SPARK: Final = "▁▂▃▄▅▆▇█"


def sparkline(counts: list[int]) -> str:
    """One character per day: ``·`` for no calls, ▁..█ scaled to the busiest day."""
    peak = max(counts, default=0)
    if peak == 0:
        return "·" * len(counts)
    return "".join(
        "·" if n == 0 else SPARK[min(len(SPARK) - 1, (n * len(SPARK) - 1) // peak)] for n in counts
    )


def _when(stamp: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp)) if stamp else "never"


def render_report(report: dict[str, Any]) -> str:
    """The report as text for a terminal."""
    if not report["integrations"]:
        return "No v1 calls recorded yet: nothing uses the bridge (or it has not flushed)."
    lines = [report["summary"]["text"], ""]
    for integration in report["integrations"]:
        retirement = integration["retirement"]
        lines.append(f"== {integration['label']}: {retirement['text']}")
        if not integration["routes"]:
            lines.append("")
            continue
        daily = [d["calls"] for d in integration["daily"]]
        lines.append(
            f"  {report['chart_days']} days |{sparkline(daily)}| "
            f"{sum(daily)} calls, peak {max(daily, default=0)}/day"
        )
        lines.append(
            f"  {integration['calls']} calls since {_when(integration['first_seen'])}, "
            f"last {_when(integration['last_seen'])}"
        )
        for title, key in (("user agents", "user_agents"), ("addresses", "addresses")):
            if integration[key]:
                top = ", ".join(f"{e['value']} ({e['calls']})" for e in integration[key][:3])
                lines.append(f"  {title}: {top}")
        for route in integration["routes"]:
            classes = " ".join(f"{k} {v}" for k, v in route["statuses"].items())
            lines.append(
                f"  {route['route']}: {route['calls']} calls, last {_when(route['last_seen'])}"
                + (f" ({classes})" if classes else "")
            )
            lines.append(f"    replace with {route['v2_call']}")
            if route["hint"]:
                lines.append(f"    change: {route['hint']}")
            if route["unknown_fields"]:
                lines.append(f"    fields v2 ignores: {', '.join(route['unknown_fields'])}")
        lines.append("")
    return "\n".join(lines).rstrip()

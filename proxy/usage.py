"""The migration report: which integration still calls which v1 endpoint.

Every answered v1 request is counted per key label and route (calls, last seen), with
the v1 body fields that v2 has no place for. Counts are buffered in memory and flushed
to the store every few seconds (and at shutdown), so one report covers all replicas
without adding a store round trip to each request. A flush the store refuses (Redis
down) keeps what it could not write for the next one and never raises into a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any, Final

import structlog

from proxy.store import Store, StoreError

log = structlog.get_logger("homerun_bridge.usage")

USAGE_TTL_SECONDS: Final = 400 * 24 * 3600
FLUSH_SECONDS: Final = 5.0

# route -> (the v2 call that replaces it, what the integration must change)
REPLACEMENTS: Final[dict[str, tuple[str, str]]] = {
    "GET /v1/jobs": (
        "GET /v2/vacancies?include[]=location&include[]=department",
        "read `vacancies`; status `open` is `public`; dates are ISO 8601; page with page/perPage",
    ),
    "GET /v1/jobs/{id}": (
        "GET /v2/vacancies/{id}",
        "read `data`; location and department are objects, opt-in with include[]",
    ),
    "GET /v1/candidates": (
        "GET /v2/job-applications",
        "candidates are gone: read each application's `personal_info`",
    ),
    "POST /v1/candidates": (
        "none (send the person with POST /v2/job-applications)",
        "drop the candidate step; send first_name, last_name, email with the application",
    ),
    "GET /v1/candidates/{id}": (
        "GET /v2/job-applications/{id}",
        "use the application id; the person is `personal_info`",
    ),
    "GET /v1/applications": (
        "GET /v2/job-applications?include[]=vacancy&include[]=stage",
        "filter with filter[vacancy_id] and filter[stage]; page with page/perPage and meta",
    ),
    "POST /v1/applications": (
        "POST /v2/job-applications",
        "send JSON with flat personal fields; content -> custom_data; job -> vacancy_id",
    ),
    "GET /v1/applications/{id}": (
        "GET /v2/job-applications/{id}?include[]=vacancy",
        "content is top-level fields + custom_data; dates are ISO 8601",
    ),
    "PUT /v1/applications/{id}": (
        "PATCH /v2/job-applications/{id}",
        'send only the fields that change, as JSON; stage is {"name": …}',
    ),
    "POST /v1/applications/{id}": (
        "PATCH /v2/job-applications/{id}",
        'send only the fields that change, as JSON; stage is {"name": …}',
    ),
    "PATCH /v1/applications/{id}": (
        "PATCH /v2/job-applications/{id}",
        'send JSON; stage is {"name": …}; custom_data is merged',
    ),
    "GET /v1/applications/{id}/notes": (
        "GET /v2/job-applications/{id}?include[]=notes",
        "read `notes` of the application; needs job-application-notes:read",
    ),
    "POST /v1/applications/{id}/notes": (
        "POST /v2/job-applications/{id}/notes",
        "send JSON: body -> note, name -> display_name (required)",
    ),
    "GET /v1/applications/{id}/files": (
        "GET /v2/job-applications/{id}",
        "read the application's `files`; URLs expire after 5 minutes",
    ),
    "POST /v1/applications/{id}/files": (
        "POST /v2/job-applications/{id}/files",
        "send multipart with a `type` part (resume|assignment); answers 200, not 201",
    ),
    "DELETE /v1/applications/{id}/files/{file_id}": (
        "none",
        "v2 cannot delete files: remove this call, delete files in the Homerun app",
    ),
}
for _alias, _target in (("candidates/{id}/notes", "notes"), ("candidates/{id}/files", "files")):
    for _method in ("GET", "POST"):
        _v2, _hint = REPLACEMENTS[f"{_method} /v1/applications/{{id}}/{_target}"]
        REPLACEMENTS[f"{_method} /v1/{_alias}"] = (_v2, "use the application id; " + _hint)


class UsageBook:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._calls: Counter[tuple[str, str]] = Counter()
        self._seen: dict[tuple[str, str], int] = {}
        self._fields: Counter[tuple[str, str]] = Counter()

    def record(self, label: str, route: str, unknown_fields: list[str]) -> None:
        self._calls[(label, route)] += 1
        self._seen[(label, route)] = int(time.time())
        for name in unknown_fields:
            self._fields[(label, f"{route} {name}")] += 1

    async def flush(self) -> bool:
        """Write the buffered counts to the store; False when it failed. Never raises:
        what was not written stays buffered for the next flush (each part is taken off
        the buffer only once the store took it, so nothing is counted twice)."""
        calls, seen, fields = self._calls, self._seen, self._fields
        self._calls, self._seen, self._fields = Counter(), {}, Counter()
        try:
            for label in sorted({label for label, _ in calls} | {label for label, _ in fields}):
                await self._store.sadd("usage:labels", label, USAGE_TTL_SECONDS)
                mine = {route: n for (owner, route), n in calls.items() if owner == label}
                if mine:
                    await self._store.hincr(f"usage:calls:{label}", mine, USAGE_TTL_SECONDS)
                    for route in mine:
                        del calls[(label, route)]
                last = {r: str(t) for (owner, r), t in seen.items() if owner == label}
                if last:
                    await self._store.hset(f"usage:seen:{label}", last, USAGE_TTL_SECONDS)
                    for route in last:
                        del seen[(label, route)]
                unknown = {f: n for (owner, f), n in fields.items() if owner == label}
                if unknown:
                    await self._store.hincr(f"usage:fields:{label}", unknown, USAGE_TTL_SECONDS)
                    for name in unknown:
                        del fields[(label, name)]
        except StoreError as exc:
            # Keep what was not written for the next flush rather than lose it.
            self._calls.update(calls)
            self._fields.update(fields)
            self._seen = {**seen, **self._seen}
            log.warning("usage.flush_failed", error=str(exc), kept=sum(calls.values()))
            return False
        return True

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


async def migration_report(store: Store) -> dict[str, Any]:
    """Per integration: each v1 route still used, its v2 replacement and the change needed."""
    integrations = []
    for label in sorted(await store.smembers("usage:labels")):
        calls = await store.hgetall(f"usage:calls:{label}")
        seen = await store.hgetall(f"usage:seen:{label}")
        fields = await store.hgetall(f"usage:fields:{label}")
        routes = []
        for route in sorted(calls, key=lambda r: -int(calls[r])):
            v2_call, hint = REPLACEMENTS.get(route, ("unknown", ""))
            routes.append(
                {
                    "route": route,
                    "calls": int(calls[route]),
                    "last_seen": int(seen.get(route, "0")),
                    "v2_call": v2_call,
                    "hint": hint,
                    "unknown_fields": sorted(
                        key.split(" ", 2)[2]
                        for key in fields
                        if key.startswith(route + " ") and key.count(" ") >= 2
                    ),
                }
            )
        integrations.append({"label": label, "routes": routes})
    return {"integrations": integrations}


def render_report(report: dict[str, Any]) -> str:
    """The report as text for a terminal."""
    if not report["integrations"]:
        return "No v1 calls recorded yet: nothing uses the bridge (or it has not flushed)."
    lines = []
    for integration in report["integrations"]:
        lines.append(f"== {integration['label']}")
        for route in integration["routes"]:
            when = time.strftime("%Y-%m-%d %H:%M", time.gmtime(route["last_seen"]))
            lines.append(f"  {route['route']}: {route['calls']} calls, last {when} UTC")
            lines.append(f"    replace with {route['v2_call']}")
            if route["hint"]:
                lines.append(f"    change: {route['hint']}")
            if route["unknown_fields"]:
                lines.append(f"    fields v2 ignores: {', '.join(route['unknown_fields'])}")
    return "\n".join(lines)

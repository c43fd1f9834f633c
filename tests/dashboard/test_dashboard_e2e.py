"""The dashboard and its exports through a real bridge in front of the sandbox: after a
scripted session of several integrations, ``/_bridge/usage.json`` and ``/_bridge/usage.csv``
hold the right counts per label, route and UTC day and the right retirement states; the
page shows them escaped; the admin token is needed (Bearer, or the Basic prompt's
password) and no secret appears anywhere."""

from __future__ import annotations

import csv
import io
import json
import time

import aiohttp

from proxy.dashboard import render_csv, render_dashboard, safe_cell
from proxy.store import MemoryStore
from proxy.usage import UsageBook, migration_report, render_report
from tests.dashboard.session import (
    ADMIN_TOKEN,
    CAREERS_AGENT,
    EXPECTED_BLOCKING,
    EXPECTED_STATES,
    HOSTILE_AGENT,
    Session,
)
from tests.proxy.conftest import KEYS, Harness

BEARER = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
SECRETS = [ADMIN_TOKEN, *KEYS, *(v2 for _, _, v2 in KEYS.values())]


async def _operator_get(harness: Harness, path: str) -> tuple[aiohttp.ClientResponse, str]:
    """``path`` fetched with the admin token: the answer (asserted 200) and its text."""
    async with harness.http.get(harness.url(path), headers=BEARER) as response:
        assert response.status == 200, path
        return response, await response.text()


def _expected_days(session: Session, calls: int) -> dict[str, int] | None:
    """The day series one route must show, or None when the session crossed midnight UTC."""
    return {session.first_day: calls} if session.first_day == session.last_day else None


async def test_json_export_counts_each_label_route_and_day(
    dashboard: tuple[Harness, Session],
) -> None:
    harness, session = dashboard
    response, text = await _operator_get(harness, "/_bridge/usage.json")
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    for secret in SECRETS:
        assert secret not in text
    report = json.loads(text)
    by_label = {i["label"]: i for i in report["integrations"]}
    assert {label: i["retirement"]["state"] for label, i in by_label.items()} == EXPECTED_STATES
    assert by_label["nonotes"]["retirement"]["text"] == "quiet for 5 days"
    assert by_label["noplan"]["retirement"]["quiet_days"] == 40
    assert report["summary"]["blocking"] == EXPECTED_BLOCKING
    assert report["summary"]["can_remove_bridge"] is False
    recorded = {
        (label, route["route"]): route
        for label, integration in by_label.items()
        for route in integration["routes"]
        if label in ("careers-site", "hr-sync")
    }
    assert set(recorded) == set(session.calls)
    for key, route in recorded.items():
        assert route["calls"] == session.calls[key], key
        assert route["statuses"] == dict(session.statuses[key]), key
        days = _expected_days(session, session.calls[key])
        if days is not None:
            assert route["days"] == days, key
        assert sum(route["days"].values()) == session.calls[key]
    assert recorded[("careers-site", "GET /v1/jobs")]["v2_call"].startswith("GET /v2/vacancies")
    careers, hr = by_label["careers-site"], by_label["hr-sync"]
    assert careers["daily"][-1]["calls"] + careers["daily"][-2]["calls"] == 4
    assert careers["user_agents"] == [{"value": CAREERS_AGENT, "calls": 4}]
    assert careers["addresses"] == [{"value": "127.0.0.1", "calls": 4}]
    assert hr["user_agents"] == [{"value": HOSTILE_AGENT, "calls": 2}]
    assert hr["addresses"] == [{"value": "203.0.113.9", "calls": 2}]  # first forwarded hop
    assert by_label["revoked"]["routes"] == [] and by_label["revoked"]["calls"] == 0


async def test_csv_export_holds_the_same_series(dashboard: tuple[Harness, Session]) -> None:
    harness, session = dashboard
    response, text = await _operator_get(harness, "/_bridge/usage.csv")
    assert response.content_type == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(text)))
    totals = {(r["label"], r["route"]): r for r in rows if r["day"] == "total" and r["route"]}
    for (label, route), calls in session.calls.items():
        total = totals[(label, route)]
        assert int(total["calls"]) == calls
        assert total["state"] == EXPECTED_STATES[label]
        for status_class, count in session.statuses[(label, route)].items():
            assert int(total[status_class]) == count
        days = {
            r["day"]: int(r["calls"])
            for r in rows
            if (r["label"], r["route"]) == (label, route) and r["day"] != "total"
        }
        assert sum(days.values()) == calls
        expected = _expected_days(session, calls)
        if expected is not None:
            assert days == expected
    assert {r["label"] for r in rows} == set(EXPECTED_STATES)
    assert totals[("noplan", "GET /v1/jobs")]["state"] == "retired-ready"


async def test_the_page_needs_the_admin_token(dashboard: tuple[Harness, Session]) -> None:
    harness, _ = dashboard
    for path in ("/_bridge/", "/_bridge/usage.json", "/_bridge/usage.csv"):
        async with harness.http.get(harness.url(path)) as response:
            assert response.status == 401
            assert response.headers["WWW-Authenticate"] == (
                'Basic realm="homerun-bridge operators"'
            )
        wrong = aiohttp.BasicAuth("operator", "not-the-token")
        async with harness.http.get(harness.url(path), auth=wrong) as response:
            assert response.status == 401
        async with harness.http.get(
            harness.url(path), headers={"Authorization": "Basic !!notbase64"}
        ) as response:
            assert response.status == 401
        basic = aiohttp.BasicAuth("any-name", ADMIN_TOKEN)
        async with harness.http.get(harness.url(path), auth=basic) as response:
            assert response.status == 200, path


async def test_the_page_shows_each_integration_escaped_and_no_secret(
    dashboard: tuple[Harness, Session],
) -> None:
    harness, _ = dashboard
    response, page = await _operator_get(harness, "/_bridge/")
    assert response.content_type == "text/html"
    assert "<script" not in page.lower()
    assert HOSTILE_AGENT not in page  # shown escaped, never as markup
    assert "&lt;img src=&quot;https://evil.example/x.png&quot;" in page
    assert "https://evil.example" not in page.replace("&quot;https://evil.example", "")
    for secret in SECRETS:
        assert secret not in page
    for label, state in EXPECTED_STATES.items():
        assert f'data-label="{label}"' in page
        assert f'data-state="{state}"' in page
    assert "3 integrations still block removing the bridge: careers-site, hr-sync, nonotes" in page


def test_csv_cells_cannot_become_formulas() -> None:
    for hostile in ("=1+2", "+1", "-1", "@SUM(A1)", "\tx", "|cmd"):
        assert safe_cell(hostile) == "'" + hostile
    assert safe_cell("GET /v1/jobs") == "GET /v1/jobs"


async def test_exports_escape_what_callers_and_labels_choose() -> None:
    store = MemoryStore()
    book = UsageBook(store)
    label = '=HYPERLINK("http://x")<b>'
    book.record(label, "GET /v1/jobs", ["</td><script>"], status=200, user_agent="<script>x")
    assert await book.flush()
    report = await migration_report(store, now=time.time())
    rows = list(csv.reader(io.StringIO(render_csv(report))))
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
    assert rows[1][0] == "'" + label
    page = render_dashboard(report)
    assert "<script" not in page and "<b>" not in page
    assert "&lt;script&gt;x" in page and "&lt;/td&gt;&lt;script&gt;" in page


async def test_answers_304_have_their_own_column_on_the_page_and_in_the_csv() -> None:
    # A careers site polling with If-None-Match gets 304s: they are calls the dashboard
    # shows, in a 3xx column, not only in the total.
    store = MemoryStore()
    book = UsageBook(store)
    for status in (200, 304, 304, 404):
        book.record("poller", "GET /v1/jobs", [], status=status, user_agent="widget")
    assert await book.flush()
    report = await migration_report(store, now=time.time())
    (route,) = report["integrations"][0]["routes"]
    assert route["statuses"] == {"2xx": 1, "3xx": 2, "4xx": 1}
    (total,) = [r for r in csv.DictReader(io.StringIO(render_csv(report))) if r["day"] == "total"]
    assert [total[c] for c in ("calls", "2xx", "3xx", "4xx", "5xx")] == ["4", "1", "2", "1", "0"]
    page = render_dashboard(report)
    assert '<th class="num">3xx</th>' in page
    assert '<td class="num calls">4</td><td class="num">1</td><td class="num">2</td>' in page


async def test_the_report_command_text_has_a_sparkline_per_integration(
    dashboard: tuple[Harness, Session],
) -> None:
    harness, _ = dashboard
    report = json.loads((await _operator_get(harness, "/_bridge/usage.json"))[1])
    text = render_report(report)
    assert text.splitlines()[0].startswith("3 integrations still block removing the bridge")
    assert "== noplan: retired-ready: quiet for 40 days" in text
    assert "== nonotes: quiet for 5 days" in text
    sparklines = [line for line in text.splitlines() if line.startswith("  90 days |")]
    assert len(sparklines) == 4  # every integration that called; revoked never did
    assert all(len(line.split("|")[1]) == 90 for line in sparklines)
    assert "GET /v1/jobs: 3 calls" in text and "(2xx 3)" in text

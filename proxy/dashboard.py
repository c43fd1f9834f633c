"""The retirement dashboard: ``GET /_bridge/`` and its exports, for operators.

One page, rendered on the server from :func:`proxy.usage.migration_report`: a summary of
which integrations block removing the bridge, then per integration a chart of its daily
calls (inline SVG), when it was last seen, its retirement state, who it is (user agents,
addresses) and per v1 route the v2 call that replaces it and the change its code needs.
No script, no external asset (a Content-Security-Policy forbids both), so it works
offline, inside a cluster and without JavaScript. ``/_bridge/usage.json`` and
``/_bridge/usage.csv`` export the same facts.

Everything shown is escaped: labels, user agents and field names are chosen by callers.
CSV cells that a spreadsheet would run as a formula are defused with a leading ``'``.
The admin token is accepted as ``Authorization: Bearer <token>`` or as the password of
the browser's Basic prompt; no key and no ``Authorization`` value is ever shown.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hmac
import io
import os
import time
from html import escape
from http import HTTPStatus
from typing import Any, Final

from aiohttp import web

from proxy.state import BRIDGE, json_response
from proxy.usage import migration_report

REALM: Final = 'Basic realm="homerun-bridge operators"'
# No script, no request anywhere: only inline styles and the inline SVG in the page.
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r", "|", "%")
STATE_COLOURS: Final = {
    "active": "#b42318",
    "quiet": "#b54708",
    "retired-ready": "#067647",
    "never-called": "#475467",
}


def offered_admin_token(authorization: str) -> str:
    """The token in ``Bearer <token>`` or in the password of ``Basic <user:token>``."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return ""
        return decoded.partition(":")[2]
    return ""


def admin_authorized(request: web.Request) -> bool:
    env = request.app[BRIDGE].settings.admin_token_env
    expected = os.environ.get(env, "") if env else ""
    offered = offered_admin_token(request.headers.get("Authorization", ""))
    return bool(expected) and hmac.compare_digest(offered.encode(), expected.encode())


def _unauthorized(html: bool) -> web.Response:
    headers = {"WWW-Authenticate": REALM, **SECURITY_HEADERS}
    message = (
        "The dashboard needs the admin token: as the password of this prompt (any user "
        "name) or as a Bearer token"
    )
    if html:
        body = f"<!doctype html><title>401</title><p>{escape(message)}</p>"
        return web.Response(
            text=body, status=HTTPStatus.UNAUTHORIZED, content_type="text/html", headers=headers
        )
    return json_response({"message": message, "status": 401}, HTTPStatus.UNAUTHORIZED, headers)


async def _facts(request: web.Request) -> dict[str, Any]:
    bridge = request.app[BRIDGE]
    await bridge.usage.flush()  # what it cannot write stays buffered; the page says less
    return await migration_report(
        bridge.store,
        quiet_days=bridge.settings.retirement_quiet_days,
        configured_labels=bridge.keys.labels,
    )


async def dashboard_page(request: web.Request) -> web.Response:
    if not admin_authorized(request):
        return _unauthorized(html=True)
    page = render_dashboard(await _facts(request))
    return web.Response(text=page, content_type="text/html", headers=SECURITY_HEADERS)


async def usage_json(request: web.Request) -> web.Response:
    if not admin_authorized(request):
        return _unauthorized(html=False)
    return json_response(await _facts(request), headers=SECURITY_HEADERS)


async def usage_csv(request: web.Request) -> web.Response:
    if not admin_authorized(request):
        return _unauthorized(html=False)
    headers = {
        **SECURITY_HEADERS,
        "Content-Disposition": 'attachment; filename="homerun-bridge-usage.csv"',
    }
    return web.Response(
        text=render_csv(await _facts(request)), content_type="text/csv", headers=headers
    )


def register(router: web.UrlDispatcher) -> None:
    router.add_get("/_bridge/", dashboard_page)
    router.add_get("/_bridge/usage.json", usage_json)
    router.add_get("/_bridge/usage.csv", usage_csv)


# --- CSV --------------------------------------------------------------------------------

# 3xx: answers 304 Not Modified to a client that polls with If-None-Match.
STATUS_CLASSES: Final = ("2xx", "3xx", "4xx", "5xx")
CSV_COLUMNS: Final = (
    "label",
    "state",
    "quiet_days",
    "last_seen_utc",
    "route",
    "v2_call",
    "change",
    "day",
    "calls",
    *STATUS_CLASSES,
)


def safe_cell(value: object) -> str:
    """A CSV cell no spreadsheet runs as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _utc(stamp: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(stamp)) if stamp else ""


def render_csv(report: dict[str, Any]) -> str:
    """One row per integration, route and UTC day with calls, and per route a ``total`` row
    (with its status classes): the time series, ready for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for integration in report["integrations"]:
        retirement = integration["retirement"]
        head = [
            integration["label"],
            retirement["state"],
            retirement["quiet_days"],
            _utc(integration["last_seen"]),
        ]
        if not integration["routes"]:
            blank = [""] * len(STATUS_CLASSES)
            writer.writerow([safe_cell(v) for v in [*head, "", "", "", "total", 0, *blank]])
        for route in integration["routes"]:
            about = [route["route"], route["v2_call"], route["hint"]]
            statuses = route["statuses"]
            total = ["total", route["calls"], *(statuses.get(c, 0) for c in STATUS_CLASSES)]
            writer.writerow([safe_cell(v) for v in [*head, *about, *total]])
            for day, calls in route["days"].items():
                blank = [""] * len(STATUS_CLASSES)
                writer.writerow([safe_cell(v) for v in [*head, *about, day, calls, *blank]])
    return out.getvalue()


# --- HTML -------------------------------------------------------------------------------

STYLE: Final = """
:root { color-scheme: light; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0;
  color: #101828; background: #f5f6f8; }
header { background: #1d2939; color: #fff; padding: 16px 28px; }
header h1 { margin: 0; font-size: 20px; font-weight: 600; }
header p { margin: 4px 0 0; color: #d0d5dd; font-size: 13px; }
main { padding: 20px 28px 40px; max-width: 1180px; }
.summary { border-radius: 8px; padding: 14px 18px; margin-bottom: 20px; font-size: 16px;
  border: 1px solid; }
.summary.blocked { background: #fef3f2; border-color: #fda29b; }
.summary.clear { background: #ecfdf3; border-color: #75e0a7; }
.summary p { margin: 0; font-weight: 600; }
table { border-collapse: collapse; width: 100%; background: #fff; }
th, td { text-align: left; padding: 6px 10px; border-bottom: 1px solid #eaecf0;
  vertical-align: top; }
th { font-size: 12px; text-transform: uppercase; letter-spacing: .04em; color: #475467;
  background: #f9fafb; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.state { display: inline-block; border-radius: 10px; padding: 1px 9px; color: #fff;
  font-size: 12px; font-weight: 600; white-space: nowrap; }
section.integration { background: #fff; border: 1px solid #eaecf0; border-radius: 8px;
  padding: 16px 18px; margin: 20px 0; }
section.integration h2 { margin: 0 0 6px; font-size: 18px; }
.facts { color: #475467; margin: 0 0 10px; font-size: 14px; }
.who { display: flex; gap: 20px; flex-wrap: wrap; margin: 12px 0; }
.who > div { flex: 1 1 320px; }
h3 { font-size: 13px; margin: 12px 0 6px; color: #344054; text-transform: uppercase;
  letter-spacing: .04em; }
code { font: 13px ui-monospace, SFMono-Regular, Menlo, monospace; overflow-wrap: anywhere; }
svg { display: block; width: 100%; height: auto; }
td.route code { white-space: nowrap; }
.legend { color: #475467; font-size: 13px; margin: -10px 0 16px; }
.muted { color: #667085; }
"""


def _state_badge(retirement: dict[str, Any]) -> str:
    colour = STATE_COLOURS.get(retirement["state"], "#475467")
    return (
        f'<span class="state" style="background:{colour}" '
        f'data-state="{escape(retirement["state"])}">{escape(retirement["text"])}</span>'
    )


def _when(stamp: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp)) if stamp else "never"


def daily_chart_svg(daily: list[dict[str, Any]], label: str) -> str:
    """Bars of calls per UTC day, drawn here: one bar per day, the busiest day full height,
    each bar's day and count in its tooltip (an SVG ``<title>``, no script)."""
    width, height, left, bottom, top = 900, 150, 44, 22, 10
    bar = (width - left) / max(1, len(daily))
    peak = max((d["calls"] for d in daily), default=0)
    plot = height - bottom - top
    parts = [
        f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(f"Daily v1 calls of {label}")}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f'<line x1="{left}" y1="{height - bottom}" x2="{width}" y2="{height - bottom}" '
        'stroke="#98a2b3"/>',
        f'<text x="{left - 6}" y="{top + 4}" text-anchor="end" font-size="11" '
        f'fill="#475467">{peak}</text>',
        f'<text x="{left - 6}" y="{height - bottom}" text-anchor="end" font-size="11" '
        'fill="#475467">0</text>',
    ]
    for index, day in enumerate(daily):
        calls = day["calls"]
        tall = 0.0 if not peak else max(1.5, plot * calls / peak) if calls else 0.0
        x = left + index * bar
        parts.append(
            f'<rect x="{x + 0.5:.1f}" y="{height - bottom - tall:.1f}" '
            f'width="{max(1.0, bar - 1.5):.1f}" height="{tall:.1f}" fill="#2e90fa">'
            f"<title>{escape(day['day'])}: {calls} calls</title></rect>"
        )
    if daily:
        for index, anchor in ((0, "start"), (len(daily) - 1, "end")):
            x = left + index * bar + (0 if anchor == "start" else bar)
            parts.append(
                f'<text x="{x:.1f}" y="{height - 6}" text-anchor="{anchor}" font-size="11" '
                f'fill="#475467">{escape(daily[index]["day"])}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _who_table(title: str, rows: list[dict[str, Any]], what: str, css: str) -> str:
    if not rows:
        return f'<div><h3>{escape(title)}</h3><p class="muted">none recorded</p></div>'
    body = "".join(
        f'<tr><td><code>{escape(row["value"])}</code></td><td class="num">{row["calls"]}</td></tr>'
        for row in rows
    )
    return (
        f'<div><h3>{escape(title)}</h3><table class="{css}"><tr><th>{escape(what)}</th>'
        f'<th class="num">calls</th></tr>{body}</table></div>'
    )


def _routes_table(routes: list[dict[str, Any]]) -> str:
    if not routes:
        return '<p class="muted">No v1 call recorded.</p>'
    rows = []
    for route in routes:
        statuses = route["statuses"]
        ignored = ", ".join(route["unknown_fields"])
        rows.append(
            f'<tr data-route="{escape(route["route"])}">'
            f'<td class="route"><code>{escape(route["route"])}</code></td>'
            f'<td class="num calls">{route["calls"]}</td>'
            + "".join(f'<td class="num">{statuses.get(c, 0)}</td>' for c in STATUS_CLASSES)
            + f"<td>{escape(_when(route['last_seen']))}</td>"
            f"<td><code>{escape(route['v2_call'])}</code></td>"
            f"<td>{escape(route['hint'])}"
            + (
                f'<br><span class="muted">fields v2 ignores: {escape(ignored)}</span>'
                if ignored
                else ""
            )
            + "</td></tr>"
        )
    return (
        '<table class="routes"><tr><th>v1 route</th><th class="num">calls</th>'
        + "".join(f'<th class="num">{c}</th>' for c in STATUS_CLASSES)
        + "<th>last seen</th><th>v2 call that replaces it</th>"
        "<th>change the code needs</th></tr>" + "".join(rows) + "</table>"
    )


def _integration_section(integration: dict[str, Any], chart_days: int) -> str:
    label = integration["label"]
    recent = sum(d["calls"] for d in integration["daily"])
    return (
        f'<section class="integration" id="{escape("integration-" + label)}" '
        f'data-label="{escape(label)}">'
        f"<h2>{escape(label)} {_state_badge(integration['retirement'])}</h2>"
        f'<p class="facts"><span class="total">{integration["calls"]}</span> calls in all, '
        f'<span class="recent">{recent}</span> in the last {chart_days} days; '
        f"first seen {escape(_when(integration['first_seen']))}, "
        f'last seen <span class="last-seen">{escape(_when(integration["last_seen"]))}</span></p>'
        f"{daily_chart_svg(integration['daily'], label)}"
        '<div class="who">'
        + _who_table("Top user agents", integration["user_agents"], "user agent", "agents")
        + _who_table("Top client addresses", integration["addresses"], "address", "addresses")
        + "</div><h3>v1 routes still called</h3>"
        + _routes_table(integration["routes"])
        + "</section>"
    )


def render_dashboard(report: dict[str, Any]) -> str:
    """The whole page (HTML5, inline CSS and SVG only)."""
    summary = report["summary"]
    integrations = report["integrations"]
    overview = "".join(
        f'<tr data-label="{escape(i["label"])}">'
        f'<td><a href="#{escape("integration-" + i["label"])}">{escape(i["label"])}</a></td>'
        f"<td>{_state_badge(i['retirement'])}</td>"
        f'<td class="num">{sum(d["calls"] for d in i["daily"])}</td>'
        f'<td class="num">{i["calls"]}</td>'
        f"<td>{escape(_when(i['last_seen']))}</td>"
        f"<td>{'yes' if i['retirement']['blocks_removal'] else 'no'}</td></tr>"
        for i in integrations
    )
    generated = _when(report["generated_at"])
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<link rel="icon" href="data:,">'
        "<title>homerun-bridge: retiring the bridge</title>"
        f"<style>{STYLE}</style></head><body>"
        "<header><h1>homerun-bridge · retiring the bridge</h1>"
        f"<p>Which integration still calls API v1 through the bridge. Generated {generated}; "
        f"an integration quiet for {report['quiet_days']} days is retired-ready.</p></header>"
        "<main>"
        f'<div class="summary {"clear" if summary["can_remove_bridge"] else "blocked"}" '
        f'id="summary"><p>{escape(summary["text"])}</p></div>'
        '<p class="legend">Red: called within the last day. Amber: quiet, not yet for '
        f"{report['quiet_days']} days. Both block removing the bridge. Green: retired-ready "
        "(quiet long enough to switch off its v1 key). Grey: a configured key never used.</p>"
        '<table class="overview"><tr><th>integration</th><th>state</th>'
        f'<th class="num">calls, {report["chart_days"]} days</th><th class="num">calls in all</th>'
        "<th>last seen</th><th>blocks removal</th></tr>"
        + (overview or '<tr><td colspan="6" class="muted">No v1 call recorded yet.</td></tr>')
        + "</table>"
        + "".join(_integration_section(i, report["chart_days"]) for i in integrations)
        + "</main></body></html>"
    )

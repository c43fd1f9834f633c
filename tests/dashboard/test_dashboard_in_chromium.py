"""The retirement dashboard in a real headless Chromium (Debian's package, driven by
Playwright), after a scripted session of several integrations through a real bridge and
sandbox: the page shows each integration with the right counts and states, every request
it makes goes to the bridge's own origin, the console stays free of errors, and with
JavaScript disabled it shows the same facts. The browser signs in the way an operator
does, through the Basic prompt with the admin token as the password.

A screenshot is saved under the test's temporary directory; ``DASHBOARD_SCREENSHOT=<path>``
also writes one there (``docs/dashboard.png`` for the README is made that way).
Skips with the reason unless ``REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pytest

from proxy.dashboard import STATUS_CLASSES
from tests.browser.chromium import headless_chromium
from tests.dashboard import session as scripted
from tests.proxy.conftest import Harness

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page


async def _facts_on(page: Page) -> dict[str, Any]:
    """What an operator reads off the page, per integration (DOM reads, no page script)."""
    facts: dict[str, Any] = {"summary": await page.locator("#summary").inner_text()}
    for section in await page.locator("section.integration").all():
        label = await section.get_attribute("data-label")
        routes = {}
        for row in await section.locator("tr[data-route]").all():
            cells = await row.locator("td").all_inner_texts()
            routes[await row.get_attribute("data-route")] = {
                "calls": int(cells[1]),
                **{c: int(cells[2 + i]) for i, c in enumerate(STATUS_CLASSES)},
                "v2_call": cells[3 + len(STATUS_CLASSES)],
            }
        facts[str(label)] = {
            "state": await section.locator(".state").get_attribute("data-state"),
            "state_text": await section.locator(".state").inner_text(),
            "total": int(await section.locator(".total").inner_text()),
            "bars": await section.locator("svg rect").count(),
            "agents": await section.locator("table.agents code").all_inner_texts(),
            "routes": routes,
        }
    return facts


def _assert_facts(facts: dict[str, Any], session: scripted.Session) -> None:
    assert facts["summary"] == (
        "3 integrations still block removing the bridge: " + ", ".join(scripted.EXPECTED_BLOCKING)
    )
    for label, state in scripted.EXPECTED_STATES.items():
        assert facts[label]["state"] == state, label
        assert facts[label]["bars"] == 90, label  # one bar per day of the chart
    assert facts["nonotes"]["state_text"] == "quiet for 5 days"
    assert facts["noplan"]["state_text"] == "retired-ready: quiet for 40 days"
    for (label, route), calls in session.calls.items():
        shown = facts[label]["routes"][route]
        assert shown["calls"] == calls, (label, route)
        for status_class in STATUS_CLASSES:
            assert shown[status_class] == session.statuses[(label, route)].get(status_class, 0)
    assert facts["careers-site"]["total"] == 4 and facts["hr-sync"]["total"] == 2
    assert facts["careers-site"]["agents"] == [scripted.CAREERS_AGENT]
    # The hostile agent is shown as text, not run as markup.
    assert facts["hr-sync"]["agents"] == [scripted.HOSTILE_AGENT]


async def _open(
    browser: Browser, url: str, *, javascript: bool, screenshot: Path | None = None
) -> tuple[dict[str, Any], list[str], list[str]]:
    context = await browser.new_context(
        java_script_enabled=javascript,
        http_credentials={"username": "operator", "password": scripted.ADMIN_TOKEN},
        viewport={"width": 1280, "height": 900},
    )
    requested: list[str] = []
    problems: list[str] = []
    try:
        page = await context.new_page()
        page.on("request", lambda request: requested.append(request.url))
        page.on(
            "console",
            lambda message: problems.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: problems.append(str(error)))
        response = await page.goto(url, wait_until="load")
        assert response is not None and response.status == 200
        facts = await _facts_on(page)
        if screenshot is not None:
            await page.screenshot(path=str(screenshot), full_page=False)
    finally:
        await context.close()
    return facts, requested, problems


async def test_the_dashboard_in_chromium(
    dashboard: tuple[Harness, scripted.Session], tmp_path: Path
) -> None:
    harness, session = dashboard
    url = harness.url("/_bridge/")
    origin = urlsplit(url)._replace(path="", query="", fragment="").geturl()
    async with headless_chromium() as browser:
        shot = tmp_path / "dashboard.png"
        facts, requested, problems = await _open(browser, url, javascript=True, screenshot=shot)
        _assert_facts(facts, session)
        assert requested and all(r.startswith(origin + "/") for r in requested), requested
        assert problems == []
        assert shot.stat().st_size > 10_000
        wanted = os.environ.get("DASHBOARD_SCREENSHOT")
        if wanted:
            await asyncio.to_thread(shutil.copyfile, shot, wanted)
        without_js, requested, problems = await _open(browser, url, javascript=False)
        assert without_js == facts
        assert all(r.startswith(origin + "/") for r in requested), requested
        assert problems == []
        # Without the token the browser is challenged for Basic credentials (headless, the
        # prompt is cancelled) and gets no facts.
        from playwright.async_api import Error

        anonymous = await browser.new_context()
        try:
            page = await anonymous.new_page()
            with pytest.raises(Error, match="ERR_INVALID_AUTH_CREDENTIALS"):
                await page.goto(url)
            answer = await anonymous.request.get(url)
            assert answer.status == 401 and "careers-site" not in await answer.text()
        finally:
            await anonymous.close()

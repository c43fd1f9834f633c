"""A real headless Chromium for tests: Debian's ``chromium`` package driven by Playwright's
Python package, launched from the system executable (never ``playwright install``, never a
download at run time).

Where the browser cannot run (no Playwright, no Chromium, a launch that fails) the test is
skipped with the reason, except with ``REQUIRE_BROWSER=1`` (``.ci/run`` sets it): then it
fails. ``CHROMIUM_PATH`` points at another executable.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, NoReturn

import pytest

if TYPE_CHECKING:
    from playwright.async_api import Browser

INSTALL_HINT = "apt-get install chromium; pip install 'playwright>=1.40'"


def cannot_run(reason: str) -> NoReturn:
    """Skip, visibly, or fail when the browser is required."""
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} and REQUIRE_BROWSER=1 ({INSTALL_HINT})", pytrace=False)
    pytest.skip(f"{reason} ({INSTALL_HINT}; REQUIRE_BROWSER=1 makes this a failure)")


def chromium_path() -> str:
    configured = os.environ.get("CHROMIUM_PATH")
    found = configured or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.access(found, os.X_OK):
        cannot_run(f"no Chromium executable at {found}")
    return found


@asynccontextmanager
async def headless_chromium() -> AsyncIterator[Browser]:
    """The system Chromium, headless, closed afterwards."""
    try:
        from playwright.async_api import Error, async_playwright
    except ImportError:
        cannot_run("Playwright's Python package is not installed")
    executable = chromium_path()
    # Chromium refuses to start as root with its sandbox; the test browser needs none.
    args = ["--no-sandbox"] if os.geteuid() == 0 else []
    async with async_playwright() as playwright:
        try:
            browser = await playwright.chromium.launch(
                executable_path=executable, headless=True, args=args, timeout=60_000
            )
        except Error as exc:
            cannot_run(f"Chromium at {executable} did not start: {exc.message.splitlines()[0]}")
        try:
            yield browser
        finally:
            await browser.close()

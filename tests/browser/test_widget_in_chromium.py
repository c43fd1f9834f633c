"""A careers widget in a real headless Chromium, calling the bridge cross-origin.

The widget page (``careers_widget.html``) is served from one loopback origin, the bridge
(in front of the sandbox) from another: ``http://127.0.0.1:A`` and ``http://127.0.0.1:B`` are
different origins to the browser. From the allowed origin the widget lists the jobs with a
Bearer key and posts a JSON application, which the browser preflights; both succeed and the
sandbox holds the application exactly once. Served from an origin the bridge does not allow,
the same page is blocked by the browser itself (``fetch`` rejects with a TypeError) and the
bridge makes no upstream call for it.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from proxy.app import create_app
from proxy.keys import build_key_map
from tests.browser.chromium import headless_chromium
from tests.conftest_sandbox import RunningSandbox, StartSandbox
from tests.proxy.conftest import bridge_settings

if TYPE_CHECKING:
    from playwright.async_api import Browser, Page

WIDGET_PAGE = (Path(__file__).parent / "careers_widget.html").read_bytes()


@dataclass
class Exchange:
    """One answer the bridge sent, as the browser received it."""

    method: str
    path: str
    origin: str | None
    status: int
    headers: dict[str, str]


@dataclass
class Setup:
    bridge: str
    sandbox: RunningSandbox
    allowed_page: str
    other_page: str
    exchanges: list[Exchange] = field(default_factory=list)

    def upstream_requests(self) -> int:
        return sum(self.sandbox.state.stats.requests.values())

    def applications_of(self, email: str) -> list[str]:
        return [a.id for a in self.sandbox.state.applications.values() if a.email == email]


async def _page_server(aiohttp_server: Callable[..., Any]) -> TestServer:
    async def widget(_request: web.Request) -> web.Response:
        return web.Response(body=WIDGET_PAGE, content_type="text/html", charset="utf-8")

    app = web.Application()
    app.router.add_get("/", widget)
    server: TestServer = await aiohttp_server(app)
    return server


@pytest.fixture
async def setup(
    bridge_env: None, start_sandbox: StartSandbox, aiohttp_server: Callable[..., Any]
) -> Setup:
    allowed = await _page_server(aiohttp_server)
    other = await _page_server(aiohttp_server)
    sandbox = await start_sandbox()
    allowed_origin = f"http://127.0.0.1:{allowed.port}"
    settings = bridge_settings(sandbox, cors_allowed_origins=[allowed_origin])
    app = create_app(settings, build_key_map(settings))
    exchanges: list[Exchange] = []

    async def record(request: web.BaseRequest, response: web.StreamResponse) -> None:
        exchanges.append(
            Exchange(
                request.method,
                request.path,
                request.headers.get("Origin"),
                response.status,
                dict(response.headers),
            )
        )

    app.on_response_prepare.append(record)
    bridge = await aiohttp_server(app)
    base = str(bridge.make_url("")).rstrip("/")
    return Setup(
        bridge=base,
        sandbox=sandbox,
        allowed_page=f"{allowed_origin}/?bridge={base}",
        other_page=f"http://127.0.0.1:{other.port}/?bridge={base}",
        exchanges=exchanges,
    )


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with headless_chromium() as launched:
        yield launched


async def _open(browser: Browser, url: str) -> Page:
    context = await browser.new_context()
    page = await context.new_page()
    page.set_default_timeout(30_000)
    await page.goto(url)
    return page


def _person() -> dict[str, str]:
    return {
        "first_name": "Noor",
        "last_name": "Visser",
        "email": f"noor-{uuid.uuid4().hex[:12]}@example.com",
    }


async def test_the_widget_lists_jobs_and_applies_from_an_allowed_origin(
    setup: Setup, browser: Browser
) -> None:
    page = await _open(browser, setup.allowed_page)
    person = _person()
    result = await page.evaluate("(person) => applyForFirstJob(person)", person)
    assert "error" not in result, result
    listed, applied = result["listed"], result["applied"]
    assert listed["status"] == 200 and len(listed["jobs"]) > 0
    # The exposed headers are readable from the page's script.
    assert listed["upstreamCalls"] == "1"
    assert listed["requestId"] and listed["deprecation"] == "@1701388800"
    assert applied["status"] == 201
    assert applied["job"] == listed["jobs"][0] and applied["email"] == person["email"]
    # The DOM shows what the visitor sees.
    assert await page.locator("#jobs li").count() == len(listed["jobs"])
    assert await page.text_content("#status") == f"applied {applied['id']}"
    # The sandbox holds the application exactly once.
    assert setup.applications_of(person["email"]) == [applied["id"]]
    # The browser preflighted the POST, and the bridge answered that itself.
    preflights = [e for e in setup.exchanges if e.method == "OPTIONS"]
    assert preflights, [(e.method, e.path) for e in setup.exchanges]
    for preflight in preflights:
        assert preflight.status == 204
        assert preflight.headers["X-Upstream-Calls"] == "0"
        assert preflight.headers["Access-Control-Allow-Origin"] == preflight.origin
    posts = [e for e in setup.exchanges if e.method == "POST"]
    assert [(p.path, p.status) for p in posts] == [("/v1/applications", 201)]


async def test_errors_reach_the_widget_and_large_pages_arrive_gzipped(
    setup: Setup, browser: Browser
) -> None:
    page = await _open(browser, setup.allowed_page)
    # Errors carry the CORS headers, so the script reads the v1 error instead of a TypeError.
    for path, with_key, status in (
        ("/v1/jobs", False, 401),
        ("/v1/no-such-thing", True, 404),
        ("/v1/jobs/job_missing", True, 404),
    ):
        result = await page.evaluate(
            "([path, withKey]) => caught(() => statusOf(path, withKey))", [path, with_key]
        )
        assert result == {"answer": {"status": status, "body": result["answer"]["body"]}}
        assert result["answer"]["body"]["status"] == status
    result = await page.evaluate(
        "() => caught(() => statusOf('/v1/applications?per_page=100', true))"
    )
    assert result["answer"]["status"] == 200
    assert len(result["answer"]["body"]["data"]) > 1
    page_answer = next(
        e for e in setup.exchanges if (e.method, e.path) == ("GET", "/v1/applications")
    )
    # Chromium asked for gzip and read the compressed page.
    assert page_answer.headers["Content-Encoding"] == "gzip"


async def test_the_same_widget_from_another_origin_is_blocked_by_the_browser(
    setup: Setup, browser: Browser
) -> None:
    page = await _open(browser, setup.other_page)
    before = setup.upstream_requests()
    person = _person()
    result = await page.evaluate("(person) => applyForFirstJob(person)", person)
    assert result == {"error": "TypeError"}
    assert await page.text_content("#status") == "blocked: TypeError"
    assert await page.locator("#jobs li").count() == 0
    jobs_id = next(iter(setup.sandbox.state.vacancies))
    posted = await page.evaluate(
        "([job, person]) => caught(() => apply(job, person))", [jobs_id, person]
    )
    assert posted == {"error": "TypeError"}
    # Blocked at the preflight: no GET or POST reached the bridge, no call reached v2.
    assert setup.applications_of(person["email"]) == []
    assert setup.upstream_requests() == before
    reached = [(e.method, e.path) for e in setup.exchanges]
    assert reached and all(method == "OPTIONS" for method, _path in reached), reached
    for exchange in setup.exchanges:
        assert not any(h.lower().startswith("access-control-") for h in exchange.headers)
        assert exchange.headers["X-Upstream-Calls"] == "0"

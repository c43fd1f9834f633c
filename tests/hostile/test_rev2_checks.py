"""Each rev-2 check of the schemathesis run fails on an answer that breaks its rule.

The answers are schemathesis' own ``Response`` objects built by hand (a well-formed v1 answer,
then one thing broken), so a check that passed whatever it was given would fail here. The
checks that send a request of their own (HEAD, and the GET again without the params a 400
named) also run against a stub server that answers unlike the bridge, to show that they do
send it and compare what comes back. The cases ``every_problem_at_once`` found (a 400 that
named only the first problem of a list's query) run against a live bridge.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qsl, urlsplit

import orjson
import pytest
import requests
from schemathesis.core.transport import Response

from mappings.pagination import Cursor, unplaceable
from tests.hostile import rev2_checks as checks
from tests.hostile.live import LiveBridge, live_bridge
from tests.hostile.rev2_checks import ALLOWED_ORIGIN, OTHER_ORIGIN
from tests.hostile.support import BASIC, V1_JSON

Check = Callable[[Any, Response, Any], None]
LINK = '<https://help.homerun.co/en/articles/7966784>; rel="deprecation"'
EXPOSE = "X-Request-Id, X-Upstream-Calls, Deprecation, Link, Sunset, Retry-After"
GOOD_HEADERS = {
    "Content-Type": V1_JSON,
    "Deprecation": checks.DEPRECATION,
    "Link": LINK,
    "X-Request-Id": "req-1",
    "X-Upstream-Calls": "1",
    "Access-Control-Allow-Origin": ALLOWED_ORIGIN,
    "Access-Control-Expose-Headers": EXPOSE,
}
SENT = {"Origin": ALLOWED_ORIGIN, "Accept-Encoding": "gzip, deflate"}
OTHER: dict[str, str | None] = {"Origin": OTHER_ORIGIN}
INVALID = {"message": "Invalid", "status": 400, "errors": [{"param": "page", "message": "x"}]}
NOT_FOUND = {"message": "No such job", "status": 404}
BIG = b"x" * 2000


def answer(
    status: int = 200,
    body: Any = None,
    *,
    headers: dict[str, str | None] | None = None,
    sent: dict[str, str | None] | None = None,
    method: str = "GET",
    url: str = "http://bridge.test/v1/jobs",
) -> Response:
    """A well-formed v1 answer to a browser's request; a header set to None is left out."""
    merged = {**GOOD_HEADERS, **(headers or {})}
    request_headers = {k: v for k, v in {**SENT, **(sent or {})}.items() if v is not None}
    request = requests.Request(method, url, headers=request_headers).prepare()
    content = b"" if body is None else body if isinstance(body, bytes) else orjson.dumps(body)
    return Response(
        status_code=status,
        headers={name: [value] for name, value in merged.items() if value is not None},
        content=content,
        request=request,
        elapsed=0.01,
        verify=True,
    )


def complaint(call: Callable[[], object]) -> str:
    """What ``call`` complains of: it must fail."""
    with pytest.raises(AssertionError) as raised:
        call()
    return str(raised.value)


def fails(check: Check, response: Response) -> str:
    """The check's complaint about a broken answer."""
    return complaint(lambda: check(None, response, None))


GOOD_ANSWERS = [
    answer(200, {"id": "job_1"}),
    answer(400, INVALID),
    answer(204, headers={"Content-Type": None}, method="OPTIONS"),
    answer(405, {"message": "no", "status": 405}, headers={"Allow": "GET"}),
    answer(200, BIG, headers={"Content-Encoding": "gzip"}),
    answer(200, BIG, sent={"Accept-Encoding": "identity"}),
    answer(404, NOT_FOUND, headers={"Access-Control-Allow-Origin": None}, sent={"Origin": None}),
    answer(404, NOT_FOUND, headers={"Access-Control-Allow-Origin": None}, sent=OTHER),
]


# Every check but those that send requests of their own (tested on their own below).
SENDING = (checks.head_answers_as_get, checks.created_id_read_back, checks.every_problem_at_once)
ANSWER_CHECKS = [check for check in checks.REV2_CHECKS if check not in SENDING]


@pytest.mark.parametrize("response", GOOD_ANSWERS, ids=range(len(GOOD_ANSWERS)))
@pytest.mark.parametrize("check", ANSWER_CHECKS, ids=lambda check: check.__name__)
def test_a_well_formed_answer_passes(check: Check, response: Response) -> None:
    check(None, response, None)


BROKEN: list[tuple[Check, Response, str]] = [
    (checks.v1_headers_on_every_answer, answer(headers={"Deprecation": None}), "Deprecation"),
    (checks.v1_headers_on_every_answer, answer(headers={"Link": "<x>"}), "Link"),
    (checks.v1_headers_on_every_answer, answer(headers={"X-Request-Id": ""}), "X-Request-Id"),
    (checks.v1_headers_on_every_answer, answer(headers={"X-Upstream-Calls": "-1"}), "count"),
    (
        checks.cors_headers_for_allowed_origins,
        answer(400, INVALID, headers={"Access-Control-Allow-Origin": None}),
        "Access-Control-Allow-Origin",
    ),
    (
        checks.cors_headers_for_allowed_origins,
        answer(headers={"Access-Control-Expose-Headers": "X-Request-Id"}),
        "lacks",
    ),
    (
        checks.cors_headers_for_allowed_origins,
        answer(sent=OTHER),
        "not allowed",
    ),
    (
        checks.cors_headers_for_allowed_origins,
        answer(headers={"Access-Control-Allow-Origin": "*"}),
        "Access-Control-Allow-Origin",
    ),
    (checks.large_answers_gzipped, answer(200, b"x" * 1025), "allows gzip"),
    (
        checks.large_answers_gzipped,
        answer(
            200, BIG, headers={"Content-Encoding": "gzip"}, sent={"Accept-Encoding": "identity"}
        ),
        "did not allow",
    ),
    (
        checks.v1_content_type_and_status,
        answer(200, {"id": "job_1"}, headers={"Content-Type": "application/json"}),
        "Content-Type",
    ),
    (
        checks.v1_content_type_and_status,
        answer(400, b"bad", headers={"Content-Type": "text/plain"}),
        "Content-Type",
    ),
    (checks.v1_content_type_and_status, answer(422, {"message": "no", "status": 422}), "422"),
    (checks.v1_content_type_and_status, answer(405, {"message": "no", "status": 405}), "Allow"),
    (
        checks.validation_400_names_params,
        answer(400, {**INVALID, "errors": None}),
        "without errors",
    ),
    (checks.validation_400_names_params, answer(400, {**INVALID, "errors": []}), "without errors"),
    (
        checks.validation_400_names_params,
        answer(400, {**INVALID, "errors": [{"param": None, "message": "x"}]}),
        "without a param",
    ),
    (
        checks.validation_400_names_params,
        answer(400, {**INVALID, "errors": [{"param": "page"}]}),
        "without a message",
    ),
]


@pytest.mark.parametrize(
    ("check", "response", "complaint"),
    BROKEN,
    ids=[f"{check.__name__}-{n}" for n, (check, _, _) in enumerate(BROKEN)],
)
def test_a_broken_answer_fails(check: Check, response: Response, complaint: str) -> None:
    assert complaint in fails(check, response)


@pytest.mark.parametrize(
    ("head", "complaint"),
    [
        (answer(404), "HEAD 404"),
        (answer(headers={"Content-Type": "text/html"}), "Content-Type"),
        (answer(headers={"Content-Encoding": "gzip"}), "Content-Encoding"),
        (answer(headers={"X-Upstream-Calls": "2"}), "X-Upstream-Calls"),
        (answer(body={"id": "job_1"}), "body"),
    ],
)
def test_a_head_unlike_its_get_fails(head: Response, complaint: str) -> None:
    get = answer(200, {"id": "job_1"})
    checks.head_matches_get(get, answer(200))  # the GET's headers and no body: as it should
    with pytest.raises(AssertionError, match=complaint):
        checks.head_matches_get(get, head)


# What the stub answers a GET of these paths: other ids than the creates below answered.
STUB_READS = {
    "/v1/applications/ap_1/notes": {"data": [{"id": "no_other"}], "has_more": False},
    "/v1/candidates/ca_1": {"id": "ca_other"},
    "/v1/jobs": {"data": [{"id": "job_a"}, {"id": "job_b"}, {"id": "job_c"}], "has_more": False},
}


class _StubBridge(BaseHTTPRequestHandler):
    """A server that answers unlike the bridge: HEAD 404 (where its GET answered 200); to a
    GET of ``STUB_READS``, those (other ids than their creates answered); to any other
    GET, a 400 naming every param of its query (a problem left out of a first 400)."""

    seen: ClassVar[list[tuple[str, str, dict[str, str]]]] = []

    def _answer(self, status: int, body: bytes) -> None:
        _StubBridge.seen.append((self.command, self.path, dict(self.headers.items())))
        self.send_response(status)
        self.send_header("Content-Type", V1_JSON)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def do_HEAD(self) -> None:
        self._answer(404, b"")

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path in STUB_READS:
            self._answer(200, orjson.dumps(STUB_READS[parts.path]))
            return
        errors = [{"param": name, "message": "wrong"} for name, _ in parse_qsl(parts.query)]
        self._answer(400, orjson.dumps({**INVALID, "errors": errors}))

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads what was sent from ``seen``."""


@pytest.fixture
def stub_url() -> Iterator[str]:
    """The base URL of a running ``_StubBridge``; what it saw starts empty."""
    _StubBridge.seen.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubBridge)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_head_check_sends_the_get_again_as_head(stub_url: str) -> None:
    url = f"{stub_url}/v1/jobs?page=2"
    get = answer(200, {"id": "job_1"}, url=url, sent={"Authorization": "Bearer k"})
    assert "HEAD 404, GET 200" in fails(checks.head_answers_as_get, get)
    # Not a GET: nothing to compare, nothing sent.
    checks.head_answers_as_get(None, answer(201, {}, method="POST", url=url), None)
    [(method, path, headers)] = _StubBridge.seen
    assert (method, path) == ("HEAD", "/v1/jobs?page=2")
    assert headers["Authorization"] == "Bearer k" and headers["Origin"] == ALLOWED_ORIGIN


def test_every_200_get_and_a_sample_of_the_other_gets_are_sent_again_as_head() -> None:
    assert checks.head_sampled(answer(200, {"data": []}))
    assert not checks.head_sampled(answer(201, {"id": "no_1"}, method="POST"))
    errors = [answer(400, INVALID, url=f"http://bridge.test/v1/jobs?page={n}") for n in range(40)]
    sampled = sum(checks.head_sampled(error) for error in errors)
    assert 0 < sampled < len(errors)


def _invalid(*params: str) -> dict[str, Any]:
    return {**INVALID, "errors": [{"param": name, "message": "wrong"} for name in params]}


def left_out(first: Response, again: Response) -> str:
    """The complaint of ``problems_left_out`` about ``first`` given ``again``."""
    return complaint(lambda: checks.problems_left_out(first, again))


def test_a_400_that_left_a_problem_out_fails() -> None:
    url = "http://bridge.test/v1/jobs?page=0&per_page=0&status=open"
    first = answer(400, _invalid("per_page"), url=url)
    complaint = left_out(first, answer(400, _invalid("page")))
    assert "naming ['page']" in complaint
    # Without per_page the request is fine, or wrong only in what the first answer named,
    # or in what the first request did not send: nothing was left out.
    checks.problems_left_out(first, answer(200, {"data": []}))
    checks.problems_left_out(first, answer(400, _invalid("per_page")))
    checks.problems_left_out(first, answer(400, _invalid("cursor")))


def test_a_param_the_bridge_ignores_is_no_problem_left_out() -> None:
    url = "http://bridge.test/v1/jobs?offset=-1&page=0"
    # offset wins over page (§4): with offset sent, page=0 is ignored, not a problem.
    named_offset = answer(400, _invalid("offset"), url=url)
    checks.problems_left_out(named_offset, answer(400, _invalid("page")))
    first = answer(400, _invalid("page"), url=url)
    assert "['offset']" in left_out(first, answer(400, _invalid("offset")))


def test_a_cursor_placed_only_once_the_request_is_well_formed_is_no_problem_left_out() -> None:
    first = answer(
        400,
        _invalid("offset"),
        url="http://bridge.test/v1/jobs?offset=x&limit=0&starting_after=job_a",
    )
    placed = unplaceable(Cursor("starting_after", "job_a")).errors[0]
    not_placed = {"param": placed.param, "message": placed.message}
    checks.problems_left_out(first, answer(400, {**INVALID, "errors": [not_placed]}))
    # Named for anything else, the cursor was a problem of the first request's form.
    combined = {"param": "starting_after", "message": "cannot be combined with ending_before"}
    assert "['starting_after']" in left_out(first, answer(400, {**INVALID, "errors": [combined]}))
    assert "['limit']" in left_out(first, answer(400, _invalid("limit")))


def test_the_every_problem_check_sends_the_get_again_without_the_named_params(
    stub_url: str,
) -> None:
    url = f"{stub_url}/v1/applications?page=0&per_page=0&status=open"
    first = answer(400, _invalid("per_page"), url=url)
    assert "naming ['page', 'status']" in fails(checks.every_problem_at_once, first)
    [(method, path, _)] = _StubBridge.seen
    assert (method, path) == ("GET", "/v1/applications?page=0&status=open")
    # Not a GET 400, or a 400 naming nothing: nothing sent.
    checks.every_problem_at_once(None, answer(200, {"data": []}, url=url), None)
    checks.every_problem_at_once(None, answer(400, _invalid(), url=url), None)
    checks.every_problem_at_once(None, answer(400, _invalid("job"), method="POST", url=url), None)
    assert len(_StubBridge.seen) == 1


@pytest.fixture(scope="module")
def bridge() -> Iterator[LiveBridge]:
    with live_bridge() as running:
        yield running


# Found by every_problem_at_once (contract §3 rev 2: a 400 lists every problem at once): the
# bridge named only the first problem of the paging params and filters.
LEFT_OUT = [
    "/v1/applications?page=0&per_page=0",
    "/v1/jobs?page=0&per_page=500&status=weird",
    "/v1/applications?limit=abc&job=bad%20id!",
    "/v1/applications?limit=abc&starting_after=ap_a&ending_before=ap_b",
    "/v1/candidates?offset=-1&limit=0",
]


@pytest.mark.parametrize("target", LEFT_OUT)
def test_the_bridge_names_every_problem_at_once(bridge: LiveBridge, target: str) -> None:
    headers = {"Authorization": BASIC, "Origin": ALLOWED_ORIGIN}
    sent = requests.get(bridge.base_url + target, headers=headers, timeout=30)
    first = Response.from_requests(sent, verify=True)
    if first.status_code != 400:
        pytest.fail(f"{target} answered {first.status_code}, not a 400: {first.content[:200]!r}")
    checks.every_problem_at_once(None, first, None)


def _page(*ids: str, has_more: bool = False, url: str = "http://bridge.test/v1/jobs") -> Response:
    return answer(200, {"data": [{"id": i} for i in ids], "has_more": has_more}, url=url)


def test_a_created_id_no_later_read_gives_fails() -> None:
    created = answer(201, {"id": "no_1"}, method="POST")
    checks.created_is_listed(created, [_page("no_0", has_more=True), _page("no_1")])
    assert "no_1" in complaint(lambda: checks.created_is_listed(created, [_page("no_2")]))
    assert "[404]" in complaint(lambda: checks.created_is_listed(created, [answer(404)]))
    checks.created_is_read(created, answer(200, {"id": "no_1"}))
    other = answer(200, {"id": "no_2"})
    assert "read another id" in complaint(lambda: checks.created_is_read(created, other))
    assert "answered 404" in complaint(lambda: checks.created_is_read(created, answer(404)))


def test_the_created_id_check_reads_the_object_back(stub_url: str) -> None:
    notes = f"{stub_url}/v1/applications/ap_1/notes"
    note = answer(201, {"id": "no_1"}, method="POST", url=notes)
    assert "created no_1, but the listing gives ['no_other']" in fails(
        checks.created_id_read_back, note
    )
    candidate = answer(201, {"id": "ca_1"}, method="POST", url=f"{stub_url}/v1/candidates")
    assert "read another id" in fails(checks.created_id_read_back, candidate)
    assert [(m, p) for m, p, _ in _StubBridge.seen] == [
        ("GET", "/v1/applications/ap_1/notes?per_page=100&page=1"),
        ("GET", "/v1/candidates/ca_1"),
    ]
    # Not a 201 to a POST: nothing to read back, nothing sent.
    checks.created_id_read_back(None, answer(200, {"id": "no_1"}, method="POST", url=notes), None)
    checks.created_id_read_back(None, answer(400, INVALID, method="POST", url=notes), None)
    assert len(_StubBridge.seen) == 2


def test_a_cursor_page_not_next_to_its_object_fails() -> None:
    full = ["job_a", "job_b", "job_c", "job_d"]
    assert checks.window_next_to(("starting_after", "job_b", 5), full) == ["job_c", "job_d"]
    assert checks.window_next_to(("starting_after", "job_a", 1), full) == ["job_b"]
    assert checks.window_next_to(("ending_before", "job_d", 2), full) == ["job_b", "job_c"]
    assert checks.window_next_to(("ending_before", "job_a", 2), full) == []
    assert "not in the list" in complaint(
        lambda: checks.window_next_to(("starting_after", "job_x", 2), full)
    )
    query = [("status", "open"), ("starting_after", " job_b "), ("limit", "2")]
    assert checks.cursor_window(query) == ("starting_after", "job_b", 2)
    assert checks.cursor_window([("starting_after", ""), ("page", "2")]) is None


def test_the_cursor_check_reads_the_list_whole_with_the_same_filters(stub_url: str) -> None:
    url = f"{stub_url}/v1/jobs?status=open&starting_after=job_a&limit=1"
    assert "served ['job_c'], not ['job_b']" in fails(
        checks.cursor_page_next_to_its_object, _page("job_c", url=url)
    )
    checks.cursor_page_next_to_its_object(None, _page("job_b", url=url), None)
    assert [p for _, p, _ in _StubBridge.seen] == ["/v1/jobs?status=open&per_page=100&page=1"] * 2
    # No cursor, or not a 200: nothing to compare, nothing sent.
    checks.cursor_page_next_to_its_object(None, _page("job_c", url=f"{stub_url}/v1/jobs"), None)
    checks.cursor_page_next_to_its_object(None, answer(400, INVALID, url=url), None)
    assert len(_StubBridge.seen) == 2

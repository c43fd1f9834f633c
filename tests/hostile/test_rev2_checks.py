"""Each rev-2 check of the schemathesis run fails on an answer that breaks its rule.

The answers are schemathesis' own ``Response`` objects built by hand (a well-formed v1 answer,
then one thing broken), so a check that passed whatever it was given would fail here. The
HEAD check also runs against a stub server that answers HEAD unlike its GET, to show that the
check does send the HEAD.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import orjson
import pytest
import requests
from schemathesis.core.transport import Response

from tests.hostile import rev2_checks as checks
from tests.hostile.rev2_checks import ALLOWED_ORIGIN, OTHER_ORIGIN
from tests.hostile.support import V1_JSON

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


def fails(check: Check, response: Response) -> str:
    """The check's complaint about a broken answer."""
    with pytest.raises(AssertionError) as raised:
        check(None, response, None)
    return str(raised.value)


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


# Every check but the HEAD one, which sends a request (tested on its own below).
ANSWER_CHECKS = [check for check in checks.REV2_CHECKS if check is not checks.head_answers_as_get]


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


class _WrongHead(BaseHTTPRequestHandler):
    """A server whose HEAD answers 404 where its GET answered 200."""

    seen: ClassVar[list[dict[str, str]]] = []

    def do_HEAD(self) -> None:
        _WrongHead.seen.append(dict(self.headers.items()))
        self.send_response(404)
        self.send_header("Content-Type", V1_JSON)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test reads what was sent from ``seen``."""


@contextlib.contextmanager
def _serving() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _WrongHead)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1/jobs?page=2"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def test_the_head_check_sends_the_get_again_as_head() -> None:
    with _serving() as url:
        get = answer(200, {"id": "job_1"}, url=url, sent={"Authorization": "Bearer k"})
        assert "HEAD 404, GET 200" in fails(checks.head_answers_as_get, get)
        # Not a GET: nothing to compare, nothing sent.
        checks.head_answers_as_get(None, answer(201, {}, method="POST", url=url), None)
    assert len(_WrongHead.seen) == 1
    assert _WrongHead.seen[0]["Authorization"] == "Bearer k"
    assert _WrongHead.seen[0]["Origin"] == ALLOWED_ORIGIN

"""Schemathesis checks for the rules of the v1 contract's rev 2 that hold for every answer.

Each check has schemathesis' custom-check signature ``(ctx, response, case)`` and raises
``AssertionError`` naming the rule it found broken; ``test_schemathesis_v1`` passes them with
the built-in ones. Each rule is a pure function of the answer (and of what the request sent,
read back from ``response.request``), so ``test_rev2_checks`` can feed each one a broken
answer and see it fail: no check passes on a stub. The HEAD check is the one that sends a
request of its own (the same GET as HEAD); its comparison is pure too.

The rules (``/work/shared/spec/v1-contract.md``):

- §1: every /v1 answer carries ``Deprecation``, ``Link``, ``X-Request-Id``, ``X-Upstream-Calls``.
- §1: an answer to an allowed ``Origin`` carries ``Access-Control-Allow-Origin`` (that origin)
  and ``Access-Control-Expose-Headers`` (the listed names), errors included; any other origin
  gets neither.
- §1: a GET sent again as HEAD answers the same status, content type and upstream cost, and
  no body.
- §1: an answer over 1 KiB to a request whose ``Accept-Encoding`` allows gzip is gzip-encoded;
  no answer is gzip-encoded to a client that did not allow it.
- §1 and §3: the content type is ``application/json; charset=utf-8`` (every answer with a body)
  and the status is a v1 one; a 405 says ``Allow``.
- §5: the id in a create answer is the id later reads give that object: a note or file is
  in its listing under that id, an application or candidate reads back under it
  (``created_id_read_back``, which sends those reads itself).
- §4: a page asked by a cursor holds the items right after / before that object, in the
  list's order (``cursor_page_next_to_its_object``, which reads the list whole itself).
- §3: a 400 lists its problems in ``errors``, each naming a ``param``; and every problem at
  once: the same GET sent again without the params it named is no 400 naming another param
  of the first query (``every_problem_at_once``, which sends that GET itself).
"""

from __future__ import annotations

import zlib
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import requests
from schemathesis.core.transport import Response

from mappings.errors import V1_STATUSES
from mappings.pagination import CURSOR_PARAMS, Cursor, unplaceable
from proxy.browsers import accepts_gzip
from tests.hostile.support import V1_JSON

DEPRECATION: Final = "@1701388800"
# The origin the live bridge of the schemathesis run allows, and one it does not.
ALLOWED_ORIGIN: Final = "http://careers.widget.test"
OTHER_ORIGIN: Final = "http://elsewhere.test"
EXPOSED: Final = frozenset(
    {"x-request-id", "x-upstream-calls", "deprecation", "link", "sunset", "retry-after"}
)
GZIP_OVER_BYTES: Final = 1024
# The success statuses of the v1 face (304: a conditional GET), beside the error ones.
V1_SUCCESS: Final = frozenset({200, 201, 204, 304})
NO_BODY_STATUSES: Final = frozenset({204, 304})
RESEND_TIMEOUT_SECONDS: Final = 30.0
# A param the bridge ignores when another is sent (§4: ``offset`` wins over ``page``): not a
# problem of a request that sent both, whatever its value.
MOOT_WHEN: Final = {"page": "offset"}
MAX_LIST_PAGES: Final = 10
HEAD_ONE_IN: Final = 4


def header(response: Response, name: str) -> str | None:
    """One header of an answer (schemathesis keeps them lower-cased, as lists)."""
    values = response.headers.get(name.lower())
    return values[0] if values else None


def sent_header(response: Response, name: str) -> str | None:
    """A header of the request that this answer answers, as it was sent."""
    value = response.request.headers.get(name)
    return None if value is None else str(value)


def v1_headers_on_every_answer(ctx: Any, response: Response, case: Any) -> None:
    """§1: the deprecation headers, the request id and the upstream cost, on every answer."""
    assert header(response, "Deprecation") == DEPRECATION, "Deprecation is missing or wrong"
    link = header(response, "Link") or ""
    assert 'rel="deprecation"' in link, f"Link is not the deprecation link: {link!r}"
    assert header(response, "X-Request-Id"), "X-Request-Id is missing"
    calls = header(response, "X-Upstream-Calls") or ""
    assert calls.isdigit(), f"X-Upstream-Calls is not a count: {calls!r}"


def cors_headers_for_allowed_origins(ctx: Any, response: Response, case: Any) -> None:
    """§1: an allowed origin gets Allow-Origin and Expose-Headers on every answer, errors
    included; any other origin (or none) gets no Allow-Origin (the browser blocks it)."""
    origin = sent_header(response, "Origin")
    allow_origin = header(response, "Access-Control-Allow-Origin")
    if origin != ALLOWED_ORIGIN:
        assert allow_origin is None, f"origin {origin!r} is not allowed, yet got {allow_origin!r}"
        return
    assert allow_origin == origin, f"Access-Control-Allow-Origin {allow_origin!r} for {origin}"
    exposed = header(response, "Access-Control-Expose-Headers") or ""
    missing = EXPOSED - {name.strip().lower() for name in exposed.split(",")}
    assert not missing, f"Access-Control-Expose-Headers lacks {sorted(missing)}"


def large_answers_gzipped(ctx: Any, response: Response, case: Any) -> None:
    """§1: over 1 KiB and the client allows gzip: gzip-encoded; never gzip to a client that
    did not allow it. ``response.content`` is the decoded body (requests inflates it)."""
    encoding = (header(response, "Content-Encoding") or "identity").lower()
    allowed = accepts_gzip(sent_header(response, "Accept-Encoding") or "")
    if encoding == "gzip":
        assert allowed, "gzip-encoded to a client whose Accept-Encoding did not allow gzip"
    elif allowed and len(response.content) > GZIP_OVER_BYTES:
        size = len(response.content)
        raise AssertionError(f"{size} bytes sent as {encoding!r} to a client that allows gzip")


def v1_content_type_and_status(ctx: Any, response: Response, case: Any) -> None:
    """§1 and §3: JSON in UTF-8 on every answer with a body, a v1 status, Allow on a 405."""
    status = response.status_code
    assert status in V1_STATUSES | V1_SUCCESS, f"{status} is not a v1 status"
    if status not in NO_BODY_STATUSES or response.content:
        content_type = header(response, "Content-Type")
        assert content_type == V1_JSON, f"Content-Type {content_type!r}, not {V1_JSON!r}"
    if status == 405:
        assert header(response, "Allow"), "a 405 without Allow"


def validation_400_names_params(ctx: Any, response: Response, case: Any) -> None:
    """§3: a 400 lists the request's problems in ``errors``, each naming its v1 param."""
    if response.status_code != 400:
        return
    body = orjson.loads(response.content)
    errors = body.get("errors") if isinstance(body, dict) else None
    assert isinstance(errors, list) and errors, f"a 400 without errors: {body!r}"
    for error in errors:
        assert isinstance(error, dict), f"an error that is not an object: {error!r}"
        param, message = error.get("param"), error.get("message")
        assert isinstance(param, str) and param, f"an error without a param: {error!r}"
        assert isinstance(message, str) and message, f"an error without a message: {error!r}"


def named_params(response: Response) -> set[str]:
    """The params a v1 error answer names in its ``errors``."""
    body = orjson.loads(response.content) if response.content else None
    errors = body.get("errors") if isinstance(body, dict) else None
    return {e["param"] for e in errors or [] if isinstance(e, dict) and "param" in e}


def query_of(response: Response) -> list[tuple[str, str]]:
    """The query a request sent, in order, blank values kept."""
    return parse_qsl(urlsplit(str(response.request.url)).query, keep_blank_values=True)


def without_params(url: str, names: set[str]) -> str:
    """``url`` with every query value of ``names`` removed."""
    parts = urlsplit(url)
    kept = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in names]
    return urlunsplit(parts._replace(query=urlencode(kept)))


def is_unplaceable(error: Any, query: list[tuple[str, str]]) -> bool:
    """Whether an error is the 400 for a cursor id the bridge cannot place (§4), for a cursor
    this query sent: placing reads the store, so the bridge judges it only once the request
    is well-formed, a stage of its own, not a problem the first 400 left out."""
    for name, value in query:
        if name in CURSOR_PARAMS and value.strip():
            expected = unplaceable(Cursor(name, value.strip())).errors[0]
            if error == {"param": expected.param, "message": expected.message}:
                return True
    return False


def problems_left_out(first: Response, again: Response) -> None:
    """§3: ``first`` (a 400) named every problem of its query: ``again``, the same request
    without the params ``first`` named, is no 400 naming another param ``first`` sent (a
    cursor it cannot place, ``is_unplaceable``, and a param made moot, ``MOOT_WHEN``, aside)."""
    if again.status_code != 400:
        return
    query = query_of(first)
    body = orjson.loads(again.content)
    still = {
        e["param"]
        for e in body.get("errors", [])
        if isinstance(e, dict) and not is_unplaceable(e, query)
    }
    sent = {name for name, _ in query}
    moot = {name for name, winner in MOOT_WHEN.items() if winner in sent}
    missed = still & (sent - named_params(first) - moot)
    assert not missed, (
        f"a 400 named {sorted(named_params(first))}, yet without them the same request is a "
        f"400 naming {sorted(missed)}: not every problem at once"
    )


def resend(response: Response, method: str, url: str | None = None) -> Response:
    """The request of ``response`` sent again, as ``method`` (to ``url``), same headers."""
    headers = {
        name: value
        for name, value in response.request.headers.items()
        if name.lower() not in ("content-length", "content-type")
    }
    sent = requests.request(
        method,
        url or str(response.request.url),
        headers=headers,
        timeout=RESEND_TIMEOUT_SECONDS,
        allow_redirects=False,
    )
    return Response.from_requests(sent, verify=True)


def every_problem_at_once(ctx: Any, response: Response, case: Any) -> None:
    """§3: a 400 to a GET (its problems all in its query) is sent again without the params it
    named; what is still wrong then was left out of the first answer."""
    if response.request.method != "GET" or response.status_code != 400:
        return
    named = named_params(response)
    if not named:
        return  # validation_400_names_params says what is wrong with that
    again = resend(response, "GET", without_params(str(response.request.url), named))
    problems_left_out(response, again)


def ids_listed(pages: list[Response]) -> list[str]:
    """The ids of every item on the pages of a v1 list."""
    return [item["id"] for page in pages for item in orjson.loads(page.content)["data"]]


def created_is_listed(created: Response, pages: list[Response]) -> None:
    """§5: the note or file a create answered is in its listing under the answered id."""
    assert all(page.status_code == 200 for page in pages), [p.status_code for p in pages]
    wanted = orjson.loads(created.content)["id"]
    listed = ids_listed(pages)
    assert wanted in listed, f"created {wanted}, but the listing gives {listed[-5:]} (last 5)"


def created_is_read(created: Response, read: Response) -> None:
    """§5: the application or candidate a create answered reads back under the same id."""
    wanted = orjson.loads(created.content)["id"]
    assert read.status_code == 200, f"created {wanted}, then its GET answered {read.status_code}"
    assert orjson.loads(read.content)["id"] == wanted, f"created {wanted}, read another id"


def list_pages(
    response: Response, path: str, filters: tuple[tuple[str, str], ...] = ()
) -> list[Response]:
    """Every page of the v1 list at ``path`` with ``filters`` (at most ``MAX_LIST_PAGES``
    of 100)."""
    parts = urlsplit(str(response.request.url))
    pages: list[Response] = []
    for page in range(1, MAX_LIST_PAGES + 1):
        query = urlencode([*filters, ("per_page", "100"), ("page", str(page))])
        url = urlunsplit(parts._replace(path=path, query=query))
        pages.append(resend(response, "GET", url))
        if pages[-1].status_code != 200 or not orjson.loads(pages[-1].content)["has_more"]:
            break
    return pages


def created_id_read_back(ctx: Any, response: Response, case: Any) -> None:
    """§5: after a 201, the created object is read back under the id the create answered:
    a note or a file in the listing of the path it was posted to, an application or a
    candidate at ``<path>/<id>``."""
    if response.request.method != "POST" or response.status_code != 201:
        return
    path = urlsplit(str(response.request.url)).path.rstrip("/")
    if path.endswith(("/notes", "/files")):
        created_is_listed(response, list_pages(response, path))
        return
    created = orjson.loads(response.content)["id"]
    parts = urlsplit(str(response.request.url))
    url = urlunsplit(parts._replace(path=f"{path}/{created}", query=""))
    created_is_read(response, resend(response, "GET", url))


def cursor_window(query: list[tuple[str, str]]) -> tuple[str, str, int] | None:
    """The cursor a list query sent (param, id) and its ``limit``; None: no cursor."""
    params = dict(query)
    cursors = [
        (name, params[name].strip()) for name in CURSOR_PARAMS if params.get(name, "").strip()
    ]
    if len(cursors) != 1:
        return None
    limit = params.get("limit", params.get("per_page", "100")).strip()
    return cursors[0][0], cursors[0][1], int(limit)


def window_next_to(cursor: tuple[str, str, int], full: list[str]) -> list[str]:
    """§4: the ids right after (``starting_after``) or right before (``ending_before``) the
    cursor's object, ``limit`` of them at most, in the list's order."""
    param, cursor_id, limit = cursor
    assert cursor_id in full, f"{param}={cursor_id} answered 200, yet it is not in the list"
    position = full.index(cursor_id)
    if param == "starting_after":
        return full[position + 1 : position + 1 + limit]
    return full[max(0, position - limit) : position]


def cursor_page_next_to_its_object(ctx: Any, response: Response, case: Any) -> None:
    """§4: a list page asked by ``starting_after`` / ``ending_before`` holds the items right
    after / before that object in the list's order (the list read whole again, with the
    same filters, is the reference)."""
    if response.request.method != "GET" or response.status_code != 200:
        return
    query = query_of(response)
    cursor = cursor_window(query)
    if cursor is None:
        return
    paging = {"page", "per_page", "limit", "offset", *CURSOR_PARAMS}
    filters = tuple((name, value) for name, value in query if name not in paging)
    path = urlsplit(str(response.request.url)).path
    full = ids_listed(list_pages(response, path, filters))
    served = ids_listed([response])
    expected = window_next_to(cursor, full)
    assert served == expected, f"{cursor[0]}={cursor[1]} served {served}, not {expected}"


def head_matches_get(get: Response, head: Response) -> None:
    """§1: HEAD answers as its GET did (status, content type, content coding, upstream cost),
    with no body."""
    assert head.status_code == get.status_code, f"HEAD {head.status_code}, GET {get.status_code}"
    for name in ("Content-Type", "Content-Encoding", "X-Upstream-Calls", "Deprecation"):
        assert header(head, name) == header(get, name), (
            f"HEAD {name} {header(head, name)!r}, GET {header(get, name)!r}"
        )
    assert not head.content, f"HEAD answered a body of {len(head.content)} bytes"


def head_sampled(response: Response) -> bool:
    """Whether a GET is sent again as HEAD: every 200, and one other answer in
    ``HEAD_ONE_IN`` (picked by URL, reproducibly), so the run keeps about its time."""
    if response.request.method != "GET":
        return False
    return (
        response.status_code == 200
        or zlib.crc32(str(response.request.url).encode()) % HEAD_ONE_IN == 0
    )


def head_answers_as_get(ctx: Any, response: Response, case: Any) -> None:
    """§1: a GET case is sent again as HEAD, with the same URL and headers (``head_sampled``)."""
    if not head_sampled(response):
        return
    head_matches_get(response, resend(response, "HEAD"))


REV2_CHECKS: Final = [
    v1_headers_on_every_answer,
    cors_headers_for_allowed_origins,
    large_answers_gzipped,
    v1_content_type_and_status,
    validation_400_names_params,
    head_answers_as_get,
    created_id_read_back,
    cursor_page_next_to_its_object,
    every_problem_at_once,
]

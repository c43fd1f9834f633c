"""Hostile request bodies: malformed, nested to death, too wide, too big, badly framed.

Each attack gets a clear v1 error (status, JSON body shape, content type) within
``BOUND`` seconds, nothing goes upstream for a body the bridge itself rejects, and the
bridge serves ``/healthz`` and ``GET /v1/jobs`` afterwards.
"""

from __future__ import annotations

import gzip
import zlib
from typing import Any

import pytest

from tests.hostile.support import (
    RawResponse,
    Target,
    assert_healthy,
    assert_v1_error,
    exchange,
    request_bytes,
    upstream_requests,
)
from tests.proxy.conftest import Harness

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MiB = 1024 * 1024
PERSON = b'"first_name":"Ada","last_name":"Lovelace","email":"ada@example.com"'


async def _some_application(harness: Harness) -> str:
    async with await harness.get("/v1/applications?per_page=1") as response:
        return str((await response.json())["data"][0]["id"])


async def _post(
    harness: Harness,
    path: str,
    body: bytes,
    content_type: str | None,
    method: str = "POST",
    **headers: str,
) -> RawResponse:
    all_headers = {"Content-Type": content_type} if content_type else {}
    all_headers.update({name.replace("_", "-"): value for name, value in headers.items()})
    return await exchange(
        Target.of(harness), request_bytes(method, path, headers=all_headers, body=body)
    )


async def _attack(
    harness: Harness,
    path: str,
    body: bytes,
    content_type: str | None,
    status: int | set[int],
    *,
    method: str = "POST",
    upstream: bool = False,
    **headers: str,
) -> dict[str, Any]:
    """Send one hostile body, check the v1 error and that the bridge stayed healthy."""
    before = await upstream_requests(harness)
    response = await _post(harness, path, body, content_type, method, **headers)
    error = assert_v1_error(response, status)
    if not upstream:
        assert response.header("X-Upstream-Calls") == "0"
        assert await upstream_requests(harness) == before
    await assert_healthy(Target.of(harness))
    return error


# --- malformed JSON and form bodies --------------------------------------------------

MALFORMED_JSON = {
    "truncated": b'{"job": "job_x", "candidate": {',
    "trailing garbage": b'{"candidate": "ca_x"} trailing',
    "NaN": b'{"candidate": NaN}',
    "huge exponent": b'{"candidate": 1e999999}',
    "single quotes": b"{'candidate': 'ca_x'}",
    "a list": b"[1, 2, 3]",
    "a string": b'"candidate"',
    "null": b"null",
    "not UTF-8": b'{"candidate": "\xff\xfe"}',
    "lone surrogate escape": b'{"candidate": "\\ud800"}',
    "NUL byte": b'{"candidate"\x00: 1}',
    "BOM": b'\xef\xbb\xbf{"candidate": "ca_x"}',
    "only brackets 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "objects 100000 deep": b'{"a":' * 100_000 + b"1" + b"}" * 100_000,
}


@pytest.mark.parametrize("body", MALFORMED_JSON.values(), ids=MALFORMED_JSON.keys())
async def test_malformed_json_is_400_naming_the_body(harness: Harness, body: bytes) -> None:
    error = await _attack(harness, "/v1/applications", body, JSON, 400)
    assert [e["param"] for e in error["errors"]] == ["body"]


async def test_json_values_of_the_wrong_type_are_400_naming_the_v1_params(harness: Harness) -> None:
    application_id = await _some_application(harness)
    for path, body, method in (
        ("/v1/applications", b'{"candidate": {"first_name": [1], "last_name": {}}}', "POST"),
        ("/v1/applications", b'{"candidate": 5, "job": [], "content": "x"}', "POST"),
        (
            "/v1/candidates",
            b'{"first_name": {"$ne": 1}, "last_name": "x", "email": "a@b.c"}',
            "POST",
        ),
        (f"/v1/applications/{application_id}", b'{"content": 5, "stage": {}}', "PUT"),
        (f"/v1/applications/{application_id}/notes", b'{"body": {"a": 1}}', "POST"),
    ):
        error = await _attack(harness, path, body, JSON, 400, method=method)
        assert "errors" in error, (path, body)


async def test_json_nested_past_the_form_depth_is_400_before_any_upstream_call(
    harness: Harness,
) -> None:
    """Found by this suite: content nested ~300 deep reached ``orjson.dumps`` on the way
    upstream and crashed it (500, and the console log then spent seconds rendering it).
    A JSON body now nests no deeper than a form key may (8 levels)."""
    application_id = await _some_application(harness)
    for depth in (9, 300, 1000):
        nested = b'{"x":' * depth + b"1" + b"}" * depth
        body = b'{"job":"job_x","candidate":{' + PERSON + b'},"content":' + nested + b"}"
        error = await _attack(harness, "/v1/applications", body, JSON, 400)
        assert error["errors"] == [{"param": "content", "message": "nested deeper than 8 levels"}]
        body = b'{"stage":"Interview","content":' + nested + b"}"
        await _attack(harness, f"/v1/applications/{application_id}", body, JSON, 400, method="PUT")
    # Within the limit, nesting is no error of its own (here the job is unknown: a 400 on job).
    shallow = b'{"job":"job_x","candidate":{' + PERSON + b'},"content":{"a":{"b":{"c":1}}}}'
    response = await _post(harness, "/v1/applications", shallow, JSON)
    assert b"nested deeper" not in response.body, response.body


MALFORMED_FORMS = {
    "scalar and object": (b"candidate=1&candidate[x]=2", "candidate[x]"),
    "object and scalar": (b"candidate[x]=2&candidate=1", "candidate"),
    "list and object": (b"expand[]=a&expand[x]=b", "expand[x]"),
    "empty segment inside a key": (b"a[][b]=1", None),
    "empty key": (
        b"candidate[]=1&candidate[]=2&content[]=3&job[x][]=4&[]=5&a[b][]=1&a[b][c]=2",
        None,
    ),
    "bad percent escapes": (b"candidate[first_name]=%ff%fe&candidate[email]=%zz&job=%", None),
    "not UTF-8": (b"candidate[first_name]=\xff\xfe", "body"),
}


@pytest.mark.parametrize("body,param", MALFORMED_FORMS.values(), ids=MALFORMED_FORMS.keys())
async def test_malformed_forms_are_400(harness: Harness, body: bytes, param: str | None) -> None:
    error = await _attack(harness, "/v1/applications", body, FORM, 400)
    if param is not None:
        assert param in [e["param"] for e in error["errors"]], error


# --- bracket-notation bombs -------------------------------------------------------------


async def test_bracket_key_1000_deep_is_400_fast(harness: Harness) -> None:
    body = b"a" + b"[b]" * 1000 + b"=1"
    error = await _attack(harness, "/v1/applications", body, FORM, 400)
    assert error["errors"] == [{"param": "a", "message": "nested deeper than 8 levels"}]


async def test_bracket_key_100000_deep_is_400_or_413_fast(harness: Harness) -> None:
    body = b"a" + b"[b]" * 100_000 + b"=1"  # 300 KB: under the body limit
    await _attack(harness, "/v1/candidates", body, FORM, {400, 413})


@pytest.mark.parametrize(
    "body",
    [
        b"&".join(b"k%d=1" % i for i in range(100_000)),  # 790 KB of plain keys
        b"&".join(b"c[k%d]=1" % i for i in range(100_000)),  # 1.1 MB of bracket keys
        b"&".join(b"e[]=%d" % i for i in range(100_000)),  # one list, 100,000 entries
        b"&".join(b"c[%d]=1" % (10**15 + i) for i in range(60_000)),  # huge indexes
        b"&" * 500_000,  # empty pairs only
    ],
    ids=["plain keys", "bracket keys", "list entries", "huge indexes", "empty pairs"],
)
async def test_100000_keys_are_400_or_413_fast(harness: Harness, body: bytes) -> None:
    await _attack(harness, "/v1/applications", body, FORM, {400, 413})


async def test_the_same_bombs_as_multipart_are_400_or_413(harness: Harness) -> None:
    many = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="c[k%d]"\r\n\r\n1\r\n' % i
        for i in range(5000)
    )
    await _attack(
        harness, "/v1/applications", many + b"--b--\r\n", "multipart/form-data; boundary=b", 400
    )
    deep = (
        b'--b\r\nContent-Disposition: form-data; name="a'
        + b"[b]" * 1000
        + b'"\r\n\r\n1\r\n--b--\r\n'
    )
    await _attack(harness, "/v1/applications", deep, "multipart/form-data; boundary=b", 400)


async def test_a_wide_json_object_is_answered_fast(harness: Harness) -> None:
    body = b"{" + b",".join(b'"k%d":[{},[],null]' % i for i in range(40_000)) + b"}"
    assert len(body) < MiB
    await _attack(harness, "/v1/applications", body, JSON, 400)


# --- oversized bodies -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b"candidate[first_name]=" + b"x" * (MiB + 1), FORM),
        (b'{"first_name": "' + b"x" * (MiB + 1) + b'"}', JSON),
        (b"x" * (3 * MiB), None),
        (
            b'--b\r\nContent-Disposition: form-data; name="first_name"\r\n\r\n'
            + b"x" * (MiB + 1)
            + b"\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
        ),
        (
            b"".join(
                b'--b\r\nContent-Disposition: form-data; name="f%d"\r\n\r\n' % i
                + b"x" * 1200
                + b"\r\n"
                for i in range(900)
            )
            + b"--b--\r\n",
            "multipart/form-data; boundary=b",
        ),
        (
            b'--b\r\nContent-Disposition: form-data; name="cv"; filename="cv.pdf"\r\n\r\n'
            + b"x" * (2 * MiB)
            + b"\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
        ),
    ],
    ids=["form", "json", "no type", "multipart field", "multipart many fields", "multipart file"],
)
async def test_bodies_over_1_mib_are_413(
    harness: Harness, body: bytes, content_type: str | None
) -> None:
    for path in ("/v1/candidates", "/v1/applications"):
        await _attack(harness, path, body, content_type, 413)


def _chunked(body: bytes, size: int = 64 * 1024) -> bytes:
    pieces = [body[i : i + size] for i in range(0, len(body), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n\r\n"


@pytest.mark.parametrize(
    "body,content_type",
    [
        (b'{"first_name": "' + b"x" * (2 * MiB) + b'"}', JSON),
        (
            b'--b\r\nContent-Disposition: form-data; name="junk"\r\n\r\n'
            + b"x" * (3 * MiB)
            + b"\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
        ),
        (
            b'--b\r\nContent-Disposition: form-data; name="junk"; filename="a"\r\n\r\n'
            + b"x" * (3 * MiB)
            + b"\r\n--b--\r\n",
            "multipart/form-data; boundary=b",
        ),
    ],
    ids=["json", "multipart field", "multipart file"],
)
async def test_chunked_bodies_over_1_mib_without_a_length_are_413(
    harness: Harness, body: bytes, content_type: str
) -> None:
    """No Content-Length to check up front: the bridge counts what it reads."""
    await _attack(
        harness, "/v1/candidates", _chunked(body), content_type, 413, Transfer_Encoding="chunked"
    )


async def test_a_gzip_bomb_is_413_fast(harness: Harness) -> None:
    bomb = gzip.compress(b'{"first_name": "' + b"0" * (16 * MiB) + b'"}', compresslevel=9)
    assert len(bomb) < 64 * 1024
    await _attack(harness, "/v1/candidates", bomb, JSON, 413, Content_Encoding="gzip")
    deflated = zlib.compress(b"a=" + b"0" * (16 * MiB), 9)
    await _attack(harness, "/v1/candidates", deflated, FORM, 413, Content_Encoding="deflate")


async def test_a_body_that_does_not_decode_is_400(harness: Harness) -> None:
    """Found by this suite: a body claiming gzip that is not gzip was a 500."""
    for content_type in (JSON, FORM, "multipart/form-data; boundary=b"):
        await _attack(
            harness, "/v1/candidates", b"not gzip", content_type, 400, Content_Encoding="gzip"
        )
    application_id = await _some_application(harness)
    await _attack(
        harness,
        f"/v1/applications/{application_id}/files",
        b"not gzip",
        "multipart/form-data; boundary=b",
        400,
        upstream=True,  # the upload is streamed: the upstream call is already open
        Content_Encoding="gzip",
    )


# --- broken multipart ----------------------------------------------------------------------

FIELD = b'Content-Disposition: form-data; name="first_name"\r\n\r\nAda\r\n'
FILE = b'Content-Disposition: form-data; name="file"; filename="cv.pdf"\r\n\r\n%PDF-1.4\r\n'
BROKEN_MULTIPART = {
    "no boundary parameter": ("multipart/form-data", b"--b\r\n" + FIELD + b"--b--\r\n"),
    "wrong boundary": ("multipart/form-data; boundary=zzz", b"--b\r\n" + FIELD + b"--b--\r\n"),
    "boundary over 70 chars": (
        "multipart/form-data; boundary=" + "b" * 200,
        b"--" + b"b" * 200 + b"\r\n" + FIELD + b"--" + b"b" * 200 + b"--\r\n",
    ),
    "no closing boundary": ("multipart/form-data; boundary=b", b"--b\r\n" + FILE[:-2]),
    "garbage": ("multipart/form-data; boundary=b", b"\x00\x01\x02 garbage \xff"),
    "empty": ("multipart/form-data; boundary=b", b" "),
    "part header line over 8 KiB": (
        "multipart/form-data; boundary=b",
        b"--b\r\nX-Pad: " + b"a" * 100_000 + b"\r\n" + FIELD + b"--b--\r\n",
    ),
    "200 part headers": (
        "multipart/form-data; boundary=b",
        b"--b\r\n" + b"".join(b"X-H%d: 1\r\n" % i for i in range(200)) + FIELD + b"--b--\r\n",
    ),
    "unknown transfer encoding": (
        "multipart/form-data; boundary=b",
        b"--b\r\nContent-Transfer-Encoding: rot13\r\n" + FIELD + b"--b--\r\n",
    ),
}


@pytest.mark.parametrize(
    "content_type,body", BROKEN_MULTIPART.values(), ids=BROKEN_MULTIPART.keys()
)
async def test_broken_multipart_on_a_create_is_400(
    harness: Harness, content_type: str, body: bytes
) -> None:
    """``part header line over 8 KiB`` was a 500 before this suite (aiohttp's LineTooLong)."""
    for path in ("/v1/candidates", "/v1/applications"):
        await _attack(harness, path, body, content_type, 400)


@pytest.mark.parametrize(
    "content_type,body", BROKEN_MULTIPART.values(), ids=BROKEN_MULTIPART.keys()
)
async def test_broken_multipart_on_the_files_upload_is_400(
    harness: Harness, content_type: str, body: bytes
) -> None:
    """The upload is streamed, so the upstream call may already be open when the framing
    breaks; the aborted upstream request creates nothing. ``part header line over 8 KiB``
    was a 502 before this suite."""
    application_id = await _some_application(harness)
    path = f"/v1/applications/{application_id}/files"
    async with await harness.get(path) as response:
        files_before = (await response.json())["total"]
    error = await _attack(harness, path, body, content_type, 400, upstream=True)
    assert error["errors"][0]["param"] in ("file", "type"), error
    async with await harness.get(path) as response:
        assert (await response.json())["total"] == files_before


async def test_thousands_of_parts_on_the_files_upload_are_400_fast(harness: Harness) -> None:
    """Found by this suite: 50,000 tiny parts kept aiohttp's multipart parser busy for
    over 10 s (a 504 then). An upload now has at most 32 parts."""
    application_id = await _some_application(harness)
    parts = b"".join(
        b'--b\r\nContent-Disposition: form-data; name="f"\r\n\r\na\r\n' for _ in range(50_000)
    )
    error = await _attack(
        harness,
        f"/v1/applications/{application_id}/files",
        parts + b"--b\r\n" + FILE + b"--b--\r\n",
        "multipart/form-data; boundary=b",
        400,
        upstream=True,
    )
    assert error["errors"] == [{"param": "file", "message": "more than 32 parts"}]


async def test_nested_multipart_and_header_tricks_in_an_upload_never_inject(
    harness: Harness,
) -> None:
    """A file name with an encoded CRLF cannot add a header to the upstream part."""
    application_id = await _some_application(harness)
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; '
        b"filename*=utf-8''cv%0d%0aX-Evil%3a%201.pdf\r\nContent-Type: application/pdf\r\n\r\n"
        b"%PDF-1.4\r\n--b--\r\n"
    )
    response = await _post(
        harness, f"/v1/applications/{application_id}/files", body, "multipart/form-data; boundary=b"
    )
    assert response.status == 201, response.body
    assert "\r" not in response.json()["name"] and "\n" not in response.json()["name"]
    await assert_healthy(Target.of(harness))

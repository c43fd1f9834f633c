"""Reading v1 request bodies: JSON, form-encoded and multipart decode alike.

Whatever the encoding, a handler gets one nested dict (see ``mappings.forms``). A body
that cannot be read is a v1 400 naming ``body``; a body over the configured size is a
413 (aiohttp's ``client_max_size`` enforces it while reading; the multipart reader
counts the bytes it takes against the same limit). A JSON body may nest no deeper than
a form body may (``mappings.forms.MAX_DEPTH``).
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError

from mappings.errors import BodyTooLarge, ParamError, V1Error, V1ValidationError
from mappings.forms import MAX_DEPTH, MAX_FIELDS, decode_bracket_pairs

MAX_FIELD_BYTES = 64 * 1024
# What reading a multipart body can raise besides a size error: broken framing, a line
# over aiohttp's limits, a Content-Encoding that does not decode (also for uploads).
BROKEN_MULTIPART = (
    ValueError,
    AssertionError,
    RuntimeError,
    HttpProcessingError,
    web.RequestPayloadError,
)


def _bad_body(message: str) -> V1ValidationError:
    return V1ValidationError([ParamError("body", message)], message=f"Unreadable body: {message}")


def _too_large() -> V1Error:
    return BodyTooLarge("The request body is too large")


def decode_form(text: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS
        )
    except ValueError:
        raise _bad_body(f"more than {MAX_FIELDS} fields") from None
    return decode_bracket_pairs(pairs)


def _member_nested_too_deep(body: dict[str, Any], max_depth: int = MAX_DEPTH) -> str | None:
    """The top-level member that nests deeper than a form key could, or ``None``.

    Depth counts like bracket segments: ``{"a": 1}`` is 1, ``{"a": {"b": 1}}`` is 2.
    Iterative, so no nesting orjson accepts can exhaust the Python stack.
    """
    stack: list[tuple[str, Any, int]] = [(key, value, 1) for key, value in body.items()]
    while stack:
        top, node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if not isinstance(node, dict | list) or not children:
            continue
        if depth >= max_depth:
            return top
        stack.extend((top, child, depth + 1) for child in children)
    return None


def decode_json(raw: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _bad_body("not valid JSON") from None
    if not isinstance(value, dict):
        raise _bad_body("a JSON body must be an object")
    too_deep = _member_nested_too_deep(value)
    if too_deep is not None:
        raise V1ValidationError([ParamError(too_deep, f"nested deeper than {MAX_DEPTH} levels")])
    return value


async def read_v1_body(request: web.Request, time_limit: float | None = None) -> dict[str, Any]:
    """The request body as one nested structure, whatever its encoding.

    A body that has not fully arrived ``time_limit`` seconds after the handler asked for it
    is a v1 400: a client that stops sending must not keep a handler waiting forever.
    """
    try:
        async with asyncio.timeout(time_limit):
            return await _read_v1_body(request)
    except TimeoutError:
        assert time_limit is not None
        raise _bad_body(f"the body did not arrive within {time_limit:g} s") from None


async def _read_v1_body(request: web.Request) -> dict[str, Any]:
    content_type = request.content_type
    if content_type.startswith("multipart/"):
        return await _read_multipart_fields(request)
    try:
        raw = await request.read()
    except (web.RequestPayloadError, HttpProcessingError):
        raise _bad_body("the body could not be decoded") from None
    if not raw.strip():
        return {}
    if content_type == "application/json" or content_type.endswith("+json"):
        return decode_json(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _bad_body("not UTF-8 text") from None
    if content_type == "application/x-www-form-urlencoded":
        return decode_form(text)
    # Lenient: no or an odd content type; guess from the first character.
    return decode_json(raw) if text.lstrip().startswith("{") else decode_form(text)


def _check_size(request: web.Request) -> None:
    """Multipart is read part by part: count what came in against the body limit."""
    if request.content.total_bytes > request.client_max_size:
        raise _too_large()


async def _drain(request: web.Request, part: BodyPartReader) -> None:
    while await part.read_chunk():
        _check_size(request)


async def _read_multipart_fields(request: web.Request) -> dict[str, Any]:
    declared = request.content_length
    if declared is not None and declared > request.client_max_size:
        raise _too_large()
    try:
        reader = await request.multipart()
        pairs: list[tuple[str, str]] = []
        while True:
            part = await reader.next()
            _check_size(request)
            if part is None:
                break
            if len(pairs) >= MAX_FIELDS:
                raise _bad_body(f"more than {MAX_FIELDS} fields")
            name = getattr(part, "name", None)
            if not isinstance(part, BodyPartReader) or not name or part.filename:
                if isinstance(part, BodyPartReader):
                    await _drain(request, part)  # files belong on the files endpoint
                continue
            data = await part.read(decode=True)
            _check_size(request)
            if len(data) > MAX_FIELD_BYTES:
                raise _bad_body(f"field {name} is larger than {MAX_FIELD_BYTES} bytes")
            pairs.append((name, data.decode("utf-8", errors="replace")))
    except BROKEN_MULTIPART as exc:
        raise _bad_body("broken multipart body") from exc
    return decode_bracket_pairs(pairs)

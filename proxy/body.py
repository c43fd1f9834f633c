"""Reading v1 request bodies: JSON, form-encoded and multipart decode alike.

Whatever the encoding, a handler gets one nested dict (see ``mappings.forms``). A body
that cannot be read is a v1 400 naming ``body``; a body over the configured size is a
413 (aiohttp's ``client_max_size`` enforces it while reading).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from mappings.errors import ParamError, V1ValidationError
from mappings.forms import MAX_FIELDS, decode_bracket_pairs

MAX_FIELD_BYTES = 64 * 1024


def _bad_body(message: str) -> V1ValidationError:
    return V1ValidationError([ParamError("body", message)], message=f"Unreadable body: {message}")


def decode_form(text: str) -> dict[str, Any]:
    try:
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, max_num_fields=MAX_FIELDS
        )
    except ValueError:
        raise _bad_body(f"more than {MAX_FIELDS} fields") from None
    return decode_bracket_pairs(pairs)


def decode_json(raw: bytes) -> dict[str, Any]:
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise _bad_body("not valid JSON") from None
    if not isinstance(value, dict):
        raise _bad_body("a JSON body must be an object")
    return value


async def read_v1_body(request: web.Request) -> dict[str, Any]:
    """The request body as one nested structure, whatever its encoding."""
    content_type = request.content_type
    if content_type.startswith("multipart/"):
        return await _read_multipart_fields(request)
    raw = await request.read()
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


async def _read_multipart_fields(request: web.Request) -> dict[str, Any]:
    try:
        reader = await request.multipart()
        pairs: list[tuple[str, str]] = []
        while True:
            part = await reader.next()
            if part is None:
                break
            if len(pairs) >= MAX_FIELDS:
                raise _bad_body(f"more than {MAX_FIELDS} fields")
            name = getattr(part, "name", None)
            if not name or getattr(part, "filename", None):
                continue  # files belong on the files endpoint
            data = await part.read(decode=True)  # type: ignore[union-attr]
            if len(data) > MAX_FIELD_BYTES:
                raise _bad_body(f"field {name} is larger than {MAX_FIELD_BYTES} bytes")
            pairs.append((name, data.decode("utf-8", errors="replace")))
    except (ValueError, AssertionError, RuntimeError) as exc:
        raise _bad_body("broken multipart body") from exc
    return decode_bracket_pairs(pairs)

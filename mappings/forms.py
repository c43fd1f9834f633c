"""Request bodies: form-encoded, multipart and JSON all become one nested structure.

v1 clients posted ``application/x-www-form-urlencoded`` in the Stripe style:
``candidate[email]=a@b.c``, ``content[education]=MSc``, ``expand[]=job``. Multipart
fields use the same names. JSON clients send the nested object directly. This module
decodes the bracket notation (with limits, because a body is attacker-controlled) and
coerces the string scalars form encoding produces.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Final

from mappings.errors import ParamError, V1ValidationError

MAX_DEPTH: Final = 8
MAX_FIELDS: Final = 1000
_SEGMENT: Final = re.compile(r"\[([^\[\]]*)\]")
_TRUE: Final = frozenset({"true", "1", "yes", "on"})
_FALSE: Final = frozenset({"false", "0", "no", "off", ""})


def _split_key(key: str) -> list[str]:
    head, bracket, tail = key.partition("[")
    if not bracket:
        return [key]
    rest = "[" + tail
    segments = _SEGMENT.findall(rest)
    if "".join(f"[{s}]" for s in segments) != rest or not head:
        # Unbalanced brackets: keep the key whole rather than guess.
        return [key]
    return [head, *segments]


def decode_bracket_pairs(
    pairs: Iterable[tuple[str, str]],
    *,
    max_depth: int = MAX_DEPTH,
    max_fields: int = MAX_FIELDS,
) -> dict[str, Any]:
    """``[("a[b][]", "1")]`` -> ``{"a": {"b": ["1"]}}``.

    ``x[]`` appends to a list, ``x[0]`` / ``x[1]`` become a list when every index is a
    number, a repeated plain key keeps its last value. Too deep, too many fields, or a
    key used both as a value and as a container -> 400 naming that key.
    """
    root: dict[str, Any] = {}
    for count, (key, value) in enumerate(pairs, start=1):
        if count > max_fields:
            raise V1ValidationError(
                [ParamError("body", f"more than {max_fields} fields in one request")]
            )
        segments = _split_key(key)
        if len(segments) > max_depth:
            raise V1ValidationError(
                [ParamError(segments[0], f"nested deeper than {max_depth} levels")]
            )
        node: Any = root
        for position, segment in enumerate(segments):
            last = position == len(segments) - 1
            if isinstance(node, list):
                # Only reached through "[]": a list of scalars cannot hold containers.
                raise V1ValidationError([ParamError(key, "cannot nest inside a list entry")])
            if last:
                if segment == "" and position > 0:
                    raise V1ValidationError([ParamError(key, "empty key")])
                if isinstance(node.get(segment), dict | list):
                    raise V1ValidationError(
                        [ParamError(key, "is given both as a value and as an object")]
                    )
                node[segment] = value
                break
            following = segments[position + 1]
            if following == "" and position + 1 == len(segments) - 1:
                existing = node.setdefault(segment, [])
                if not isinstance(existing, list):
                    raise V1ValidationError(
                        [ParamError(key, "is given both as a value and as a list")]
                    )
                existing.append(value)
                break
            child = node.setdefault(segment, {})
            if not isinstance(child, dict):
                raise V1ValidationError(
                    [ParamError(key, "is given both as a value and as an object")]
                )
            node = child
    return {key: _lists_from_indexes(value) for key, value in root.items()}


def _lists_from_indexes(node: Any) -> Any:
    if isinstance(node, dict):
        converted = {k: _lists_from_indexes(v) for k, v in node.items()}
        if converted and all(k.isdigit() for k in converted):
            return [converted[k] for k in sorted(converted, key=int)]
        return converted
    if isinstance(node, list):
        return [_lists_from_indexes(v) for v in node]
    return node


def coerce_bool(value: Any, param: str) -> bool:
    """Form encoding makes every scalar a string: ``"true"``/``"1"`` etc. are booleans."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise V1ValidationError([ParamError(param, "must be true or false")])


def expand_values(query: Iterable[tuple[str, str]]) -> frozenset[str]:
    """``expand[]=a``, ``expand[0]=a`` and ``expand=a,b`` all ask for expansion."""
    wanted: set[str] = set()
    for key, value in query:
        if key == "expand" or (key.startswith("expand[") and key.endswith("]")):
            wanted.update(part.strip() for part in value.split(",") if part.strip())
    return frozenset(wanted)

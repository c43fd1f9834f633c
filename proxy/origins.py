"""Web origins as the operator lists them in ``cors_allowed_origins``, read the way browsers
send them in ``Origin`` (RFC 6454 serialization: lowercase, no path, no default port).

Kept apart from :mod:`proxy.browsers` so the settings model can validate with it at load.
"""

from __future__ import annotations

import json
import re
from typing import Final

ANY_ORIGIN: Final = "*"
_ORIGIN: Final = re.compile(
    r"(?P<scheme>https?)://"
    r"(?P<host>[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>\d{1,5}))?"
    r"/?"  # a lone trailing slash, as an address bar shows it, is not a path
)
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def web_origin(text: str) -> str:
    """One configured origin in the form browsers send, or ``*``; ValueError otherwise."""
    text = text.strip()
    if text == ANY_ORIGIN:
        return text
    match = _ORIGIN.fullmatch(text.lower())
    port = int(match["port"]) if match and match["port"] else None
    if match is None or (port is not None and not 1 <= port <= 65535):
        raise ValueError(
            f"{text!r} is not an origin: write scheme://host[:port] with http or https and "
            "no path (e.g. https://careers.example.com), or * for any origin"
        )
    scheme, host = match["scheme"], match["host"]
    if port is None or port == _DEFAULT_PORTS[scheme]:
        return f"{scheme}://{host}"
    return f"{scheme}://{host}:{port}"


def origin_list(value: object) -> object:
    """An environment variable's text as a list: a JSON list, or origins split on commas."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValueError(f"not a JSON list of origins ({exc.msg})") from exc
    return [part for part in (piece.strip() for piece in text.split(",")) if part]


def allowed_origins(origins: list[str]) -> list[str]:
    """The configured list, each origin normalized, duplicates dropped; ``*`` stands alone."""
    normalized = list(dict.fromkeys(web_origin(origin) for origin in origins))
    if ANY_ORIGIN in normalized and len(normalized) > 1:
        raise ValueError("* already allows every origin: list it alone")
    return normalized

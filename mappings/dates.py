"""Date-times: v1 speaks integer UNIX seconds (UTC), v2 speaks ISO 8601 strings.

v2 renders ``YYYY-MM-DDTHH:MM:SSZ`` today, but any RFC 3339 form (fractions,
``+00:00``, other offsets) is accepted, because the exact rendering is undocumented.
A v2 timestamp without an offset is read as UTC. ``None`` stays ``None``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Final

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND: Final = timedelta(seconds=1)
_CALENDAR_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def to_unix_seconds(value: datetime | None) -> int | None:
    """v2 date-time -> v1 integer UNIX seconds (fractions truncated toward the past)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    # Integer arithmetic: a float timestamp rounds x.999999 up to the next second.
    return (value - _EPOCH) // _SECOND


def parse_rfc3339(text: str) -> datetime:
    """Parse any RFC 3339 / ISO 8601 date-time; naive values are UTC."""
    normalised = text.strip()
    if normalised.endswith(("Z", "z")):
        normalised = normalised[:-1] + "+00:00"
    parsed = datetime.fromisoformat(normalised)
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def unix_to_iso(seconds: int) -> str:
    """v1 UNIX seconds -> v2's rendering ``YYYY-MM-DDTHH:MM:SSZ``."""
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_calendar_date(text: str) -> bool:
    """True for a real ``YYYY-MM-DD`` date (date-only fields stay in this form in v1)."""
    # fromisoformat also takes other ISO forms of ten characters, such as "1990-W15-4".
    if _CALENDAR_DATE.fullmatch(text) is None:
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True

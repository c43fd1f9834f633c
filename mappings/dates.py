"""Date-times: v1 speaks integer UNIX seconds (UTC), v2 speaks ISO 8601 strings.

v2 renders ``YYYY-MM-DDTHH:MM:SSZ`` today, but any RFC 3339 form (fractions,
``+00:00``, other offsets) is accepted, because the exact rendering is undocumented.
A v2 timestamp without an offset is read as UTC. ``None`` stays ``None``.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Final

from pydantic_core import TzInfo

_EPOCH_ORDINAL: Final = date(1970, 1, 1).toordinal()
_MICROSECOND: Final = timedelta(microseconds=1)
_CALENDAR_DATE: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
# Time zones whose offset is the same at every instant (pydantic parses v2 dates into
# TzInfo), so it can be read once per zone: asking a zone for it is the dearest step.
_FIXED_OFFSET_ZONES: Final = (timezone, TzInfo)
_fixed_offsets: dict[tzinfo, int] = {}


def _offset_microseconds(value: datetime) -> int:
    zone = value.tzinfo
    if zone is None:
        return 0  # naive: UTC
    if type(zone) in _FIXED_OFFSET_ZONES:
        known = _fixed_offsets.get(zone)
        if known is not None:
            return known
    offset = value.utcoffset()
    if offset is None:  # as ``value - epoch`` would
        raise TypeError("can't subtract offset-naive and offset-aware datetimes")
    micros = offset // _MICROSECOND
    if type(zone) in _FIXED_OFFSET_ZONES and len(_fixed_offsets) < 1024:
        _fixed_offsets[zone] = micros
    return micros


def to_unix_seconds(value: datetime | None) -> int | None:
    """v2 date-time -> v1 integer UNIX seconds (fractions truncated toward the past)."""
    if value is None:
        return None
    # Integer arithmetic (a float timestamp rounds x.999999 up to the next second),
    # from the calendar fields: ``(value - epoch) // timedelta(seconds=1)``, exactly.
    seconds = (
        (value.toordinal() - _EPOCH_ORDINAL) * 86_400
        + value.hour * 3_600
        + value.minute * 60
        + value.second
    )
    offset = _offset_microseconds(value)
    if offset == 0:
        return seconds  # the microseconds (>= 0) are truncated toward the past
    return (seconds * 1_000_000 + value.microsecond - offset) // 1_000_000


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

"""Dates: v2 ISO 8601 strings (any RFC 3339 rendering) <-> v1 integer UNIX seconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings.dates import is_calendar_date, parse_rfc3339, to_unix_seconds, unix_to_iso
from mappings.notes import note_to_v1
from mappings.v2_models import OneNote

# 2023-09-21T10:15:00Z, converted by hand (calendar.timegm).
INSTANT = 1695291300

RENDERINGS = [
    "2023-09-21T10:15:00Z",
    "2023-09-21T10:15:00.000000Z",
    "2023-09-21T10:15:00.000Z",
    "2023-09-21T10:15:00+00:00",
    "2023-09-21T12:15:00+02:00",
    "2023-09-21T06:15:00-04:00",
    "2023-09-21T10:15:00.999999Z",
    "2023-09-21t10:15:00z",
    "2023-09-21T10:15:00",
    " 2023-09-21T10:15:00Z ",
]

# Bounds of the property tests: 1000-01-02 .. 9999-12-30 (room for a +-14:00 offset).
EARLIEST = -30610137600
LATEST = 253402128000


@pytest.mark.parametrize("text", RENDERINGS)
def test_every_rfc3339_rendering_of_one_instant_is_the_same_v1_second(text: str) -> None:
    assert to_unix_seconds(parse_rfc3339(text)) == INSTANT


@pytest.mark.parametrize("text", [r for r in RENDERINGS if r == r.strip()])
def test_v2_models_read_every_rendering_to_the_same_v1_second(text: str) -> None:
    note = OneNote.model_validate({"data": {"note": "x", "created_at": text, "updated_at": None}})
    body = note_to_v1("ap_X", note.data)
    assert body["created_at"] == INSTANT
    assert body["updated_at"] is None


def test_null_stays_null() -> None:
    assert to_unix_seconds(None) is None


def test_a_naive_datetime_is_utc() -> None:
    assert to_unix_seconds(datetime(2023, 9, 21, 10, 15)) == INSTANT


def test_fractions_truncate_toward_the_past_before_1970_too() -> None:
    assert to_unix_seconds(parse_rfc3339("1969-12-31T23:59:59.500000Z")) == -1
    assert to_unix_seconds(parse_rfc3339("9999-12-31T23:59:59.999999Z")) == 253402300799


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "1970-01-01T00:00:00Z"),
        (INSTANT, "2023-09-21T10:15:00Z"),
        (1709208000, "2024-02-29T12:00:00Z"),
        (-1, "1969-12-31T23:59:59Z"),
    ],
)
def test_v1_seconds_render_as_v2_text(seconds: int, text: str) -> None:
    assert unix_to_iso(seconds) == text


@settings(max_examples=300, deadline=None)
@given(seconds=st.integers(min_value=EARLIEST, max_value=LATEST))
def test_seconds_survive_the_round_trip_through_v2_text(seconds: int) -> None:
    assert to_unix_seconds(parse_rfc3339(unix_to_iso(seconds))) == seconds


@settings(max_examples=300, deadline=None)
@given(
    seconds=st.integers(min_value=EARLIEST, max_value=LATEST),
    # The edges of a second are where float arithmetic would round to the wrong one.
    micro=st.sampled_from([0, 1, 999_999]) | st.integers(min_value=0, max_value=999_999),
    offset_minutes=st.integers(min_value=-14 * 60, max_value=14 * 60),
)
def test_renderings_of_one_instant_agree_and_fractions_truncate(
    seconds: int, micro: int, offset_minutes: int
) -> None:
    utc = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=seconds, microseconds=micro)
    local = utc.astimezone(timezone(timedelta(minutes=offset_minutes)))
    sign = "+" if offset_minutes >= 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    renderings = [
        utc.strftime("%Y-%m-%dT%H:%M:%S") + "Z",
        utc.strftime("%Y-%m-%dT%H:%M:%S.%f") + "Z",
        utc.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00",
        utc.strftime("%Y-%m-%dT%H:%M:%S.%f"),
        local.strftime("%Y-%m-%dT%H:%M:%S.%f") + f"{sign}{hours:02d}:{minutes:02d}",
    ]
    if micro % 1000 == 0:
        renderings.append(utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{micro // 1000:03d}Z")
    assert [to_unix_seconds(parse_rfc3339(text)) for text in renderings] == [seconds] * len(
        renderings
    )


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("1990-04-12", True),
        ("2024-02-29", True),
        ("2023-02-29", False),
        ("1990-4-12", False),
        ("12-04-1990", False),
        ("1990-04-12T00:00:00Z", False),
        ("19900412", False),
        ("1990-W15-4", False),
        ("", False),
    ],
)
def test_date_only_fields_must_be_a_real_yyyy_mm_dd(text: str, valid: bool) -> None:
    assert is_calendar_date(text) is valid

"""Pagination: v1 windows (page/per_page, limit/offset) over the fewest v2 page calls."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mappings import v1_models
from mappings.errors import V1ValidationError
from mappings.pagination import (
    PageCall,
    Window,
    envelope,
    parse_window,
    plan_page_window,
    slice_window,
)


class FakeV2List:
    """A v2 list endpoint over ``total`` items: page ``page`` of size ``perPage``."""

    def __init__(self, total: int) -> None:
        self.items = [f"ap_{i:05d}" for i in range(total)]
        self.calls: list[PageCall] = []

    def page(self, call: PageCall) -> list[str]:
        self.calls.append(call)
        start = (call.page - 1) * call.per_page
        return self.items[start : start + call.per_page]

    def window(self, window: Window) -> list[str]:
        """What the bridge does for one v1 list request."""
        calls = plan_page_window(window)
        return slice_window(window, calls, [self.page(call) for call in calls])


# --- parse_window -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "offset", "limit"),
    [
        ([], 0, 100),
        ([("page", "1")], 0, 100),
        ([("page", "3")], 200, 100),
        ([("page", "3"), ("per_page", "25")], 50, 25),
        ([("limit", "10")], 0, 10),
        ([("limit", "10"), ("page", "4")], 30, 10),
        ([("offset", "7"), ("limit", "5")], 7, 5),
        # offset wins over page when both are given
        ([("page", "9"), ("offset", "15"), ("per_page", "20")], 15, 20),
        ([("offset", "0")], 0, 100),
        ([("per_page", " 100 ")], 0, 100),
        ([("per_page", "1"), ("page", "10000000")], 9_999_999, 1),
        ([("page", "2"), ("status", "open"), ("expand[]", "job")], 100, 100),
    ],
)
def test_v1_query_becomes_a_window(query: list[tuple[str, str]], offset: int, limit: int) -> None:
    assert parse_window(query) == Window(offset, limit)


@pytest.mark.parametrize(
    ("query", "param", "message"),
    [
        ([("per_page", "0")], "per_page", "must be between 1 and 100"),
        ([("per_page", "101")], "per_page", "must be between 1 and 100"),
        ([("per_page", "-1")], "per_page", "must be between 1 and 100"),
        ([("per_page", "abc")], "per_page", "must be an integer"),
        ([("limit", "0")], "limit", "must be between 1 and 100"),
        ([("limit", "101")], "limit", "must be between 1 and 100"),
        ([("limit", "abc")], "limit", "must be an integer"),
        ([("page", "0")], "page", "must be between 1 and 100000"),
        ([("page", "-1")], "page", "must be between 1 and 100000"),
        ([("page", "abc")], "page", "must be an integer"),
        ([("page", "1.5")], "page", "must be an integer"),
        ([("page", "")], "page", "must be an integer"),
        ([("offset", "-1")], "offset", "must be between 0 and 10000000"),
        ([("offset", "abc")], "offset", "must be an integer"),
        ([("offset", "10000001")], "offset", "must be between 0 and 10000000"),
    ],
)
def test_out_of_range_values_are_a_400_naming_the_parameter_sent(
    query: list[tuple[str, str]], param: str, message: str
) -> None:
    with pytest.raises(V1ValidationError) as raised:
        parse_window(query)
    assert raised.value.body() == {
        "message": f"{param}: {message}",
        "status": 400,
        "errors": [{"param": param, "message": message}],
    }


# --- envelope -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "items", "total", "expected"),
    [
        (
            Window(0, 2),
            ["a", "b"],
            5,
            {"data": ["a", "b"], "has_more": True, "page": 1, "per_page": 2, "total": 5},
        ),
        (
            Window(4, 2),
            ["e"],
            5,
            {"data": ["e"], "has_more": False, "page": 3, "per_page": 2, "total": 5},
        ),
        (
            Window(2, 3),
            ["c", "d", "e"],
            5,
            {"data": ["c", "d", "e"], "has_more": False, "page": 1, "per_page": 3, "total": 5},
        ),
        (
            Window(100, 100),
            [],
            0,
            {"data": [], "has_more": False, "page": 2, "per_page": 100, "total": 0},
        ),
    ],
)
def test_list_envelope(
    window: Window, items: list[str], total: int, expected: dict[str, Any]
) -> None:
    body = envelope(window, items, total)
    assert body == expected
    v1_models.ListEnvelope.model_validate(body)


# --- planning v2 calls --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("window", "calls"),
    [
        (Window(0, 100), (PageCall(1, 100),)),
        (Window(200, 100), (PageCall(3, 100),)),
        (Window(50, 25), (PageCall(3, 25),)),
        # Misaligned: items 3..7 lie whole in the first page of 8 (sizes 5..7 split them).
        (Window(3, 5), (PageCall(1, 8),)),
        # Items 95..104: 15 is the smallest page size holding them (page 7 = items 90..104).
        (Window(95, 10), (PageCall(7, 15),)),
        (Window(30, 40), (PageCall(1, 70),)),
        # Items 250..339: no size in 90..100 holds them, so pages 3 and 4 of 90.
        (Window(250, 90), (PageCall(3, 90), PageCall(4, 90))),
        (Window(1, 100), (PageCall(1, 100), PageCall(2, 100))),
    ],
)
def test_the_planned_v2_calls(window: Window, calls: tuple[PageCall, ...]) -> None:
    assert plan_page_window(window) == calls


def test_a_window_past_the_end_is_empty_after_one_call() -> None:
    upstream = FakeV2List(30)
    assert upstream.window(Window(100, 10)) == []
    assert upstream.calls == [PageCall(11, 10)]


OFFSETS = st.integers(min_value=0, max_value=5000)
LIMITS = st.integers(min_value=1, max_value=100)
TOTALS = st.integers(min_value=0, max_value=6000)


@settings(max_examples=300, deadline=None)
@given(offset=OFFSETS, limit=LIMITS, total=TOTALS)
def test_the_window_cut_from_v2_pages_is_exactly_the_v1_window(
    offset: int, limit: int, total: int
) -> None:
    upstream = FakeV2List(total)
    assert upstream.window(Window(offset, limit)) == upstream.items[offset : offset + limit]


@settings(max_examples=300, deadline=None)
@given(offset=OFFSETS, limit=LIMITS)
def test_at_most_two_valid_v2_calls_per_window(offset: int, limit: int) -> None:
    calls = plan_page_window(Window(offset, limit))
    assert 1 <= len(calls) <= 2
    assert all(1 <= call.per_page <= 100 and call.page >= 1 for call in calls)
    if len(calls) == 2:
        # Two consecutive pages of one size.
        assert calls[1] == PageCall(calls[0].page + 1, calls[0].per_page)


def _fits_one_page(offset: int, limit: int) -> bool:
    last = offset + limit - 1
    return any(offset // size == last // size for size in range(1, 101))


@settings(max_examples=300, deadline=None)
@given(offset=OFFSETS, limit=LIMITS)
def test_one_call_when_aligned_or_when_some_page_size_holds_the_window(
    offset: int, limit: int
) -> None:
    calls = plan_page_window(Window(offset, limit))
    if offset % limit == 0 or _fits_one_page(offset, limit):
        assert len(calls) == 1
    else:
        assert len(calls) == 2


@settings(max_examples=100, deadline=None)
@given(per_page=LIMITS, pages=st.integers(min_value=1, max_value=30), total=TOTALS)
def test_walking_k_v1_pages_costs_k_v2_calls(per_page: int, pages: int, total: int) -> None:
    upstream = FakeV2List(total)
    walked: list[str] = []
    for page in range(1, pages + 1):
        window = parse_window([("page", str(page)), ("per_page", str(per_page))])
        walked.extend(upstream.window(window))
    assert len(upstream.calls) == pages
    assert walked == upstream.items[: pages * per_page]


@settings(max_examples=100, deadline=None)
@given(limit=LIMITS, steps=st.integers(min_value=1, max_value=20), total=TOTALS)
def test_walking_by_offset_and_limit_costs_one_call_per_step(
    limit: int, steps: int, total: int
) -> None:
    upstream = FakeV2List(total)
    for step in range(steps):
        window = parse_window([("offset", str(step * limit)), ("limit", str(limit))])
        upstream.window(window)
    assert len(upstream.calls) == steps


def test_a_query_names_every_paging_and_filter_problem_at_once() -> None:
    # Contract §3 rev 2: one 400 lists every problem, across paging and filters.
    from mappings.v1_endpoints import endpoint_for

    entry = endpoint_for("GET /v1/applications")
    assert entry is not None
    query = [("page", "0"), ("per_page", "0"), ("job", "bad id!"), ("starting_after", "a b")]
    with pytest.raises(V1ValidationError) as raised:
        entry.checked_query(query)
    named = {e.param for e in raised.value.errors}
    assert named == {"job", "page", "per_page", "starting_after"}, raised.value.errors
    assert entry.checked_query([("page", "2"), ("job", "job_x"), ("zzz", "1")]) == [
        ("page", "2"),
        ("job", "job_x"),
    ]

"""Cursor paging, the pure rules (contract §4 rev 2): reading ``starting_after`` /
``ending_before``, placing a cursor as the equivalent offset window, the Stripe envelope of
a backward page, and what makes two requests the same list."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mappings import v1_models
from mappings.errors import V1ValidationError
from mappings.pagination import (
    ENDING_BEFORE,
    STARTING_AFTER,
    Cursor,
    CursorParam,
    Window,
    envelope,
    list_identity,
    parse_window,
    place_cursor,
    place_in_list,
    plan_page_window,
)
from tests.mappings.test_pagination import FakeV2List

AFTER: CursorParam = STARTING_AFTER
BEFORE: CursorParam = ENDING_BEFORE

# --- reading the cursor ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ([(AFTER, "ap_1")], Window(0, 100, Cursor(AFTER, "ap_1"))),
        ([(BEFORE, "ap_1"), ("limit", "5")], Window(0, 5, Cursor(BEFORE, "ap_1"))),
        ([(AFTER, " ap_1 "), ("per_page", "7")], Window(0, 7, Cursor(AFTER, "ap_1"))),
        # An empty cursor is no cursor (a first request sending its unset variable).
        ([(AFTER, ""), ("page", "2"), ("limit", "5")], Window(5, 5)),
        ([(AFTER, ""), (BEFORE, "ap_2")], Window(0, 100, Cursor(BEFORE, "ap_2"))),
        # Repeated: the last value counts, as for every parameter.
        ([(AFTER, "ap_1"), (AFTER, "ap_2")], Window(0, 100, Cursor(AFTER, "ap_2"))),
        # Filters are not paging parameters.
        ([(AFTER, "ap_1"), ("status", "open")], Window(0, 100, Cursor(AFTER, "ap_1"))),
    ],
)
def test_a_cursor_is_read_as_a_window_to_place(
    query: list[tuple[str, str]], expected: Window
) -> None:
    window = parse_window(query)
    assert window == expected
    assert window.placed is (window.cursor is None)


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ([(AFTER, "ap_1"), (BEFORE, "ap_2")], [(BEFORE, "cannot be combined with starting_after")]),
        ([(AFTER, "ap_1"), ("page", "2")], [("page", "cannot be combined with starting_after")]),
        (
            [(BEFORE, "ap_1"), ("offset", "0")],
            [("offset", "cannot be combined with ending_before")],
        ),
        (
            [(AFTER, "ap_1"), (BEFORE, "ap_2"), ("page", "1"), ("offset", "3")],
            [(BEFORE, "cannot be combined with starting_after")]
            + [(name, "cannot be combined with starting_after") for name in ("page", "offset")],
        ),
        ([(AFTER, "not an id!")], [(AFTER, "must be the id of an object of this list")]),
        ([(BEFORE, "x" * 65)], [(BEFORE, "must be the id of an object of this list")]),
        # The limit is checked first, as for any window.
        ([(AFTER, "ap_1"), ("limit", "0")], [("limit", "must be between 1 and 100")]),
    ],
)
def test_a_cursor_that_cannot_be_read_is_a_400_naming_each_parameter(
    query: list[tuple[str, str]], errors: list[tuple[str, str]]
) -> None:
    with pytest.raises(V1ValidationError) as raised:
        parse_window(query)
    body = raised.value.body()
    assert body["status"] == 400
    assert [(e["param"], e["message"]) for e in body["errors"]] == errors


# --- placing it --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cursor", "position", "limit", "offset", "size"),
    [
        (AFTER, 0, 10, 1, 10),
        (AFTER, 9, 10, 10, 10),
        (AFTER, 250, 100, 251, 100),
        (BEFORE, 20, 10, 10, 10),
        (BEFORE, 25, 10, 15, 10),
        (BEFORE, 3, 10, 0, 3),  # fewer items precede it than the limit
        (BEFORE, 1, 1, 0, 1),
        (BEFORE, 0, 10, 0, 10),  # the first item: the first page read, no item kept
    ],
)
def test_a_placed_cursor_is_the_equivalent_offset_window(
    cursor: CursorParam, position: int, limit: int, offset: int, size: int
) -> None:
    placed = place_cursor(Window(0, limit, Cursor(cursor, "ap_x")), position)
    assert (placed.offset, placed.limit) == (offset, size)
    assert placed.cursor == Cursor(cursor, "ap_x", position)
    assert placed.placed and placed.backward is (cursor == BEFORE)
    assert placed.empty is (cursor == BEFORE and position == 0)
    # It costs what the offset window costs: the same v2 calls.
    assert plan_page_window(placed) == plan_page_window(Window(offset, size))


def test_a_list_held_whole_places_the_cursor_itself() -> None:
    ids = ["no_a", "no_b", "no_c", "no_d"]
    assert place_in_list(Window(0, 2, Cursor(AFTER, "no_b")), ids) == Window(
        2, 2, Cursor(AFTER, "no_b", 1)
    )
    assert place_in_list(Window(0, 2, Cursor(BEFORE, "no_b")), ids) == Window(
        0, 1, Cursor(BEFORE, "no_b", 1)
    )
    assert place_in_list(Window(4, 2), ids) == Window(4, 2)  # nothing to place
    with pytest.raises(V1ValidationError) as raised:
        place_in_list(Window(0, 2, Cursor(BEFORE, "no_z")), ids)
    (error,) = raised.value.body()["errors"]
    assert error["param"] == BEFORE and "no_z" in error["message"]


# --- the envelope ------------------------------------------------------------------------------


def _placed(cursor: CursorParam, position: int, limit: int) -> Window:
    return place_cursor(Window(0, limit, Cursor(cursor, "ap_x")), position)


@pytest.mark.parametrize(
    ("window", "items", "total", "expected"),
    [
        # Forward: has_more = items follow the window.
        (_placed(AFTER, 1, 2), ["c", "d"], 5, {"data": ["c", "d"], "has_more": True}),
        (_placed(AFTER, 2, 2), ["d", "e"], 5, {"data": ["d", "e"], "has_more": False}),
        (_placed(AFTER, 4, 2), [], 5, {"data": [], "has_more": False}),
        # Backward (Stripe): has_more = items precede the window.
        (_placed(BEFORE, 4, 2), ["c", "d"], 5, {"data": ["c", "d"], "has_more": True}),
        (_placed(BEFORE, 2, 2), ["a", "b"], 5, {"data": ["a", "b"], "has_more": False}),
        (_placed(BEFORE, 1, 2), ["a"], 5, {"data": ["a"], "has_more": False}),
        # ending_before the first item: an empty page, nothing before it.
        (_placed(BEFORE, 0, 2), ["a", "b"], 5, {"data": [], "has_more": False}),
        # The list shrank under a backward cursor: no id to walk on from, the walk ends.
        (_placed(BEFORE, 9, 2), [], 5, {"data": [], "has_more": False}),
    ],
)
def test_the_envelope_of_a_cursor_page(
    window: Window, items: list[str], total: int, expected: dict[str, Any]
) -> None:
    body = envelope(window, items, total)
    assert {k: body[k] for k in ("data", "has_more")} == expected
    assert (body["page"], body["per_page"], body["total"]) == (window.page, window.limit, total)
    v1_models.ListEnvelope.model_validate(body)
    # A backward page says "more before" even when v2 counted no total.
    if window.backward:
        assert envelope(window, items, total, has_more=True)["has_more"] is expected["has_more"]


def test_an_unplaced_cursor_window_is_never_answered() -> None:
    with pytest.raises(AssertionError):
        envelope(Window(0, 2, Cursor(AFTER, "ap_x")), [], 0)


# --- the list's identity ---------------------------------------------------------------------


def test_the_list_identity_is_route_path_and_filters_in_any_order() -> None:
    route = "GET /v1/applications"
    base = list_identity(route, [], [("job", "job_1"), ("stage", "Hired")])
    assert base == list_identity(
        route,
        [],
        [("stage", "Hired"), ("limit", "5"), (AFTER, "ap_1"), ("job", "job_1"), ("page", "2")],
    )
    assert base != list_identity(route, [], [("job", "job_2"), ("stage", "Hired")])
    assert base != list_identity(route, [], [("job", "job_1")])
    assert base != list_identity("GET /v1/candidates", [], [("job", "job_1"), ("stage", "Hired")])
    notes = "GET /v1/applications/{id}/notes"
    assert list_identity(notes, [("id", "ap_1")], []) != list_identity(notes, [("id", "ap_2")], [])
    # No value can make one list's form another's.
    assert list_identity(route, [], [("job", 'a","stage')]) != list_identity(
        route, [], [("job", "a"), ("stage", "")]
    )


# --- walks -------------------------------------------------------------------------------------


def _page(v2: FakeV2List, window: Window) -> tuple[list[str], bool, int]:
    """What the bridge answers for one window: its ids, has_more, and its v2 calls."""
    before = len(v2.calls)
    items = v2.window(window)
    body = envelope(window, items, len(v2.items))
    return body["data"], body["has_more"], len(v2.calls) - before


@given(size=st.integers(0, 250), limit=st.integers(1, 100))
def test_walking_forward_and_backward_returns_every_item_once_in_order(
    size: int, limit: int
) -> None:
    v2 = FakeV2List(size)
    position = {item: index for index, item in enumerate(v2.items)}
    # Forward: the first page by number, then starting_after the last id of each page.
    ids, more, calls = _page(v2, parse_window([("limit", str(limit))]))
    forward, pages = list(ids), 1
    while more:
        asked = parse_window([(AFTER, forward[-1]), ("limit", str(limit))])
        ids, more, calls = _page(v2, place_cursor(asked, position[forward[-1]]))
        assert ids and calls == 1  # walking N pages forward costs N v2 calls
        forward += ids
        pages += 1
    assert forward == v2.items
    assert pages == max(1, -(-size // limit))
    # Backward: the last page by offset, then ending_before the first id of each page.
    last = parse_window([("offset", str(max(0, size - limit))), ("limit", str(limit))])
    backward = [_page(v2, last)[0]]
    while backward[-1] and position[backward[-1][0]] > 0:
        first = backward[-1][0]
        asked = parse_window([(BEFORE, first), ("limit", str(limit))])
        ids, more, calls = _page(v2, place_cursor(asked, position[first]))
        assert ids and calls <= 2 and more is (position[ids[0]] > 0)
        backward.append(ids)
    assert [item for page in reversed(backward) for item in page] == v2.items

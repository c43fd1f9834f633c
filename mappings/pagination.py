"""Pagination: v1 windows (page/per_page, limit/offset) over v2 page/perPage calls.

v1 clients ask for any window of items; v2 only serves whole pages of one size (at
most 100). :func:`plan_page_window` finds the fewest v2 pages that cover a window:
one call when the window is aligned, one call when some perPage <= 100 holds the
window in a single page, else two. Walking v1 pages therefore costs one v2 call each.

v2 guarantees only a list's ``data``, not its ``meta`` (``homerun-v2.openapi.yaml``).
Without ``meta.total`` the envelope counts what the fetched pages show
(:func:`shown_count`): ``total`` = the items up to the end of the last page fetched,
and ``has_more`` = an item past the window was fetched, or the last page was full (v2
may have more). So a walk of a list without ``meta`` ends at the first page that is not
full, as it would with ``meta``; only ``total`` is then a lower bound until the end.

Cursor paging (contract §4 rev 2, Stripe's ``starting_after`` / ``ending_before``): a
cursor is an id the list served. :func:`parse_window` reads it as a :class:`Cursor` not yet
placed; the shell finds where the id stood (``proxy.cursors``, or the list itself when it
is held whole) and :func:`place_cursor` turns that position into the equivalent offset
window, so a cursor page costs what that offset window costs. As in Stripe:

- ``starting_after=X`` (X at position p): the ``limit`` items from p + 1; ``has_more``:
  items follow the window.
- ``ending_before=X``: the ``limit`` items before p (fewer when p < limit); ``has_more``:
  items precede the window (Stripe's meaning for a backward walk). ``ending_before`` the
  first item is an empty page with ``has_more`` false.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import Any, Final, Literal, TypeVar

from mappings.errors import ParamError, Problems, V1ValidationError
from mappings.ids import is_valid_path_id

V1_DEFAULT_PER_PAGE: Final = 100
V1_MAX_PER_PAGE: Final = 100
V2_MAX_PER_PAGE: Final = 100
MAX_OFFSET: Final = 10_000_000
STARTING_AFTER: Final = "starting_after"
ENDING_BEFORE: Final = "ending_before"
CursorParam = Literal["starting_after", "ending_before"]
CURSOR_PARAMS: Final[tuple[CursorParam, ...]] = (STARTING_AFTER, ENDING_BEFORE)
OFFSET_PARAMS: Final = ("page", "offset")
# Every query parameter that chooses the window rather than the list.
PAGING_PARAMS: Final = frozenset({*OFFSET_PARAMS, "per_page", "limit", *CURSOR_PARAMS})

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Cursor:
    """``starting_after=<id>`` or ``ending_before=<id>``: the object next to which the
    window lies, and where it stands in the list once placed (0-based; None: not yet)."""

    param: CursorParam
    id: str
    position: int | None = None


@dataclass(frozen=True, slots=True)
class Window:
    """A v1 window: items ``offset`` .. ``offset + limit - 1`` (0-based), and the cursor it
    was asked by (None: asked by page/offset)."""

    offset: int
    limit: int
    cursor: Cursor | None = None

    @property
    def page(self) -> int:
        """The 1-based v1 page this window is (or starts in)."""
        return self.offset // self.limit + 1

    @property
    def placed(self) -> bool:
        """Whether the offset is known: always, unless a cursor is still to be placed."""
        return self.cursor is None or self.cursor.position is not None

    @property
    def backward(self) -> bool:
        """Asked by ``ending_before``: ``has_more`` means items before the window."""
        return self.cursor is not None and self.cursor.param == ENDING_BEFORE

    @property
    def empty(self) -> bool:
        """``ending_before`` the first item: nothing precedes it, the page holds no item
        (the window still reads the list's first page, for its ``total``)."""
        return self.backward and self.cursor is not None and self.cursor.position == 0


@dataclass(frozen=True, slots=True)
class PageCall:
    """One v2 list call: ``page`` of size ``per_page``."""

    page: int
    per_page: int

    @property
    def first_index(self) -> int:
        return (self.page - 1) * self.per_page


def _int_param(name: str, raw: str, minimum: int, maximum: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise V1ValidationError([ParamError(name, "must be an integer")]) from None
    if not minimum <= value <= maximum:
        raise V1ValidationError([ParamError(name, f"must be between {minimum} and {maximum}")])
    return value


def parse_window(query: Iterable[tuple[str, str]]) -> Window:
    """v1 query -> window. ``per_page`` (alias ``limit``) 1..100, default 100;
    ``page`` >= 1, default 1; ``offset`` (0-based item offset) wins over ``page``.

    A cursor (``starting_after`` / ``ending_before``) gives a window still to place
    (:func:`place_cursor`). One cursor at a time, and not with ``page`` or ``offset``: a
    400 names the parameter that is one too many. Lenient where harmless: an empty cursor
    value is no cursor (a client's first request often sends ``starting_after=`` with its
    variable still unset), and, as for every parameter, the last of repeated values counts.
    """
    params: dict[str, str] = {}
    for key, value in query:
        if key in PAGING_PARAMS:
            params[key] = value
    problems = Problems()  # every wrong paging parameter is named at once
    limit = V1_DEFAULT_PER_PAGE
    for name in ("per_page", "limit"):
        if name in params:
            read = partial(_int_param, name, params[name], 1, V1_MAX_PER_PAGE)
            limit = problems.check(read, limit)
    cursor = problems.check(lambda: _cursor_of(params), None)
    start = 0
    if cursor is None and "offset" in params:
        start = problems.check(lambda: _int_param("offset", params["offset"], 0, MAX_OFFSET), 0)
    elif cursor is None and "page" in params:
        page = problems.check(lambda: _int_param("page", params["page"], 1, MAX_OFFSET // limit), 1)
        start = (page - 1) * limit
    problems.raise_any()
    return Window(0, limit, cursor) if cursor is not None else Window(start, limit)


def _cursor_of(params: dict[str, str]) -> Cursor | None:
    """The one cursor the query names, checked against the other paging parameters."""
    given = [name for name in CURSOR_PARAMS if params.get(name, "").strip()]
    if not given:
        return None
    param = given[0]
    extra = [*given[1:], *(name for name in OFFSET_PARAMS if name in params)]
    errors = [ParamError(name, f"cannot be combined with {param}") for name in extra]
    errors += [
        ParamError(name, "must be the id of an object of this list")
        for name in given
        if not is_valid_path_id(params[name].strip())
    ]
    if errors:
        raise V1ValidationError(errors)
    return Cursor(param, params[param].strip())


def unplaceable(cursor: Cursor) -> V1ValidationError:
    """The 400 for a cursor id the bridge cannot place in this list."""
    return V1ValidationError(
        [
            ParamError(
                cursor.param,
                f"{cursor.id} is not an object this list served to this key recently; "
                "start again from the first page",
            )
        ]
    )


def place_cursor(window: Window, position: int) -> Window:
    """The offset window a cursor names, its id standing at ``position`` of the list.

    ``starting_after``: the ``limit`` items from ``position + 1``. ``ending_before``: the
    items before ``position``, at most ``limit`` of them; at position 0 the window is the
    list's first page with no item kept (:attr:`Window.empty`).
    """
    assert window.cursor is not None, "only a cursor window is placed"
    cursor = replace(window.cursor, position=position)
    if cursor.param == STARTING_AFTER:
        return Window(position + 1, window.limit, cursor)
    if position == 0:
        return Window(0, window.limit, cursor)
    return Window(max(0, position - window.limit), min(window.limit, position), cursor)


def place_in_list(window: Window, ids: Sequence[str]) -> Window:
    """A cursor window placed by the list itself (a list the bridge holds whole)."""
    if window.placed:
        return window
    assert window.cursor is not None
    try:
        position = list(ids).index(window.cursor.id)
    except ValueError:
        raise unplaceable(window.cursor) from None
    return place_cursor(window, position)


def list_identity(
    route: str, path_params: Iterable[tuple[str, str]], query: Iterable[tuple[str, str]]
) -> str:
    """What makes two requests the same list (and a cursor of one valid in the other):
    the route, its path parameters and the filters, in a canonical order; the paging
    parameters are not part of it."""
    filters = sorted((k, v) for k, v in query if k.partition("[")[0] not in PAGING_PARAMS)
    return json.dumps([route, sorted(path_params), filters], separators=(",", ":"))


def plan_page_window(window: Window) -> tuple[PageCall, ...]:
    """The fewest v2 page calls whose pages, concatenated, contain the window.

    Smallest page size first: it holds the window with the least over-fetch.
    """
    first, last = window.offset, window.offset + window.limit - 1
    for per_page in range(window.limit, V2_MAX_PER_PAGE + 1):
        if first // per_page == last // per_page:
            return (PageCall(first // per_page + 1, per_page),)
    start = first // window.limit + 1
    return (PageCall(start, window.limit), PageCall(start + 1, window.limit))


def slice_window(
    window: Window, calls: Sequence[PageCall], pages: Sequence[Sequence[T]]
) -> list[T]:
    """Cut the window out of the fetched pages (which follow each other)."""
    items: list[T] = []
    for page in pages:
        items.extend(page)
    skip = window.offset - calls[0].first_index
    return items[skip : skip + window.limit]


def shown_count(
    window: Window, calls: Sequence[PageCall], page_lengths: Sequence[int], taken: int
) -> tuple[int, bool]:
    """(total, has_more) from the pages alone, for a v2 list answered without ``meta``.

    ``page_lengths``: how many items each fetched page held; ``taken``: how many of them
    the window kept.
    """
    fetched_end = calls[0].first_index + sum(page_lengths)
    last_full = bool(page_lengths) and page_lengths[-1] >= calls[-1].per_page
    return fetched_end, last_full or fetched_end > window.offset + taken


def envelope(
    window: Window, items: Sequence[Any], total: int, has_more: bool | None = None
) -> dict[str, Any]:
    """The v1 list envelope: ``data``, ``has_more``, ``page``, ``per_page``, ``total``.

    ``has_more`` follows from ``total`` unless given (see :func:`shown_count`). For a
    window asked by ``ending_before`` it says whether items precede it (Stripe), and an
    empty window keeps none of the items read for it. A backward page that found no item
    (the list shrank since the cursor was served) has no first id to walk on from: its
    ``has_more`` is false, so that a client's loop ends instead of failing.
    """
    assert window.placed, "a cursor window is placed before it is answered"
    if window.backward:
        items = [] if window.empty else items
        has_more = window.offset > 0 and len(items) > 0
    return {
        "data": list(items),
        "has_more": window.offset + len(items) < total if has_more is None else has_more,
        "page": window.page,
        "per_page": window.limit,
        "total": total,
    }

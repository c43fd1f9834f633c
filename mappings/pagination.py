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
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from mappings.errors import ParamError, V1ValidationError

V1_DEFAULT_PER_PAGE: Final = 100
V1_MAX_PER_PAGE: Final = 100
V2_MAX_PER_PAGE: Final = 100
MAX_OFFSET: Final = 10_000_000

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Window:
    """A v1 window: items ``offset`` .. ``offset + limit - 1`` (0-based)."""

    offset: int
    limit: int

    @property
    def page(self) -> int:
        """The 1-based v1 page this window is (or starts in)."""
        return self.offset // self.limit + 1


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
    ``page`` >= 1, default 1; ``offset`` (0-based item offset) wins over ``page``."""
    params: dict[str, str] = {}
    for key, value in query:
        if key in ("page", "per_page", "limit", "offset"):
            params[key] = value
    limit = V1_DEFAULT_PER_PAGE
    for name in ("per_page", "limit"):
        if name in params:
            limit = _int_param(name, params[name], 1, V1_MAX_PER_PAGE)
    if "offset" in params:
        return Window(_int_param("offset", params["offset"], 0, MAX_OFFSET), limit)
    page = _int_param("page", params["page"], 1, MAX_OFFSET // limit) if "page" in params else 1
    return Window((page - 1) * limit, limit)


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

    ``has_more`` follows from ``total`` unless given (see :func:`shown_count`).
    """
    return {
        "data": list(items),
        "has_more": window.offset + len(items) < total if has_more is None else has_more,
        "page": window.page,
        "per_page": window.limit,
        "total": total,
    }

"""Laravel's length-aware paginator, reproduced for the `links` and `meta` blocks of lists.

Homerun's list envelope is Laravel's resource-collection output verbatim (spec §5.2), so this
module follows Laravel's `LengthAwarePaginator`, `UrlWindow` (onEachSide = 3) and
`linkCollection()`: page URLs carry only `?page=N`, labels are HTML-escaped literally, long page
ranges are compressed with "..." separators, and a page past the end is an empty page.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, TypeVar

DEFAULT_PER_PAGE = 15
MAX_PER_PAGE = 100
ON_EACH_SIDE = 3
PREVIOUS_LABEL = "&laquo; Previous"
NEXT_LABEL = "Next &raquo;"
SEPARATOR_LABEL = "..."

Item = TypeVar("Item")


def page_slice(items: Sequence[Item], page: int, per_page: int) -> Sequence[Item]:
    start = (page - 1) * per_page
    return items[start : start + per_page]


def last_page_of(total: int, per_page: int) -> int:
    return max(math.ceil(total / per_page), 1)


def page_window(
    current_page: int, last_page: int, on_each_side: int = ON_EACH_SIDE
) -> list[int | None]:
    """Page numbers shown in `meta.links`, None standing for a "..." separator (UrlWindow)."""
    if last_page < on_each_side * 2 + 8:
        return list(range(1, last_page + 1))
    window = on_each_side + 4
    start = [1, 2]
    finish = [last_page - 1, last_page]
    if current_page <= window:
        return [*range(1, window + on_each_side + 1), None, *finish]
    if current_page > last_page - window:
        return [*start, None, *range(last_page - (window + on_each_side - 1), last_page + 1)]
    slider = range(current_page - on_each_side, current_page + on_each_side + 1)
    return [*start, None, *slider, None, *finish]


def pagination_blocks(
    path_url: str, current_page: int, per_page: int, total: int, items_on_page: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The top-level `links` object and the `meta` object of one list response."""
    last_page = last_page_of(total, per_page)

    def url(page: int) -> str:
        return f"{path_url}?page={page}"

    previous_url = url(current_page - 1) if current_page > 1 else None
    next_url = url(current_page + 1) if current_page < last_page else None
    first_item = (current_page - 1) * per_page + 1 if items_on_page else None
    meta_links: list[dict[str, Any]] = [
        {"url": previous_url, "label": PREVIOUS_LABEL, "active": False}
    ]
    for page in page_window(current_page, last_page):
        if page is None:
            meta_links.append({"url": None, "label": SEPARATOR_LABEL, "active": False})
        else:
            meta_links.append(
                {"url": url(page), "label": str(page), "active": page == current_page}
            )
    meta_links.append({"url": next_url, "label": NEXT_LABEL, "active": False})
    links = {"first": url(1), "last": url(last_page), "prev": previous_url, "next": next_url}
    meta = {
        "current_page": current_page,
        "from": first_item,
        "last_page": last_page,
        "links": meta_links,
        "path": path_url,
        "per_page": per_page,
        "to": first_item + items_on_page - 1 if first_item is not None else None,
        "total": total,
    }
    return links, meta

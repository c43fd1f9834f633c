"""Paging the v1 lists (contract §4): the window a request asks for and the page answered.

Every list handler goes through here: ``window_of`` reads ``page``/``per_page``/``offset``
(and their aliases) into an offset window, and ``page_answer`` / ``whole_list_answer``
answer the §4 envelope. Cursor paging (``starting_after`` / ``ending_before``) is placed
here too, so that every list gets it at once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from mappings.pagination import Window, envelope, parse_window
from proxy.state import json_response
from proxy.v1_input import declared_query


async def window_of(request: web.Request) -> Window:
    """The offset window the request's paging parameters name."""
    return parse_window(declared_query(request))


async def page_answer(
    request: web.Request,
    window: Window,
    items: Sequence[dict[str, Any]],
    total: int,
    has_more: bool | None = None,
) -> web.Response:
    """The §4 envelope of one window of v1 items (each with its ``id``)."""
    return json_response(envelope(window, list(items), total, has_more))


async def whole_list_answer(
    request: web.Request, window: Window, items: Sequence[dict[str, Any]]
) -> web.Response:
    """A list the bridge holds whole (notes, files), cut to the v1 window."""
    chosen = list(items[window.offset : window.offset + window.limit])
    return await page_answer(request, window, chosen, len(items))

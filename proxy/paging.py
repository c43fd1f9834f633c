"""Paging the v1 lists (contract §4): the window a request asks for and the page answered.

Every list handler goes through here: ``window_of`` reads ``page``/``per_page``/``offset``
(and their aliases) into an offset window, and ``page_answer`` / ``whole_list_answer``
answer the §4 envelope. Cursor paging (``starting_after`` / ``ending_before``) is placed
here too, so that every list gets it at once: a list read from v2 page by page places the
cursor where ``page_answer`` recorded its id (``proxy.cursors``); a list the bridge holds
whole (notes, files) places it in the list itself, needing no store."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aiohttp import web

from mappings.pagination import Window, envelope, parse_window, place_in_list
from proxy import cursors
from proxy.state import json_response
from proxy.v1_input import declared_query, endpoint_of


async def window_of(request: web.Request) -> Window:
    """The offset window the request's paging parameters name. A cursor is placed here,
    except on a list held whole: ``whole_list_answer`` places it in the list."""
    window = parse_window(declared_query(request))
    if endpoint_of(request).held_whole:
        return window
    return await cursors.place(request, window)


async def page_answer(
    request: web.Request,
    window: Window,
    items: Sequence[dict[str, Any]],
    total: int,
    has_more: bool | None = None,
) -> web.Response:
    """The §4 envelope of one window of v1 items (each with its ``id``), whose positions
    are recorded first, so that the client's next cursor is placed."""
    body = envelope(window, list(items), total, has_more)
    await cursors.remember(request, window, body["data"])
    return json_response(body)


async def whole_list_answer(
    request: web.Request, window: Window, items: Sequence[dict[str, Any]]
) -> web.Response:
    """A list the bridge holds whole (notes, files), cut to the v1 window (a cursor placed
    in the list: no position is recorded or read)."""
    window = place_in_list(window, [str(item["id"]) for item in items])
    chosen = list(items[window.offset : window.offset + window.limit])
    return json_response(envelope(window, chosen, len(items)))

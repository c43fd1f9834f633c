"""Where the ids a list served stood, so that a cursor is placed without walking the list.

Cursor paging (contract §4 rev 2; the pure rules are in ``mappings.pagination``) names an
object, not an offset. v2 pages by number only, so the bridge remembers, for every item
of every page it answers (``proxy.paging.page_answer``), the item's absolute offset in its
list: one store key per id, ``cursor:<key digest>:<list digest>:<id>``, written in one
``set_many`` per page and kept ``cursor_ttl_seconds`` (the paging session; each page that
shows an id again refreshes it, see :class:`RecentPages`). Placing a cursor is then one
store read, and the page costs what the equivalent offset window costs upstream.

The list digest covers the route, its path parameters and the filters (not the paging
parameters), and the key digest the v2 key: a cursor served to another key or by another
filter is not placed (400, like an id never served or expired). v2 orders lists oldest
first and new objects come last, so a remembered position stays right while a walk runs;
only a deletion before the cursor shifts it (the window then starts one item late, as the
equivalent offset window would).

The store being down: a cursor cannot be placed, and that is not the client's fault, so
the answer is a 503 with ``Retry-After`` (not the 400 of an unplaceable id); positions not
recorded for that reason are only logged, the list is answered.
"""

from __future__ import annotations

import functools
import hashlib
import time
import weakref
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Final

import structlog
from aiohttp import web

from mappings.errors import StoreUnavailable
from mappings.pagination import Window, list_identity, place_cursor, unplaceable
from proxy.context import context_of
from proxy.ratelimit import key_id
from proxy.state import BRIDGE
from proxy.store import StoreError
from proxy.v1_input import declared_query, endpoint_of

STORE_DOWN_FOR_CURSOR: Final = (
    "The bridge's shared store is unavailable; the cursor cannot be placed. Retry later"
)
# The store guard probes a store that is down every half second: retrying in a second
# finds it back if it is.
RETRY_AFTER_SECONDS: Final = 1
Pairs = tuple[tuple[str, str], ...]
# A page answered again within this long (or a quarter of the TTL) is not written again.
REFRESH_SECONDS: Final = 60.0
RECENT_PAGES: Final = 4096

log = structlog.get_logger("homerun_bridge.cursors")


def _list_prefix(request: web.Request) -> str:
    """The store key prefix of this key's positions in this list."""
    principal = context_of(request).principal
    assert principal is not None  # lists are answered to authenticated keys only
    path_params = tuple((k, v) for k, v in request.match_info.items() if not k.startswith("_"))
    route = endpoint_of(request).route()
    return _prefix_of(key_id(principal.v2_key), route, path_params, tuple(declared_query(request)))


@functools.lru_cache(maxsize=4096)
def _prefix_of(key: str, route: str, path_params: Pairs, query: Pairs) -> str:
    """The prefix of one list's positions (the same few lists on every page view)."""
    digest = hashlib.sha256(list_identity(route, list(path_params), list(query)).encode())
    return f"cursor:{key}:{digest.hexdigest()[:24]}:"


async def place(request: web.Request, window: Window) -> Window:
    """The offset window of a cursor window, from where its id stood when it was served."""
    if window.placed:
        return window
    assert window.cursor is not None
    try:
        raw = await request.app[BRIDGE].store.get(_list_prefix(request) + window.cursor.id)
    except StoreError:
        raise StoreUnavailable(
            STORE_DOWN_FOR_CURSOR, headers={"Retry-After": str(RETRY_AFTER_SECONDS)}
        ) from None
    if raw is None or not raw.isdigit():
        raise unplaceable(window.cursor)
    return place_cursor(window, int(raw))


class RecentPages:
    """The pages this process recorded lately, so that a page answered again soon (a
    careers site lists its jobs on every page view) writes nothing: its positions are in
    the store already. Without it every answer would write a page of keys, which costs a
    Redis round trip of 100 commands (measured: several milliseconds) and, in the memory
    store, an expiry entry per key per answer kept until the TTL ends.

    A page counts as recorded for ``min(REFRESH_SECONDS, ttl / 4)``: positions therefore
    live at least ``cursor_ttl_seconds`` minus that after the last answer that showed them.
    Bounded (least recently recorded dropped first); one per store, so apps never share it.
    A store that lost its keys meanwhile (Redis restarted empty) has a hot page's positions
    again once that time has passed and the page is answered again.
    """

    def __init__(self) -> None:
        self._pages: OrderedDict[int, float] = OrderedDict()

    def fresh(self, page: int, refresh_seconds: float) -> bool:
        recorded = self._pages.get(page)
        return recorded is not None and time.monotonic() - recorded < refresh_seconds

    def recorded(self, page: int) -> None:
        self._pages[page] = time.monotonic()
        self._pages.move_to_end(page)
        while len(self._pages) > RECENT_PAGES:
            self._pages.popitem(last=False)


_RECENT: Final[weakref.WeakKeyDictionary[object, RecentPages]] = weakref.WeakKeyDictionary()


def _recent(store: object) -> RecentPages:
    recent = _RECENT.get(store)
    if recent is None:
        recent = _RECENT[store] = RecentPages()
    return recent


async def remember(request: web.Request, window: Window, items: Sequence[dict[str, Any]]) -> None:
    """Record where each item of the answered window stands (unless this very page was
    recorded moments ago); a store fault loses only the positions (logged), never the
    answer."""
    ids = [(i, str(item["id"])) for i, item in enumerate(items) if item.get("id") is not None]
    if not ids:
        return
    prefix = _list_prefix(request)
    bridge = request.app[BRIDGE]
    ttl = bridge.settings.cursor_ttl_seconds
    # The page as one hash (of its list, place and ids): a page answered again soon is
    # found without building its keys (a collision among 4096 pages is out of reach).
    recent, page = _recent(bridge.store), hash((prefix, window.offset, *ids))
    if recent.fresh(page, min(REFRESH_SECONDS, ttl / 4)):
        return
    positions = {prefix + item_id: str(window.offset + index).encode() for index, item_id in ids}
    try:
        await bridge.store.set_many(positions, ttl)
    except StoreError as exc:
        log.warning(
            "cursor.positions_not_kept",
            request_id=context_of(request).request_id,
            route=context_of(request).route,
            items=len(positions),
            error=str(exc),
        )
        return
    recent.recorded(page)

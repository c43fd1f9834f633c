"""The read cache's stored entries (``proxy.cache.Cached``) carry their expiry, read back
as written; an entry without one (written by an older bridge) still serves, but nothing
made from it is kept rendered (``RequestContext.only_held_reads``)."""

from __future__ import annotations

from proxy.cache import Cached
from proxy.context import RequestContext


def test_an_entry_reads_back_with_its_expiry() -> None:
    raw = Cached(200, b'{"data": []}\nsecond line', 1764590000.25).dump()
    entry = Cached.load(raw)
    assert (entry.status, entry.body, entry.kept_until) == (
        200,
        b'{"data": []}\nsecond line',
        1764590000.25,
    )


def test_an_entry_without_expiry_serves_but_is_not_held() -> None:
    entry = Cached.load(b'200\n{"data": []}')
    assert (entry.status, entry.body, entry.kept_until) == (200, b'{"data": []}', None)
    ctx = RequestContext("rid")
    ctx.made_from(1764590000.0)
    ctx.made_from(entry.kept_until)
    assert not ctx.only_held_reads


def test_held_reads_bound_the_answer_by_the_earliest_expiry() -> None:
    ctx = RequestContext("rid")
    assert not ctx.only_held_reads  # no v2 answer at all: nothing to keep
    for until in (30.0, 10.0, 20.0):
        ctx.made_from(until)
    assert ctx.only_held_reads
    assert ctx.held_until == 10.0

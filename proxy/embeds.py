"""The embed cache: vacancies read within the cache TTL, kept to embed as whole jobs.

Two uses. The answers to writes embed the application's job from here (a burst of
creates on one job then costs one v2 call each, not two). And the reads of applications
(``GET /v1/applications``, ``GET /v1/applications/{id}``) embed the whole job, the object
``GET /v1/jobs/{id}`` answers, whenever the bridge holds that vacancy within the cache
TTL (contract §6 rev 2); v2's ``include[]=vacancy`` lacks location, department and
candidate count. What a read of applications costs for this:

- every vacancy of the page held here: nothing upstream (one store read per vacancy);
- not held, on a detail read (``GET /v1/applications/{id}``) of a key whose last list
  took more than one page: that vacancy's read, one call (through the read cache, so
  shared with ``GET /v1/jobs/{id}``), rather than the list's pages;
- else, some not held: the key's whole vacancy list, 100 a page (``GET /vacancies`` through
  the read cache and its coalescing: a cached page costs no call, concurrent pages share
  one), kept here, and marked as read. While the mark lasts (the cache TTL) a vacancy
  that is still not held was not in the list (deleted, or created since): it is embedded
  as v2 embeds it, and the list is not read again. So walking N pages of applications
  costs at most N calls plus one per 100 jobs, once per TTL.
- the cache off (``cache_ttl_seconds`` 0): the bridge holds no vacancy; the job is v2's
  embed (location, department and count null), at no call of its own.
- the store down, or the list read failing: the job is v2's embed; the read never fails
  for its embed (logged at debug).

Entries and the mark carry the key's cache generation (``ReadEconomy.generation``) of
when their vacancies were read: a write through any replica bumps it, so the reads of
applications hold nothing of before the write and embed what ``GET /v1/jobs/{id}``
answers next (the new candidate count). That costs, after each write, one list read
(or, for a detail read on a key of more than 100 jobs, one vacancy read), then nothing
more for the TTL. The answers to writes take an entry of any generation: the job as the
bridge held it when the write was sent (its count may be that of before the write), so a
create still costs one v2 call.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from typing import Final

import structlog
from aiohttp import web
from pydantic import ValidationError

from mappings import jobs
from mappings.errors import AccessDenied, V1Error
from mappings.v2_models import (
    OneVacancy,
    Vacancy,
    VacancyPage,
)
from proxy.cache import decoded_hit
from proxy.calls import fetch
from proxy.context import context_of
from proxy.ratelimit import key_id
from proxy.state import BRIDGE
from proxy.store import StoreError

# At most this many pages (100 jobs each) of the vacancy list per TTL: past 2,000 jobs the
# jobs not held are embedded as v2 embeds them rather than spend more of the budget.
MAX_LIST_PAGES: Final = 20

log = structlog.get_logger("homerun_bridge.embeds")


def _key_of(request: web.Request) -> str:
    principal = context_of(request).principal
    assert principal is not None
    return key_id(principal.v2_key)


def _embed_key(request: web.Request, vacancy_id: str) -> str:
    return f"embed:{_key_of(request)}:{vacancy_id}"


def _listed_key(request: web.Request) -> str:
    """Holds the generation whose whole vacancy list is held (a vacancy not held of that
    generation was not in it) and how many pages the list took."""
    return f"embed-listed:{_key_of(request)}"


async def _generation(request: web.Request) -> bytes:
    """The key's cache generation, which entries carry (raises StoreError when the store
    cannot say it: nothing is then held or kept)."""
    principal = context_of(request).principal
    assert principal is not None
    generation = await request.app[BRIDGE].upstream.economy.generation(principal.v2_key)
    if generation is None:
        raise StoreError("the key's cache generation is unavailable")
    return generation.encode()


async def _keep(
    request: web.Request, vacancies: Sequence[Vacancy], generation: bytes, *, listed: int = 0
) -> None:
    """Keep vacancies read from upstream under ``generation`` (read before they were) for
    the cache TTL (and, ``listed`` pages, mark the whole list as held). A store that cannot
    keep them costs only later reads."""
    bridge = request.app[BRIDGE]
    head = generation + b"\n"
    items = {_embed_key(request, v.id): head + v.model_dump_json().encode() for v in vacancies}
    if listed:
        items[_listed_key(request)] = generation + b"\n" + str(listed).encode()
    if items:
        with contextlib.suppress(StoreError):
            await bridge.store.set_many(items, bridge.settings.cache_ttl_seconds)


async def remember_vacancies(request: web.Request, vacancies: Sequence[Vacancy]) -> None:
    """Vacancies just read from upstream serve as jobs to embed in later answers."""
    bridge, ctx = request.app[BRIDGE], context_of(request)
    if not bridge.settings.cache_ttl_seconds or ctx.cache_hit or not vacancies:
        return
    with contextlib.suppress(StoreError):
        await _keep(request, vacancies, await _generation(request))


async def _held(request: web.Request, vacancy_id: str, generation: bytes | None) -> Vacancy | None:
    """The vacancy as the embed cache holds it under ``generation`` (None: any), raising
    StoreError when the store is down."""
    cached = await request.app[BRIDGE].store.get(_embed_key(request, vacancy_id))
    if cached is None:
        return None
    kept_under, _, body = cached.partition(b"\n")
    if generation is not None and kept_under != generation:
        return None  # read before a write of the key
    try:
        return decoded_hit(Vacancy, body, lambda: Vacancy.model_validate_json(body))
    except ValidationError:
        return None  # not what this version keeps: read it again


async def vacancy_or_none(
    request: web.Request, vacancy_id: str | None, missing: list[str] | None = None
) -> Vacancy | None:
    """The job to embed in the answer to a write.

    The write already happened: a failure here must not turn its success into an error,
    so the job is then shown by id only (and the failed read is added to ``missing``).
    The vacancy comes from the embed cache when it was read within the cache TTL, of any
    generation (also of before this write): the only field a write changes there is the
    candidate count, so a burst of creates on one job costs one v2 call each, not two.
    The reads that follow take only entries of the new generation (the new count).
    """
    if vacancy_id is None:
        return None
    bridge, ctx = request.app[BRIDGE], context_of(request)
    try:
        if bridge.settings.cache_ttl_seconds:
            held = await _held(request, vacancy_id, None)
            if held is not None:
                ctx.cache_hit = True
                return held
        vacancy = (await fetch(request, jobs.get_vacancy_request(vacancy_id), OneVacancy)).data
        await remember_vacancies(request, [vacancy])
    except (V1Error, StoreError, ValidationError):
        if missing is not None:
            missing.append("vacancy (follow-up read)")
        return None
    return vacancy


async def vacancies_to_embed(
    request: web.Request, vacancy_ids: Sequence[str], *, detail: bool = False
) -> dict[str, Vacancy]:
    """The whole vacancies, by id, to embed as the jobs of applications just read.

    Those the embed cache holds; when some are not held and the key's list was not read
    within the TTL, the list is read, or (``detail``, one application's read, on a key
    whose list takes pages) its one vacancy: see the module's text for the cost. The ids
    left out are embedded as v2 embeds them: this never fails the read it serves.
    """
    if not request.app[BRIDGE].settings.cache_ttl_seconds or not vacancy_ids:
        return {}
    store = request.app[BRIDGE].store
    try:
        generation = await _generation(request)
        if len(vacancy_ids) == 1:  # a detail read: no task to spawn for one store read
            found = [await _held(request, vacancy_ids[0], generation)]
        else:
            found = await asyncio.gather(*(_held(request, v, generation) for v in vacancy_ids))
        held = {v.id: v for v in found if v is not None}
        wanted = set(vacancy_ids) - held.keys()
        if not wanted:
            return held
        listed_under, _, pages = (await store.get(_listed_key(request)) or b"").partition(b"\n")
        if listed_under == generation:
            return held
    except StoreError as exc:
        log.debug(
            "embed.store_unavailable", request_id=context_of(request).request_id, error=str(exc)
        )
        return {}
    if detail and pages not in (b"", b"1"):  # the list took pages: one call, not those
        one, listed = await _read_one(request, vacancy_ids[0], generation)
        if one is not None:
            held[one.id] = one
        if one is not None or listed:
            return held
    found_now = await _read_whole_list(request, generation)
    held.update((v.id, v) for v in found_now if v.id in wanted)
    return held


async def _read_one(
    request: web.Request, vacancy_id: str, generation: bytes
) -> tuple[Vacancy | None, bool]:
    """One vacancy (``GET /vacancies/{id}``, through the read cache: shared with
    ``GET /v1/jobs/{id}``), kept under ``generation``; and whether the list is marked
    held without it (a key that may not read vacancies). After a write, the first read
    of an application thus costs one call whatever the number of the key's jobs. None
    when v2 gives no such vacancy: the list then tells (and marks it, once per TTL)."""
    try:
        answer = await fetch(request, jobs.get_vacancy_request(vacancy_id), OneVacancy)
    except V1Error as exc:
        log.debug(
            "embed.vacancy_read_failed",
            request_id=context_of(request).request_id,
            status=int(exc.status),
            error=str(exc),
        )
        if isinstance(exc, AccessDenied):
            await _keep(request, (), generation, listed=1)
            return None, True
        return None, False
    await _keep(request, [answer.data], generation)
    return answer.data, False


async def _read_whole_list(request: web.Request, generation: bytes) -> list[Vacancy]:
    """The key's vacancies, 100 a page (at most ``MAX_LIST_PAGES``), kept as they come.

    A page this request read from upstream is kept; one that came from the read cache or
    another request's call was kept by whoever called. The list is marked as held only
    when every page came fresh from upstream now, so the mark never outlives a vacancy it
    vouches for; a key that may not read vacancies is marked too (nothing to hold), so
    its pages do not ask again within the TTL. All is kept under ``generation``, read
    before the list was: a write meanwhile leaves it behind. A failed page ends the list
    early: what was read is still used.
    """
    ctx = context_of(request)
    found: list[Vacancy] = []
    all_fresh = True
    for page in range(1, MAX_LIST_PAGES + 1):
        calls_before = ctx.upstream_calls
        try:
            answer = await fetch(request, jobs.whole_list_request(page), VacancyPage)
        except V1Error as exc:
            log.debug(
                "embed.vacancy_list_failed",
                request_id=ctx.request_id,
                page=page,
                status=int(exc.status),
                error=str(exc),
            )
            if isinstance(exc, AccessDenied):
                await _keep(request, (), generation, listed=1)
            return found
        fresh = ctx.upstream_calls > calls_before
        all_fresh = all_fresh and fresh
        found.extend(answer.data)
        more = jobs.whole_list_continues(page, len(answer.data), answer.meta)
        last = not more or page == MAX_LIST_PAGES
        if fresh:
            await _keep(request, answer.data, generation, listed=page if all_fresh and last else 0)
        if last:
            if more:
                log.debug("embed.vacancy_list_cut", request_id=ctx.request_id, pages=page)
            break
    return found

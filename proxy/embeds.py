"""The embed cache: vacancies read within the cache TTL, kept to embed as whole jobs.

Two uses. The answers to writes embed the application's job from here (a burst of
creates on one job then costs one v2 call each, not two). And the reads of applications
(``GET /v1/applications``, ``GET /v1/applications/{id}``) embed the whole job, the object
``GET /v1/jobs/{id}`` answers, whenever the bridge holds that vacancy within the cache
TTL (contract §6 rev 2); v2's ``include[]=vacancy`` lacks location, department and
candidate count. What a read of applications costs for this:

- every vacancy of the page held here: nothing upstream (one store read per vacancy);
- some not held: the key's whole vacancy list, 100 a page (``GET /vacancies`` through
  the read cache and its coalescing: a cached page costs no call, concurrent pages share
  one), kept here, and marked as read. While the mark lasts (the cache TTL) a vacancy
  that is still not held was not in the list (deleted, or created since): it is embedded
  as v2 embeds it, and the list is not read again. So walking N pages of applications
  costs at most N calls plus one per 100 jobs, once per TTL.
- the cache off (``cache_ttl_seconds`` 0): the bridge holds no vacancy; the job is v2's
  embed (location, department and count null), at no call of its own.
- the store down, or the list read failing: the job is v2's embed; the read never fails
  for its embed (logged at debug).
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
    """Set while the key's whole vacancy list is held: a vacancy not held was not in it."""
    return f"embed-listed:{_key_of(request)}"


async def _keep(request: web.Request, vacancies: Sequence[Vacancy], *, listed: bool) -> None:
    """Keep vacancies just read from upstream for the cache TTL (and, ``listed``, mark the
    whole list as held). A store that cannot keep them costs only later reads."""
    bridge = request.app[BRIDGE]
    items = {_embed_key(request, v.id): v.model_dump_json().encode() for v in vacancies}
    if listed:
        items[_listed_key(request)] = b"1"
    if items:
        with contextlib.suppress(StoreError):
            await bridge.store.set_many(items, bridge.settings.cache_ttl_seconds)


async def remember_vacancies(request: web.Request, vacancies: Sequence[Vacancy]) -> None:
    """Vacancies just read from upstream serve as jobs to embed in later answers."""
    bridge, ctx = request.app[BRIDGE], context_of(request)
    if not bridge.settings.cache_ttl_seconds or ctx.cache_hit or not vacancies:
        return
    await _keep(request, vacancies, listed=False)


async def _held(request: web.Request, vacancy_id: str) -> Vacancy | None:
    """The vacancy as the embed cache holds it (raises StoreError when the store is down)."""
    cached = await request.app[BRIDGE].store.get(_embed_key(request, vacancy_id))
    if cached is None:
        return None
    try:
        return decoded_hit(Vacancy, cached, lambda: Vacancy.model_validate_json(cached))
    except ValidationError:
        return None  # not what this version keeps: read it again


async def vacancy_or_none(
    request: web.Request, vacancy_id: str | None, missing: list[str] | None = None
) -> Vacancy | None:
    """The job to embed in the answer to a write.

    The write already happened: a failure here must not turn its success into an error,
    so the job is then shown by id only (and the failed read is added to ``missing``).
    The vacancy comes from the embed cache when it was read within the cache TTL: writes
    do not refresh that cache, because the only field a write changes there is the
    candidate count, so a burst of creates on one job costs one v2 call each, not two.
    """
    if vacancy_id is None:
        return None
    bridge, ctx = request.app[BRIDGE], context_of(request)
    try:
        if bridge.settings.cache_ttl_seconds:
            held = await _held(request, vacancy_id)
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
    request: web.Request, vacancy_ids: Sequence[str]
) -> dict[str, Vacancy]:
    """The whole vacancies, by id, to embed as the jobs of applications just read.

    Those the embed cache holds; when some are not held and the key's list was not read
    within the TTL, the list is read (see the module's text for the cost). The ids left
    out are embedded as v2 embeds them: this never fails the read it serves.
    """
    if not request.app[BRIDGE].settings.cache_ttl_seconds or not vacancy_ids:
        return {}
    try:
        if len(vacancy_ids) == 1:  # a detail read: no task to spawn for one store read
            found = [await _held(request, vacancy_ids[0])]
        else:
            found = await asyncio.gather(*(_held(request, v) for v in vacancy_ids))
        held = {v.id: v for v in found if v is not None}
        wanted = set(vacancy_ids) - held.keys()
        if not wanted or await request.app[BRIDGE].store.get(_listed_key(request)):
            return held
    except StoreError as exc:
        log.debug(
            "embed.store_unavailable", request_id=context_of(request).request_id, error=str(exc)
        )
        return {}
    held.update((v.id, v) for v in await _read_whole_list(request) if v.id in wanted)
    return held


async def _read_whole_list(request: web.Request) -> list[Vacancy]:
    """The key's vacancies, 100 a page (at most ``MAX_LIST_PAGES``), kept as they come.

    A page this request read from upstream is kept; one that came from the read cache or
    another request's call was kept by whoever called. The list is marked as held only
    when every page came fresh from upstream now, so the mark never outlives a vacancy it
    vouches for; a key that may not read vacancies is marked too (nothing to hold), so
    its pages do not ask again within the TTL. A failed page ends the list early: what
    was read is still used.
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
                await _keep(request, (), listed=True)
            return found
        fresh = ctx.upstream_calls > calls_before
        all_fresh = all_fresh and fresh
        found.extend(answer.data)
        more = jobs.whole_list_continues(page, len(answer.data), answer.meta)
        last = not more or page == MAX_LIST_PAGES
        if fresh:
            await _keep(request, answer.data, listed=all_fresh and last)
        if last:
            if more:
                log.debug("embed.vacancy_list_cut", request_id=ctx.request_id, pages=page)
            break
    return found

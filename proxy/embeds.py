"""The embed cache: vacancies read within the cache TTL, kept to embed as jobs in the
answers to writes (a burst of creates on one job then costs one v2 call each, not two)."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

from aiohttp import web
from pydantic import ValidationError

from mappings import jobs
from mappings.errors import V1Error
from mappings.v2_models import (
    OneVacancy,
    Vacancy,
)
from proxy.cache import decoded_hit
from proxy.calls import fetch
from proxy.context import context_of
from proxy.ratelimit import key_id
from proxy.state import BRIDGE
from proxy.store import StoreError


def _embed_key(request: web.Request, vacancy_id: str) -> str:
    principal = context_of(request).principal
    assert principal is not None
    return f"embed:{key_id(principal.v2_key)}:{vacancy_id}"


async def remember_vacancies(request: web.Request, vacancies: Sequence[Vacancy]) -> None:
    """Vacancies just read from upstream serve as jobs to embed in later write answers."""
    bridge, ctx = request.app[BRIDGE], context_of(request)
    if not bridge.settings.cache_ttl_seconds or ctx.cache_hit or not vacancies:
        return
    items = {_embed_key(request, v.id): v.model_dump_json().encode() for v in vacancies}
    with contextlib.suppress(StoreError):
        await bridge.store.set_many(items, bridge.settings.cache_ttl_seconds)


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
            cached = await bridge.store.get(_embed_key(request, vacancy_id))
            if cached is not None:
                ctx.cache_hit = True
                return decoded_hit(Vacancy, cached, lambda: Vacancy.model_validate_json(cached))
        vacancy = (await fetch(request, jobs.get_vacancy_request(vacancy_id), OneVacancy)).data
        await remember_vacancies(request, [vacancy])
    except (V1Error, StoreError, ValidationError):
        if missing is not None:
            missing.append("vacancy (follow-up read)")
        return None
    return vacancy

"""The v1 face: one short handler per endpoint of the contract's table (§7).

Each handler reads like the data flow: parse and check the v1 request, plan the v2
calls with ``mappings``, perform them, translate the answers, respond.

Writes (contract §3): once v2 answered 2xx, the answer is the success status with what
could be read (``mappings.write_answers``); an unreadable answer, a follow-up read or a
store call that fails afterwards is logged as ``write_answer_degraded``, never an error.
The shared store being down turns into another answer where one exists (a candidate id
is read as its application's), else a v1 503.
"""

from __future__ import annotations

import contextlib
import inspect
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final, TypeVar

import structlog
from aiohttp import web
from pydantic import BaseModel, ValidationError

from mappings import applications, candidates, files, jobs, notes
from mappings.errors import ParamError, V1Error, V1ValidationError
from mappings.forms import expand_values
from mappings.ids import application_id_for_candidate, is_valid_path_id, new_draft_candidate_id
from mappings.memo import SizedMemo
from mappings.pagination import (
    PageCall,
    Window,
    envelope,
    parse_window,
    plan_page_window,
    shown_count,
    slice_window,
)
from mappings.plan import V2Request
from mappings.v1_endpoints import ENDPOINTS, V1Endpoint, endpoint_for, methods_of
from mappings.v1_requests import check_request
from mappings.v2_models import (
    ApplicationPage,
    File,
    JobApplication,
    Note,
    OneApplication,
    OneVacancy,
    Page,
    Vacancy,
    VacancyPage,
)
from mappings.write_answers import WriteAnswer, read_write_answer
from proxy.app import BRIDGE, Bridge, Handler, json_response
from proxy.body import read_v1_body
from proxy.context import context_of
from proxy.ratelimit import key_id
from proxy.store import StoreError
from proxy.uploads import open_upload
from proxy.upstream import decode, error_for, gather_all

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

UPDATE_METHODS: Final = ("PUT", "POST", "PATCH")
STORE_DOWN_FOR_CANDIDATE: Final = (
    "The bridge's shared store is unavailable; this candidate may be a draft. Retry later"
)
STORE_DOWN: Final = "The bridge's shared store is unavailable; retry later"

log = structlog.get_logger("homerun_bridge.writes")


# --- the shared steps -------------------------------------------------------------


def _path_id(request: web.Request, name: str, what: str) -> str:
    value = request.match_info[name]
    if not is_valid_path_id(value):
        raise V1Error(HTTPStatus.NOT_FOUND, f"No such {what}")
    return value


def _endpoint(request: web.Request) -> type[V1Endpoint]:
    method = "GET" if request.method == "HEAD" else request.method
    entry = endpoint_for(f"{method} {context_of(request).route}")
    assert entry is not None  # every registered route is a row of the table
    return entry


def _query(request: web.Request) -> list[tuple[str, str]]:
    """The query parameters the table declares for this endpoint; the rest go unread."""
    return _endpoint(request).reads(request.query.items())


# The models of bodies served from a cache (vacancy reads, and the vacancies embedded
# in write answers: the same few bodies over and over), so that a hit is not validated
# again. The models are frozen, so sharing them changes no answer; a body that does not
# validate is not kept (it raises as before). Bounded by the body bytes kept.
_decoded_hits: Final = SizedMemo[tuple[type[BaseModel], bytes], BaseModel](max_size=1_000_000)


def _decoded_hit(model: type[M], body: bytes, parse: Callable[[], M]) -> M:
    return _decoded_hits.get((model, body), len(body), parse)  # type: ignore[return-value]


async def _read_body(request: web.Request) -> dict[str, Any]:
    """The decoded body, checked against the endpoint's v1 request model (every problem
    named at once, before anything is planned)."""
    timeout = request.app[BRIDGE].settings.client_body_timeout_seconds
    body = await read_v1_body(request, timeout)
    check_request(_endpoint(request).request, body)
    return body


async def _fetch(
    request: web.Request,
    call: V2Request,
    model: type[M],
    *,
    not_found: str = "Not found",
    **send: Any,
) -> M:
    """Perform one planned call; a v2 error becomes the v1 error it means."""
    bridge, ctx = request.app[BRIDGE], context_of(request)
    assert ctx.principal is not None
    fresh = "no-cache" in request.headers.get("Cache-Control", "").lower()
    response = await bridge.upstream.send(ctx, ctx.principal.v2_key, call, fresh=fresh, **send)
    if 200 <= response.status < 300:
        if response.cached:
            return _decoded_hit(model, response.body, lambda: decode(model, response))
        return decode(model, response)
    raise error_for(response, call, not_found)


async def _write(
    request: web.Request,
    call: V2Request,
    model: type[M],
    sent: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
    *,
    known_id: str | None = None,
    not_found: str = "Not found",
    **send: Any,
) -> WriteAnswer[M]:
    """Perform one write; a 2xx is read leniently (it happened), an error is as ``_fetch``.

    ``sent``: what the write stored, in the answer's shape (a callable when it is known
    only once the body was sent); it stands in for members the answer leaves out.
    """
    bridge, ctx = request.app[BRIDGE], context_of(request)
    assert ctx.principal is not None
    response = await bridge.upstream.send(ctx, ctx.principal.v2_key, call, **send)
    if 200 <= response.status < 300:
        stored = sent() if callable(sent) else sent
        return read_write_answer(response.body, model, stored, known_id=known_id)
    raise error_for(response, call, not_found)


def _log_degraded(request: web.Request, missing: Sequence[str]) -> None:
    """A confirmed write answered with less than the whole object: say what was missing."""
    if not missing:
        return
    ctx = context_of(request)
    route = f"{request.method} {ctx.route}"
    request.app[BRIDGE].metrics.write_answers_degraded.labels(route).inc()
    log.warning(
        "write_answer_degraded",
        request_id=ctx.request_id,
        key_label=ctx.label,
        route=route,
        missing=list(dict.fromkeys(missing)),
    )


async def _fetch_window(
    request: web.Request,
    window: Window,
    plan_call: Callable[[PageCall], V2Request],
    model: type[Page[T]],
) -> tuple[list[T], int, bool | None]:
    """The window's items, the list's total and (when v2 gave no total) whether more
    follow, with the fewest v2 page calls (concurrent when two)."""
    calls = plan_page_window(window)
    pages: list[Page[T]]
    if len(calls) == 1:  # most windows: no task to spawn for a single call
        pages = [await _fetch(request, plan_call(calls[0]), model)]
    else:
        pages = await gather_all(*(_fetch(request, plan_call(call), model) for call in calls))
    items = slice_window(window, calls, [page.data for page in pages])
    for page in pages:
        if page.meta is not None and page.meta.total is not None:
            return items, page.meta.total, None
    # v2 guarantees no meta: count what the pages show (mappings.pagination).
    total, has_more = shown_count(window, calls, [len(page.data) for page in pages], len(items))
    return items, total, has_more


def _embed_key(request: web.Request, vacancy_id: str) -> str:
    principal = context_of(request).principal
    assert principal is not None
    return f"embed:{key_id(principal.v2_key)}:{vacancy_id}"


async def _remember_vacancies(request: web.Request, vacancies: Sequence[Vacancy]) -> None:
    """Vacancies just read from upstream serve as jobs to embed in later write answers."""
    bridge, ctx = request.app[BRIDGE], context_of(request)
    if not bridge.settings.cache_ttl_seconds or ctx.cache_hit or not vacancies:
        return
    items = {_embed_key(request, v.id): v.model_dump_json().encode() for v in vacancies}
    with contextlib.suppress(StoreError):
        await bridge.store.set_many(items, bridge.settings.cache_ttl_seconds)


async def _vacancy_or_none(
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
                return _decoded_hit(Vacancy, cached, lambda: Vacancy.model_validate_json(cached))
        vacancy = (await _fetch(request, jobs.get_vacancy_request(vacancy_id), OneVacancy)).data
        await _remember_vacancies(request, [vacancy])
    except (V1Error, StoreError, ValidationError):
        if missing is not None:
            missing.append("vacancy (follow-up read)")
        return None
    return vacancy


def _now() -> int:
    return int(time.time())


def _listed(window: Window, items: Sequence[Any]) -> web.Response:
    """A list the bridge holds whole (notes, files), cut to the v1 window."""
    chosen = list(items[window.offset : window.offset + window.limit])
    return json_response(envelope(window, chosen, len(items)))


# --- jobs ---------------------------------------------------------------------------


async def list_jobs(request: web.Request) -> web.Response:
    query = _query(request)
    window = parse_window(query)
    status = jobs.v2_status_filter(query)
    vacancies, total, has_more = await _fetch_window(
        request, window, lambda call: jobs.list_vacancies_request(call, status), VacancyPage
    )
    await _remember_vacancies(request, vacancies)
    found = [jobs.vacancy_to_job(v) for v in vacancies]
    return json_response(envelope(window, found, total, has_more))


async def get_job(request: web.Request) -> web.Response:
    job_id = _path_id(request, "id", "job")
    found = await _fetch(
        request, jobs.get_vacancy_request(job_id), OneVacancy, not_found=f"No such job: {job_id}"
    )
    await _remember_vacancies(request, [found.data])
    return json_response(jobs.vacancy_to_job(found.data))


# --- candidates -----------------------------------------------------------------------


async def _list_applications_as(
    request: web.Request,
    filters: applications.ApplicationFilters,
    *,
    embed: bool,
    to_v1: Callable[[Sequence[JobApplication]], list[dict[str, Any]]],
) -> web.Response:
    """A v1 window over v2's job applications, shown as ``to_v1`` makes them."""
    window = parse_window(_query(request))
    found, total, has_more = await _fetch_window(
        request,
        window,
        lambda call: applications.list_applications_request(call, filters, embed=embed),
        ApplicationPage,
    )
    return json_response(envelope(window, to_v1(found), total, has_more))


async def list_candidates(request: web.Request) -> web.Response:
    return await _list_applications_as(
        request,
        applications.ApplicationFilters(),
        embed=False,
        to_v1=lambda found: [candidates.application_to_candidate(a) for a in found],
    )


async def _draft_lookup(bridge: Bridge, candidate_id: str) -> tuple[dict[str, Any] | None, bool]:
    """The stored draft (or ``None``), and whether the store could not be asked: then the
    candidate may be a draft, or the person on its derived application."""
    try:
        return await bridge.drafts.get(candidate_id), False
    except StoreError:
        return None, True


async def _unless_draft_unknown(step: Awaitable[T], store_down: bool) -> T:
    """A 404 for a candidate id means "no such candidate" only when the store answered."""
    try:
        return await step
    except V1Error as exc:
        if store_down and exc.status == HTTPStatus.NOT_FOUND:
            raise V1Error(HTTPStatus.SERVICE_UNAVAILABLE, STORE_DOWN_FOR_CANDIDATE) from exc
        raise


async def get_candidate(request: web.Request) -> web.Response:
    candidate_id = _path_id(request, "id", "candidate")
    draft, store_down = await _draft_lookup(request.app[BRIDGE], candidate_id)
    if draft is not None:
        return json_response(draft)
    application = await _unless_draft_unknown(
        _application_of_candidate(request, candidate_id, with_vacancy=False), store_down
    )
    return json_response(candidates.application_to_candidate(application))


async def create_candidate(request: web.Request) -> web.Response:
    body = await _read_body(request)
    draft = candidates.draft_candidate(body, new_draft_candidate_id(), _now())
    try:
        await request.app[BRIDGE].drafts.put(draft)
    except StoreError:
        raise V1Error(HTTPStatus.SERVICE_UNAVAILABLE, STORE_DOWN) from None
    return json_response(draft, HTTPStatus.CREATED)


async def _application_id_of_candidate(bridge: Bridge, candidate_id: str) -> tuple[str, bool]:
    """The application a candidate id names, and whether the store could not be asked."""
    draft, store_down = await _draft_lookup(bridge, candidate_id)
    if draft is not None:
        if not draft["applications"]:
            raise V1Error(
                HTTPStatus.NOT_FOUND,
                f"Candidate {candidate_id} has no application yet; create one first",
            )
        return str(draft["applications"][0]), False
    application_id = application_id_for_candidate(candidate_id)
    if application_id is None:
        if store_down:
            raise V1Error(HTTPStatus.SERVICE_UNAVAILABLE, STORE_DOWN_FOR_CANDIDATE)
        raise V1Error(HTTPStatus.NOT_FOUND, f"No such candidate: {candidate_id}")
    return application_id, store_down


async def _application_of_candidate(
    request: web.Request, candidate_id: str, *, with_vacancy: bool
) -> JobApplication:
    application_id, store_down = await _application_id_of_candidate(
        request.app[BRIDGE], candidate_id
    )
    found = await _unless_draft_unknown(
        _fetch(
            request,
            applications.get_application_request(application_id, with_vacancy=with_vacancy),
            OneApplication,
            not_found=f"No such candidate: {candidate_id}",
        ),
        store_down,
    )
    return found.data


# --- applications -----------------------------------------------------------------------


async def list_applications(request: web.Request) -> web.Response:
    return await _list_applications_as(
        request,
        applications.application_filters(_query(request)),
        embed=True,
        to_v1=applications.applications_page_to_v1,
    )


async def get_application(request: web.Request) -> web.Response:
    application_id = _path_id(request, "id", "application")
    with_notes = "notes" in expand_values(_query(request))
    found = await _fetch(
        request,
        applications.get_application_request(application_id, with_notes=with_notes),
        OneApplication,
        not_found=f"No such application: {application_id}",
    )
    return json_response(
        applications.application_to_v1(found.data, issued_at=_now(), with_notes=with_notes)
    )


async def _person_of_candidate(request: web.Request, candidate_id: str) -> dict[str, Any]:
    """The flat v2 personal fields of a referenced candidate (a draft or an application)."""
    draft, store_down = await _draft_lookup(request.app[BRIDGE], candidate_id)
    if draft is not None:
        return candidates.personal_fields_of_candidate(draft)
    no_such = V1ValidationError([ParamError("candidate", f"no such candidate: {candidate_id}")])
    application_id = application_id_for_candidate(candidate_id)
    if application_id is None:
        if store_down:
            raise V1Error(HTTPStatus.SERVICE_UNAVAILABLE, STORE_DOWN_FOR_CANDIDATE)
        raise no_such
    try:
        found = await _unless_draft_unknown(
            _fetch(
                request,
                applications.get_application_request(application_id, with_vacancy=False),
                OneApplication,
            ),
            store_down,
        )
    except V1Error as exc:
        if exc.status == HTTPStatus.NOT_FOUND:
            raise no_such from None
        raise
    return candidates.personal_fields_of_application(found.data)


async def create_application(request: web.Request) -> web.Response:
    body = await _read_body(request)
    context_of(request).unknown_fields = applications.unknown_members(body)
    reference = applications.candidate_reference(body)
    person = await _person_of_candidate(request, reference) if reference else None
    call = applications.create_application_request(body, person)
    created = await _write(
        request, call, JobApplication, applications.sent_as_answer(call.json or {})
    )
    missing = list(created.missing)
    if reference is not None and created.id_known:
        try:
            await request.app[BRIDGE].drafts.link(reference, created.data.id)
        except StoreError:
            missing.append("draft link (store unavailable)")
    vacancy = await _vacancy_or_none(request, created.data.vacancy_id, missing)
    _log_degraded(request, missing)
    return json_response(
        applications.written_application_to_v1(created, issued_at=_now(), vacancy=vacancy),
        HTTPStatus.CREATED,
    )


async def update_application(request: web.Request) -> web.Response:
    application_id = _path_id(request, "id", "application")
    body = await _read_body(request)
    context_of(request).unknown_fields = applications.unknown_members(body)
    call = applications.update_application_request(application_id, body)
    if call is None:  # nothing v2 can change: answer the object as it is
        return await get_application(request)
    not_found = f"No such application: {application_id}"
    sent = applications.sent_as_answer(call.json or {})
    try:
        updated = await _write(
            request, call, JobApplication, sent, known_id=application_id, not_found=not_found
        )
    except V1Error as exc:
        if (
            exc.status == HTTPStatus.NOT_FOUND
            and call.json
            and ("stage" in call.json or "vacancy_id" in call.json)
        ):
            raise await _explain_patch_not_found(request, application_id, call) from exc
        raise
    missing = list(updated.missing)
    vacancy = await _vacancy_or_none(request, updated.data.vacancy_id, missing)
    _log_degraded(request, missing)
    return json_response(
        applications.written_application_to_v1(updated, issued_at=_now(), vacancy=vacancy)
    )


async def _explain_patch_not_found(
    request: web.Request, application_id: str, call: V2Request
) -> V1Error:
    """v2 answers 404 alike for an unknown application, stage or job; one read tells
    which, so the client learns which of its fields is wrong."""
    await _fetch(
        request,
        applications.get_application_request(application_id, with_vacancy=False),
        OneApplication,
        not_found=f"No such application: {application_id}",
    )
    assert call.json is not None
    if "stage" in call.json:
        name = call.json["stage"]["name"]
        return V1ValidationError(
            [ParamError("stage", f"no stage named {name!r} in this application's job")]
        )
    return V1ValidationError([ParamError(call.v1_params.get("vacancy_id", "job"), "no such job")])


# --- notes ------------------------------------------------------------------------------


async def _list_notes(request: web.Request, application_id: str, what: str) -> web.Response:
    window = parse_window(_query(request))
    found = await _fetch(
        request,
        applications.get_application_request(application_id, with_vacancy=False, with_notes=True),
        OneApplication,
        not_found=f"No such {what}",
    )
    return _listed(window, notes.notes_to_v1(application_id, found.data.notes or []))


async def _create_note(request: web.Request, application_id: str, what: str) -> web.Response:
    body = await _read_body(request)
    bridge = request.app[BRIDGE]
    call = notes.create_note_request(application_id, body, bridge.settings.default_note_author)
    created = await _write(request, call, Note, call.json, not_found=f"No such {what}")
    missing = list(created.missing)
    note = notes.note_to_v1(application_id, created.data)
    if created.data.created_at is None:  # the id depends on it: answer the note as listed
        note = await _note_as_listed(request, application_id, note, missing)
    _log_degraded(request, missing)
    return json_response(note, HTTPStatus.CREATED)


async def _note_as_listed(
    request: web.Request, application_id: str, note: dict[str, Any], missing: list[str]
) -> dict[str, Any]:
    """The created note as the notes listing shows it; the note as answered if that read
    fails (the create stands: the failure is only logged)."""
    try:
        found = await _fetch(
            request,
            applications.get_application_request(
                application_id, with_vacancy=False, with_notes=True
            ),
            OneApplication,
        )
    except V1Error:
        found = None
    listed = notes.listed_note(
        notes.notes_to_v1(application_id, found.data.notes or []) if found else [], note
    )
    if listed is None:
        missing.append("note id (follow-up read)")
        return note
    return listed


async def list_application_notes(request: web.Request) -> web.Response:
    return await _list_notes(request, _path_id(request, "id", "application"), "application")


async def create_application_note(request: web.Request) -> web.Response:
    return await _create_note(request, _path_id(request, "id", "application"), "application")


async def _application_id_of(request: web.Request) -> tuple[str, bool]:
    """The application a path's candidate id names, and whether the store was down."""
    return await _application_id_of_candidate(
        request.app[BRIDGE], _path_id(request, "id", "candidate")
    )


async def list_candidate_notes(request: web.Request) -> web.Response:
    application_id, store_down = await _application_id_of(request)
    return await _unless_draft_unknown(
        _list_notes(request, application_id, "candidate"), store_down
    )


async def create_candidate_note(request: web.Request) -> web.Response:
    application_id, store_down = await _application_id_of(request)
    return await _unless_draft_unknown(
        _create_note(request, application_id, "candidate"), store_down
    )


# --- files ------------------------------------------------------------------------------


async def _list_files(request: web.Request, application_id: str, what: str) -> web.Response:
    window = parse_window(_query(request))
    found = await _fetch(
        request,
        applications.get_application_request(application_id, with_vacancy=False),
        OneApplication,
        not_found=f"No such {what}",
    )
    return _listed(window, files.files_to_v1(application_id, found.data.files or [], _now()))


async def _upload_file(request: web.Request, application_id: str, what: str) -> web.Response:
    upload = await open_upload(request, request.app[BRIDGE].settings.client_body_timeout_seconds)
    try:
        created = await _write(
            request,
            files.upload_request(application_id),
            File,
            lambda: {"name": upload.file_name},
            not_found=f"No such {what}",
            data=upload.body(),
            headers={"Content-Type": upload.content_type},
        )
    except V1Error:
        if upload.failure is not None:
            raise upload.failure from None
        raise
    _log_degraded(request, created.missing)
    return json_response(
        files.file_to_v1(application_id, created.data, 0, _now()), HTTPStatus.CREATED
    )


async def list_application_files(request: web.Request) -> web.Response:
    return await _list_files(request, _path_id(request, "id", "application"), "application")


async def upload_application_file(request: web.Request) -> web.Response:
    return await _upload_file(request, _path_id(request, "id", "application"), "application")


async def list_candidate_files(request: web.Request) -> web.Response:
    application_id, store_down = await _application_id_of(request)
    return await _unless_draft_unknown(
        _list_files(request, application_id, "candidate"), store_down
    )


async def upload_candidate_file(request: web.Request) -> web.Response:
    application_id, store_down = await _application_id_of(request)
    return await _unless_draft_unknown(
        _upload_file(request, application_id, "candidate"), store_down
    )


async def delete_file(request: web.Request) -> web.Response:
    _path_id(request, "id", "application")
    _path_id(request, "file_id", "file")
    raise V1Error(HTTPStatus.GONE, files.DELETE_GONE_MESSAGE)


# --- the routes, from the one table ---------------------------------------------------


async def _answer_options(request: web.Request) -> web.Response:
    """``OPTIONS`` without CORS (contract §1): 204 and the path's methods, no key needed
    (a preflight from a disallowed origin carries none and is answered alike)."""
    allow = ", ".join((*_methods_of(request), "OPTIONS"))
    return web.Response(status=HTTPStatus.NO_CONTENT, headers={"Allow": allow})


def _methods_of(request: web.Request) -> tuple[str, ...]:
    return _ALLOW[context_of(request).route]


def _handlers() -> dict[str, Handler]:
    """The handlers of this module: its public coroutine functions."""
    return {
        name: value
        for name, value in globals().items()
        if not name.startswith("_")
        and inspect.iscoroutinefunction(value)
        and value.__module__ == __name__
    }


def _bind() -> tuple[tuple[type[V1Endpoint], Handler], ...]:
    """Each row of the table with its handler; a row without a handler or a handler
    without a row is an error when this module is imported."""
    handlers = _handlers()
    named = {entry.handler for entry in ENDPOINTS}
    if missing := named - handlers.keys():
        raise LookupError(f"v1 table rows without a handler: {sorted(missing)}")
    if unused := handlers.keys() - named:
        raise LookupError(f"v1 handlers without a row in mappings.v1_endpoints: {sorted(unused)}")
    return tuple((entry, handlers[entry.handler]) for entry in ENDPOINTS)


BOUND: Final = _bind()
_ALLOW: Final = {path: methods_of(path) for path in dict.fromkeys(e.path for e in ENDPOINTS)}


def register(router: web.UrlDispatcher) -> None:
    """Every v1 route of the table, with an optional trailing slash (``/v1/jobs/`` =
    ``/v1/jobs``), and ``OPTIONS`` on every path.

    Every GET route answers HEAD too (contract §1): the same handler, so the same status,
    headers and upstream cost; aiohttp leaves the body out.
    """
    for entry, handler in BOUND:
        if entry.method == "GET":
            router.add_get(entry.path + "{_slash:/?}", handler, allow_head=True)
        else:
            router.add_route(entry.method, entry.path + "{_slash:/?}", handler)
    for path in _ALLOW:
        router.add_route("OPTIONS", path + "{_slash:/?}", _answer_options)

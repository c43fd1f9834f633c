"""The API v2 endpoints: one short handler per operation, and the route table.

A handler receives a `V2Call` whose key has already passed authentication, the plan check and
the route's scope check (see `app.py` for the order). It validates the request (400), looks up
what it needs (404), calls one state operation and renders the result.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, TypeVar, cast
from urllib.parse import unquote

import orjson
from aiohttp import web
from multidict import MultiMapping

from sandbox.config import KeySpec
from sandbox.errors import ApiError, FieldError, ValidationFailed
from sandbox.files import UploadedFile, read_multipart
from sandbox.pagination import page_slice, pagination_blocks
from sandbox.query import (
    PageRequest,
    check_includes,
    read_date_filter,
    read_enum_filter,
    read_filter,
    read_page_request,
    requested_includes,
)
from sandbox.records import FILE_TYPES, VACANCY_STATUSES, FileType, StoredFile, StoredPhoto
from sandbox.resources import (
    APPLICATION_DETAIL_INCLUDES,
    APPLICATION_LIST_INCLUDES,
    VACANCY_INCLUDES,
    RenderContext,
    application_json,
    file_json,
    note_json,
    vacancy_json,
)
from sandbox.state import SandboxState
from sandbox.validation import validate_create, validate_note, validate_update

NOTES_READ_SCOPE = "job-application-notes:read"
PHOTO_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".gif"})
PHOTO_CONTENT_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
NOT_A_JSON_OBJECT = "The request body must be a JSON object."

Item = TypeVar("Item")


@dataclass
class V2Call:
    """One authenticated, authorised API v2 request on its way to a handler."""

    request: web.Request
    state: SandboxState
    key: KeySpec
    params: dict[str, str]
    base_url: str
    route_template: str

    @property
    def query(self) -> MultiMapping[str]:
        return self.request.query

    def render_context(self) -> RenderContext:
        state = self.state

        def file_url(application_id: str, stored_file: StoredFile) -> str:
            token = state.downloads.issue(application_id, stored_file)
            return f"{self.base_url}/files/{token}"

        return RenderContext(
            datetime_format=state.config.datetime_format,
            file_url=file_url,
            vacancy_lookup=state.vacancies.get,
            candidate_count=state.candidate_count,
        )


Handler = Callable[[V2Call], Awaitable[web.Response]]


def json_response(payload: Any, status: HTTPStatus = HTTPStatus.OK) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(payload), content_type="application/json")


def paginated(
    call: V2Call, items: Sequence[Item], page: PageRequest, render: Callable[[Item], dict[str, Any]]
) -> web.Response:
    on_page = page_slice(items, page.page, page.per_page)
    links, meta = pagination_blocks(
        f"{call.base_url}/v2{call.route_template}",
        page.page,
        page.per_page,
        len(items),
        len(on_page),
    )
    return json_response({"data": [render(item) for item in on_page], "links": links, "meta": meta})


async def read_json_object(request: web.Request) -> dict[str, Any]:
    """The JSON object body; an empty body counts as `{}` (Laravel sees no input)."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge as too_large:
        raise ValidationFailed(
            [FieldError("body", "The request body is too large.")]
        ) from too_large
    if not raw.strip():
        return {}
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as invalid:
        raise ValidationFailed([FieldError("body", NOT_A_JSON_OBJECT)]) from invalid
    if not isinstance(value, dict):
        raise ValidationFailed([FieldError("body", NOT_A_JSON_OBJECT)])
    return value


def raise_if_any(errors: list[FieldError]) -> None:
    if errors:
        raise ValidationFailed(errors)


# ----- endpoints -----


async def ping(call: V2Call) -> web.Response:
    return json_response({"pong": True})


async def list_vacancies(call: V2Call) -> web.Response:
    errors: list[FieldError] = []
    page = read_page_request(call.query, errors)
    statuses = read_enum_filter(call.query, "status", VACANCY_STATUSES, errors)
    includes = check_includes(requested_includes(call.query), VACANCY_INCLUDES, errors)
    raise_if_any(errors)
    context = call.render_context()
    vacancies = call.state.list_vacancies(statuses)
    return paginated(
        call, vacancies, page, lambda vacancy: vacancy_json(vacancy, includes, context)
    )


async def get_vacancy(call: V2Call) -> web.Response:
    errors: list[FieldError] = []
    includes = check_includes(requested_includes(call.query), VACANCY_INCLUDES, errors)
    raise_if_any(errors)
    vacancy = call.state.get_vacancy(call.params["vacancy_id"])
    return json_response({"data": vacancy_json(vacancy, includes, call.render_context())})


async def list_applications(call: V2Call) -> web.Response:
    errors: list[FieldError] = []
    page = read_page_request(call.query, errors)
    hired_after = read_date_filter(call.query, "hired_after", errors)
    includes = check_includes(requested_includes(call.query), APPLICATION_LIST_INCLUDES, errors)
    raise_if_any(errors)
    applications = call.state.list_applications(
        vacancy_ids=read_filter(call.query, "vacancy_id"),
        stages=read_filter(call.query, "stage"),
        hired_after=hired_after,
    )
    context = call.render_context()
    return paginated(
        call, applications, page, lambda item: application_json(item, includes, context)
    )


def _detail_response(
    call: V2Call, application_id: str, includes: Collection[str], status: HTTPStatus
) -> web.Response:
    application = call.state.get_application(application_id)
    body = application_json(application, includes, call.render_context(), detailed=True)
    return json_response({"data": body}, status)


async def get_application(call: V2Call) -> web.Response:
    requested = requested_includes(call.query)
    # Reading notes needs its own scope on top of job-applications:read (spec §2.2).
    if "notes" in requested and NOTES_READ_SCOPE not in call.key.scopes:
        raise ApiError(HTTPStatus.FORBIDDEN)
    errors: list[FieldError] = []
    includes = check_includes(requested, APPLICATION_DETAIL_INCLUDES, errors)
    raise_if_any(errors)
    return _detail_response(call, call.params["job_application_id"], includes, HTTPStatus.OK)


async def create_application(call: V2Call) -> web.Response:
    fields = validate_create(await read_json_object(call.request))
    application = call.state.create_application(fields)
    return _detail_response(call, application.id, (), HTTPStatus.CREATED)


async def update_application(call: V2Call) -> web.Response:
    fields = validate_update(await read_json_object(call.request))
    application = call.state.update_application(call.params["job_application_id"], fields)
    return _detail_response(call, application.id, (), HTTPStatus.OK)


async def delete_application(call: V2Call) -> web.Response:
    call.state.delete_application(call.params["job_application_id"])
    return web.Response(status=HTTPStatus.NO_CONTENT)


async def add_note(call: V2Call) -> web.Response:
    note_input = validate_note(await read_json_object(call.request))
    note = call.state.add_note(call.params["job_application_id"], note_input)
    return json_response({"data": note_json(note, call.render_context())}, HTTPStatus.CREATED)


def _client_filename(uploaded: UploadedFile) -> str:
    # Browsers may send "C:\fakepath\cv.pdf"; Laravel keeps the base name only.
    return uploaded.filename.replace("\\", "/").rsplit("/", 1)[-1]


def _required_file(
    upload_files: dict[str, UploadedFile], not_files: set[str], errors: list[FieldError]
) -> UploadedFile | None:
    uploaded = upload_files.get("file")
    if uploaded is not None and _client_filename(uploaded):
        return uploaded
    if uploaded is not None or "file" in not_files:
        errors.append(FieldError("file", "The file field must be a file."))
    else:
        errors.append(FieldError("file", "The file field is required."))
    return None


async def upload_file(call: V2Call) -> web.Response:
    upload = await read_multipart(call.request, {"file": call.state.config.max_file_bytes})
    errors: list[FieldError] = []
    file_type = upload.texts.get("type", "").strip()
    if not file_type:
        errors.append(FieldError("type", "The type field is required."))
    elif file_type not in FILE_TYPES:
        errors.append(
            FieldError("type", "The selected type is invalid. Allowed: resume, assignment.")
        )
    uploaded = _required_file(upload.files, upload.not_files, errors)
    raise_if_any(errors)
    assert uploaded is not None
    application_id = call.params["job_application_id"]
    stored = call.state.add_file(
        application_id,
        _client_filename(uploaded),
        cast(FileType, file_type),
        uploaded.content,
        uploaded.content_type,
    )
    return json_response({"data": file_json(application_id, stored, call.render_context())})


def _is_image(uploaded: UploadedFile) -> bool:
    extension = os.path.splitext(_client_filename(uploaded))[1].lower()
    content_type = uploaded.content_type.split(";", 1)[0].strip().lower()
    return extension in PHOTO_EXTENSIONS or content_type in PHOTO_CONTENT_TYPES


async def upload_photo(call: V2Call) -> web.Response:
    upload = await read_multipart(call.request, {"file": call.state.config.max_photo_bytes})
    errors: list[FieldError] = []
    uploaded = _required_file(upload.files, upload.not_files, errors)
    if uploaded is not None and not _is_image(uploaded):
        errors.append(FieldError("file", "The file field must be a file of type: jpg, png, gif."))
    raise_if_any(errors)
    assert uploaded is not None
    photo = StoredPhoto(
        content=uploaded.content,
        content_type=uploaded.content_type,
        filename=_client_filename(uploaded),
    )
    application = call.state.replace_photo(call.params["job_application_id"], photo, call.base_url)
    return json_response({"data": application_json(application, (), call.render_context())})


# ----- route table -----


@dataclass(frozen=True)
class V2Route:
    method: str
    template: str  # relative to /v2, as in the OpenAPI document
    handler: Handler
    scopes: frozenset[str]

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.template.strip("/").split("/"))


def _route(method: str, template: str, handler: Handler, *scopes: str) -> V2Route:
    return V2Route(method=method, template=template, handler=handler, scopes=frozenset(scopes))


APPLICATION = "/job-applications/{job_application_id}"
V2_ROUTES: tuple[V2Route, ...] = (
    _route("GET", "/ping", ping),
    _route("GET", "/vacancies", list_vacancies, "vacancies:read"),
    _route("GET", "/vacancies/{vacancy_id}", get_vacancy, "vacancies:read"),
    _route("GET", "/job-applications", list_applications, "job-applications:read"),
    _route("POST", "/job-applications", create_application, "job-applications:write"),
    _route("GET", APPLICATION, get_application, "job-applications:read"),
    _route("PATCH", APPLICATION, update_application, "job-applications:write"),
    _route("DELETE", APPLICATION, delete_application, "job-applications:write"),
    _route("POST", f"{APPLICATION}/notes", add_note, "job-application-notes:write"),
    _route("POST", f"{APPLICATION}/files", upload_file, "job-application-files:write"),
    _route("POST", f"{APPLICATION}/photo", upload_photo, "job-application-files:write"),
)


@dataclass(frozen=True)
class RouteMatch:
    route: V2Route
    params: dict[str, str]


def resolve_v2_route(method: str, raw_path: str) -> RouteMatch | None:
    """The API route for a method and a still-percent-encoded path such as `/v2/ping`.

    Trailing slashes are ignored, like Laravel's router does. A wrong method is no match.
    """
    if raw_path != "/v2" and not raw_path.startswith("/v2/"):
        return None
    wanted_method = "GET" if method == "HEAD" else method
    segments = [unquote(segment) for segment in raw_path[3:].rstrip("/").split("/")[1:]]
    for route in V2_ROUTES:
        if route.method != wanted_method or len(route.segments) != len(segments):
            continue
        params: dict[str, str] = {}
        for expected, actual in zip(route.segments, segments, strict=True):
            if expected.startswith("{"):
                if not actual:
                    break
                params[expected[1:-1]] = actual
            elif expected != actual:
                break
        else:
            return RouteMatch(route=route, params=params)
    return None

"""The v1 face, declared once: one entry per (method, path) of the contract's table (§7).

Each entry is a small named class (Cadwyn's ``VersionChange`` is the model) whose docstring
is the changelog line: what changed for that endpoint between v1 and v2. It holds the
summary, the parameters the handler reads (with their aliases), the v1 request and response
models, the statuses it answers, the v2 scopes it needs, its v2 call plan (the planning
functions of ``mappings``) and the replacement + change hint the migration report shows.

Everything else is derived from this table: the routes the shell registers (``handler``
names the handler in ``proxy.v1_routes``; a row without a handler or a handler without a
row fails when the router is built), ``GET /v1/openapi.json`` (``proxy.openapi``), the
query parameters a handler gets to read (only those declared here), the report's hints
(``proxy.usage``) and the parametrized tests. A newcomer adds a v1 endpoint with one
class here and one handler there.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, ClassVar, Final, Literal

from pydantic import BaseModel

from mappings import applications, files, jobs, notes, v1_models, v1_requests
from mappings.errors import Problems
from mappings.ids import PATH_ID
from mappings.pagination import (
    ENDING_BEFORE,
    STARTING_AFTER,
    V1_DEFAULT_PER_PAGE,
    V1_MAX_PER_PAGE,
    parse_window,
)
from mappings.plan import (
    SCOPE_APPLICATIONS_READ,
    SCOPE_APPLICATIONS_WRITE,
    SCOPE_FILES_WRITE,
    SCOPE_NOTES_READ,
    SCOPE_NOTES_WRITE,
    SCOPE_VACANCIES_READ,
)

PATH_ID_PATTERN: Final = f"^{PATH_ID.pattern}$"
# The statuses any v1 request may meet (authentication, the budget, the upstream, the store).
COMMON_STATUSES: Final = (401, 429, 502, 503, 504)


@dataclass(frozen=True, slots=True)
class Param:
    """One parameter a handler reads: its v1 name, the aliases it also answers to, and
    its JSON schema. A query key ``name[...]`` (``status[]``, ``expand[0]``) is the same
    parameter as ``name``."""

    name: str
    schema: Mapping[str, Any]
    location: Literal["query", "path"] = "query"
    aliases: tuple[str, ...] = ()
    description: str = ""
    # The function of mappings that reads it (with its fellows) from a query: the table
    # runs each distinct reader of a row once to check a query whole (``checked_query``).
    reader: Callable[[Sequence[tuple[str, str]]], object] | None = None

    @property
    def names(self) -> tuple[str, ...]:
        return (self.name, *self.aliases)

    @property
    def bases(self) -> frozenset[str]:
        """The query keys' heads this parameter covers (``expand[]`` -> ``expand``)."""
        return frozenset(n.partition("[")[0] for n in self.names)


def _path(name: str) -> Param:
    return Param(name, {"type": "string", "pattern": PATH_ID_PATTERN}, location="path")


ID: Final = _path("id")
FILE_ID: Final = _path("file_id")
PAGINATION: Final = (
    Param("page", {"type": "integer", "minimum": 1, "default": 1}, reader=parse_window),
    Param(
        "per_page",
        {
            "type": "integer",
            "minimum": 1,
            "maximum": V1_MAX_PER_PAGE,
            "default": V1_DEFAULT_PER_PAGE,
        },
        aliases=("limit",),
        reader=parse_window,
    ),
    Param(
        "offset",
        {"type": "integer", "minimum": 0},
        description="0-based item offset; wins over page.",
        reader=parse_window,
    ),
)
_CURSOR_ID: Final = {"type": "string", "pattern": PATH_ID_PATTERN}
# Stripe-era cursor paging (contract §4 rev 2): an id this list served, with limit.
CURSOR: Final = (
    Param(
        STARTING_AFTER,
        _CURSOR_ID,
        description="The items right after this object (an id this list served to this "
        "key within the paging session); not with page, offset or ending_before.",
        reader=parse_window,
    ),
    Param(
        ENDING_BEFORE,
        _CURSOR_ID,
        description="The items right before this object; has_more then says whether more "
        "items precede the page.",
        reader=parse_window,
    ),
)
PAGING: Final = (*PAGINATION, *CURSOR)
STATUS: Final = Param(
    "status",
    {"type": "string", "enum": list(jobs.V1_TO_V2_STATUS)},
    description="One status or a comma list.",
    reader=jobs.v2_status_filter,
)
JOB_FILTER: Final = Param(
    "job",
    {"type": "string", "pattern": PATH_ID_PATTERN},
    aliases=("job_id",),
    description="A job id, or a comma list of job ids.",
    reader=applications.application_filters,
)
STAGE_FILTER: Final = Param(
    "stage",
    {"type": "string"},
    description="A stage name.",
    reader=applications.application_filters,
)
EXPAND_NOTES: Final = Param(
    "expand[]",
    {"type": "array", "items": {"type": "string", "enum": ["notes"]}},
    aliases=("expand",),
    description="notes: embed the application's notes.",
)


@dataclass(frozen=True, slots=True)
class Answer:
    """The success answer: its status, the v1 model and whether it is a list of it."""

    status: HTTPStatus
    model: type[BaseModel]
    text: str
    is_list: bool = False


class V1Endpoint:
    """One endpoint of the v1 face. Subclasses are the table; the docstring is the
    changelog line (what changed from v1 to v2 for this endpoint)."""

    method: ClassVar[str]
    path: ClassVar[str]
    handler: ClassVar[str]  # the function in proxy.v1_routes that answers it
    summary: ClassVar[str]
    parameters: ClassVar[tuple[Param, ...]] = ()
    request: ClassVar[type[BaseModel] | None] = None  # the v1 body's model
    upload: ClassVar[bool] = False  # the body is a streamed multipart upload
    answer: ClassVar[Answer | None] = None  # None: never a success (410)
    errors: ClassVar[tuple[int, ...]] = ()
    scopes: ClassVar[tuple[str, ...]] = ()
    plan: ClassVar[tuple[Callable[..., object], ...]] = ()  # the planning functions
    # A list read whole from one v2 object (notes, files): a cursor is placed in it.
    held_whole: ClassVar[bool] = False
    replacement: ClassVar[str]  # the v2 call that replaces it
    hint: ClassVar[str]  # what the integration's code must change

    @classmethod
    def route(cls) -> str:
        """``"GET /v1/jobs/{id}"``: how logs, metrics and the report name it."""
        return f"{cls.method} {cls.path}"

    @classmethod
    def changelog(cls) -> str:
        return " ".join((cls.__doc__ or "").split())

    @classmethod
    def statuses(cls) -> tuple[int, ...]:
        success = (int(cls.answer.status),) if cls.answer else ()
        return tuple(sorted({*success, *cls.errors, *COMMON_STATUSES}))

    @classmethod
    def query_parameters(cls) -> tuple[Param, ...]:
        return tuple(p for p in cls.parameters if p.location == "query")

    @classmethod
    def reads(cls, query: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The pairs of a query this endpoint's handler may read: only declared ones."""
        bases = frozenset().union(*(p.bases for p in cls.query_parameters()))
        return [(k, v) for k, v in query if k.partition("[")[0] in bases]

    @classmethod
    def checked_query(cls, query: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        """The declared pairs, checked whole: each reader of the row's parameters runs
        once, and one 400 names every problem of them all (contract §3)."""
        pairs = cls.reads(query)
        readers = dict.fromkeys(p.reader for p in cls.query_parameters() if p.reader)
        problems = Problems()
        for reader in readers:
            assert reader is not None
            problems.check(partial(reader, pairs), None)
        problems.raise_any()
        return pairs


class V1List(V1Endpoint):
    """What every list row shares: a GET, paged as contract §4 says (``PAGING``, every
    one of its parameters declared: the table checks it), a 400 for paging it cannot
    read. Not a row itself."""

    method: ClassVar[str] = "GET"
    errors: ClassVar[tuple[int, ...]] = (400, 403)


class V1Read(V1Endpoint):
    """What every read of one object by its path id shares: a GET of ``{id}``, a 404
    when v2 has no such object. Not a row itself."""

    method: ClassVar[str] = "GET"
    parameters: ClassVar[tuple[Param, ...]] = (ID,)
    errors: ClassVar[tuple[int, ...]] = (403, 404)


# --- jobs ---------------------------------------------------------------------------


class ListJobs(V1List):
    """Jobs became vacancies; status open became public; location and department became
    opt-in objects; dates became ISO 8601."""

    path, handler = "/v1/jobs", "list_jobs"
    summary = "List jobs"
    parameters = (*PAGING, STATUS)
    answer = Answer(HTTPStatus.OK, v1_models.Job, "Jobs", is_list=True)
    scopes = (SCOPE_VACANCIES_READ,)
    plan = (jobs.list_vacancies_request,)
    replacement = (
        "GET /v2/vacancies?include[]=location&include[]=department&include[]=total_candidate_count"
    )
    hint = "read `vacancies`; status `open` is `public`; dates are ISO 8601; page with page/perPage"


class GetJob(V1Read):
    """A job is a vacancy: read under ``data``; location and department are objects."""

    path, handler = "/v1/jobs/{id}", "get_job"
    summary = "Get a job"
    answer = Answer(HTTPStatus.OK, v1_models.Job, "The job")
    scopes = (SCOPE_VACANCIES_READ,)
    plan = (jobs.get_vacancy_request,)
    replacement = "GET /v2/vacancies/{id}"
    hint = "read `data`; location and department are objects, opt-in with include[]"


# --- candidates -----------------------------------------------------------------------


class ListCandidates(V1List):
    """Candidates are gone: the person lives on each job application (one per application)."""

    path, handler = "/v1/candidates", "list_candidates"
    summary = "List candidates (one per application)"
    parameters = PAGING
    answer = Answer(HTTPStatus.OK, v1_models.Candidate, "Candidates", is_list=True)
    scopes = (SCOPE_APPLICATIONS_READ,)
    plan = (applications.list_applications_request,)
    replacement = "GET /v2/job-applications"
    hint = "candidates are gone: read each application's `personal_info`"


class CreateCandidate(V1Endpoint):
    """v2 creates the person with the application: the bridge keeps a draft until then."""

    method, path, handler = "POST", "/v1/candidates", "create_candidate"
    summary = "Create a candidate (a draft until an application uses it)"
    request = v1_requests.CandidateCreate
    answer = Answer(HTTPStatus.CREATED, v1_models.Candidate, "Created")
    errors = (400, 413)
    replacement = "none (send the person with POST /v2/job-applications)"
    hint = "drop the candidate step; send first_name, last_name, email with the application"


class GetCandidate(V1Read):
    """A candidate is the person on an application (``ca_X`` is on ``ap_X``) or a draft."""

    path, handler = "/v1/candidates/{id}", "get_candidate"
    summary = "Get a candidate"
    answer = Answer(HTTPStatus.OK, v1_models.Candidate, "The candidate")
    scopes = (SCOPE_APPLICATIONS_READ,)
    plan = (applications.get_application_request,)
    replacement = "GET /v2/job-applications/{id}"
    hint = "use the application id; the person is `personal_info`"


# --- applications -----------------------------------------------------------------------


class ListApplications(V1List):
    """Job applications: filters are filter[vacancy_id] and filter[stage]; list items carry
    no content and no files."""

    path, handler = "/v1/applications", "list_applications"
    summary = "List applications (items carry no content and no files)"
    parameters = (*PAGING, JOB_FILTER, STAGE_FILTER)
    answer = Answer(HTTPStatus.OK, v1_models.ApplicationSummary, "Applications", is_list=True)
    scopes = (SCOPE_APPLICATIONS_READ,)
    plan = (applications.application_filters, applications.list_applications_request)
    replacement = "GET /v2/job-applications?include[]=vacancy&include[]=stage"
    hint = "filter with filter[vacancy_id] and filter[stage]; page with page/perPage and meta"


class CreateApplication(V1Endpoint):
    """The person is sent flat with the application; content became custom_data and
    top-level fields; job became vacancy_id."""

    method, path, handler = "POST", "/v1/applications", "create_application"
    summary = "Create an application"
    request = v1_requests.ApplicationCreate
    answer = Answer(HTTPStatus.CREATED, v1_models.WrittenApplication, "Created")
    errors = (400, 403, 413)
    scopes = (SCOPE_APPLICATIONS_WRITE, SCOPE_APPLICATIONS_READ, SCOPE_VACANCIES_READ)
    plan = (
        applications.get_application_request,  # a referenced candidate's person
        applications.create_application_request,
        jobs.get_vacancy_request,  # the job to embed in the answer
    )
    replacement = "POST /v2/job-applications"
    hint = "send JSON with flat personal fields; content -> custom_data; job -> vacancy_id"


class GetApplication(V1Read):
    """Content is split over top-level fields and custom_data; notes come with
    include[]=notes."""

    path, handler = "/v1/applications/{id}", "get_application"
    summary = "Get an application (notes with expand[]=notes)"
    parameters = (ID, EXPAND_NOTES)
    answer = Answer(HTTPStatus.OK, v1_models.Application, "The application")
    scopes = (SCOPE_APPLICATIONS_READ, SCOPE_NOTES_READ)
    plan = (applications.get_application_request,)
    replacement = "GET /v2/job-applications/{id}?include[]=vacancy"
    hint = "content is top-level fields + custom_data; dates are ISO 8601"


_UPDATE_SUMMARY: Final = (
    "Update an application (whole or partial object; nothing is cleared by omission)"
)
_UPDATE_PLAN: Final = (
    applications.update_application_request,
    applications.get_application_request,  # nothing to change, or which field was unknown
    jobs.get_vacancy_request,
)
_UPDATE_SCOPES: Final = (SCOPE_APPLICATIONS_WRITE, SCOPE_APPLICATIONS_READ, SCOPE_VACANCIES_READ)


class PutApplication(V1Endpoint):
    """v1 resent the whole object; v2 PATCH changes only the fields sent."""

    method, path, handler = "PUT", "/v1/applications/{id}", "update_application"
    summary = _UPDATE_SUMMARY
    parameters = (ID,)
    request = v1_requests.ApplicationUpdate
    answer = Answer(HTTPStatus.OK, v1_models.Application, "Updated")
    errors = (400, 403, 404, 413)
    scopes = _UPDATE_SCOPES
    plan = _UPDATE_PLAN
    replacement = "PATCH /v2/job-applications/{id}"
    hint = 'send only the fields that change, as JSON; stage is {"name": …}'


class PostApplication(PutApplication):
    """v1 accepted POST for updates; v2 has PATCH only."""

    method = "POST"


class PatchApplication(PutApplication):
    """A v1 PATCH is a v2 PATCH; the stage is an object and custom_data is merged."""

    method = "PATCH"
    hint = 'send JSON; stage is {"name": …}; custom_data is merged'


# --- notes and files ----------------------------------------------------------------------

_NOTES_HINT: Final = "read `notes` of the application; needs job-application-notes:read"
_NOTE_HINT: Final = "send JSON: body -> note, name -> display_name (required)"
_FILES_HINT: Final = "read the application's `files`; URLs expire after 5 minutes"
_UPLOAD_HINT: Final = "send multipart with a `type` part (resume|assignment); answers 200, not 201"
_BY_CANDIDATE: Final = "use the application id; "


class ListApplicationNotes(V1List):
    """v2 has no notes list: notes come with the application (include[]=notes)."""

    path, handler = "/v1/applications/{id}/notes", "list_notes"
    summary = "Notes of an application"
    parameters = (ID, *PAGING)
    answer = Answer(HTTPStatus.OK, v1_models.Note, "Notes", is_list=True)
    errors = (400, 403, 404)
    held_whole = True
    scopes = (SCOPE_APPLICATIONS_READ, SCOPE_NOTES_READ)
    plan = (applications.get_application_request,)
    replacement = "GET /v2/job-applications/{id}?include[]=notes"
    hint = _NOTES_HINT


class CreateApplicationNote(V1Endpoint):
    """body became note and name became display_name (required in v2)."""

    method, path, handler = "POST", "/v1/applications/{id}/notes", "create_note"
    summary = "Add a note to an application"
    parameters = (ID,)
    request = v1_requests.NoteCreate
    answer = Answer(HTTPStatus.CREATED, v1_models.Note, "Created")
    errors = (400, 403, 404, 413)
    scopes = (SCOPE_NOTES_WRITE, SCOPE_APPLICATIONS_READ, SCOPE_NOTES_READ)
    plan = (notes.create_note_request, applications.get_application_request)
    replacement = "POST /v2/job-applications/{id}/notes"
    hint = _NOTE_HINT


class ListApplicationFiles(V1List):
    """v2 has no files list: files are the application's ``files``."""

    path, handler = "/v1/applications/{id}/files", "list_files"
    summary = "Files of an application"
    parameters = (ID, *PAGING)
    answer = Answer(HTTPStatus.OK, v1_models.File, "Files", is_list=True)
    errors = (400, 403, 404)
    held_whole = True
    scopes = (SCOPE_APPLICATIONS_READ,)
    plan = (applications.get_application_request,)
    replacement = "GET /v2/job-applications/{id}"
    hint = _FILES_HINT


class UploadApplicationFile(V1Endpoint):
    """Uploads need an explicit type in v2 (resume when v1 sent none)."""

    method, path, handler = "POST", "/v1/applications/{id}/files", "upload_file"
    summary = "Upload a file to an application (streamed; type defaults to resume)"
    parameters = (ID,)
    request = v1_requests.FileUpload
    upload = True
    answer = Answer(HTTPStatus.CREATED, v1_models.File, "Uploaded")
    errors = (400, 403, 404, 413)
    # The read after the upload gives the file the id its listing shows (contract §5).
    scopes = (SCOPE_FILES_WRITE, SCOPE_APPLICATIONS_READ)
    plan = (files.upload_request, applications.get_application_request)
    replacement = "POST /v2/job-applications/{id}/files"
    hint = _UPLOAD_HINT


class ListCandidateNotes(ListApplicationNotes):
    """Notes of a candidate are the notes of its application."""

    path = "/v1/candidates/{id}/notes"  # the same handler: it reads the path
    summary = "Notes of the candidate's application"
    hint = _BY_CANDIDATE + _NOTES_HINT


class CreateCandidateNote(CreateApplicationNote):
    """A note on a candidate is a note on its application."""

    path = "/v1/candidates/{id}/notes"
    summary = "Add a note to the candidate's application"
    hint = _BY_CANDIDATE + _NOTE_HINT


class ListCandidateFiles(ListApplicationFiles):
    """Files of a candidate are the files of its application."""

    path = "/v1/candidates/{id}/files"
    summary = "Files of the candidate's application"
    hint = _BY_CANDIDATE + _FILES_HINT


class UploadCandidateFile(UploadApplicationFile):
    """A file of a candidate is uploaded to its application."""

    path = "/v1/candidates/{id}/files"
    summary = "Upload a file to the candidate's application (streamed; type defaults to resume)"
    hint = _BY_CANDIDATE + _UPLOAD_HINT


class DeleteFile(V1Endpoint):
    """v2 cannot delete files: always 410 Gone."""

    method, path, handler = "DELETE", "/v1/applications/{id}/files/{file_id}", "delete_file"
    summary = "Delete a file: always 410, API v2 cannot delete files"
    parameters = (ID, FILE_ID)
    errors = (404, 410)
    replacement = "none"
    hint = "v2 cannot delete files: remove this call, delete files in the Homerun app"


# --- the table ------------------------------------------------------------------------------

ENDPOINTS: Final[tuple[type[V1Endpoint], ...]] = (
    ListJobs,
    GetJob,
    ListCandidates,
    CreateCandidate,
    GetCandidate,
    ListCandidateNotes,
    CreateCandidateNote,
    ListCandidateFiles,
    UploadCandidateFile,
    ListApplications,
    CreateApplication,
    GetApplication,
    PutApplication,
    PostApplication,
    PatchApplication,
    ListApplicationNotes,
    CreateApplicationNote,
    ListApplicationFiles,
    UploadApplicationFile,
    DeleteFile,
)


def _checked(table: tuple[type[V1Endpoint], ...]) -> Mapping[str, type[V1Endpoint]]:
    """The table by route; a repeated route, a missing member or an undeclared path
    parameter fails at import, not at request time."""
    by_route: dict[str, type[V1Endpoint]] = {}
    for entry in table:
        for member in ("method", "path", "handler", "summary", "replacement", "hint"):
            if not getattr(entry, member, ""):
                raise TypeError(f"{entry.__name__} declares no {member}")
        if entry.route() in by_route:
            raise TypeError(f"{entry.__name__}: {entry.route()} is declared twice")
        in_path = {p.name for p in entry.parameters if p.location == "path"}
        named = {part[1:-1] for part in entry.path.split("/") if part.startswith("{")}
        if in_path != named:
            raise TypeError(f"{entry.__name__}: path parameters {named} declared as {in_path}")
        if entry.changelog() == "" or entry.__doc__ in (
            V1Endpoint.__doc__,
            V1List.__doc__,
            V1Read.__doc__,
        ):
            raise TypeError(f"{entry.__name__} has no changelog docstring")
        is_list = entry.answer is not None and entry.answer.is_list
        if is_list != issubclass(entry, V1List):
            raise TypeError(f"{entry.__name__}: a list row is a V1List, and only a list row is")
        if is_list and not all(param in entry.parameters for param in PAGING):
            raise TypeError(f"{entry.__name__}: a list row declares every PAGING parameter")
        by_route[entry.route()] = entry
    return MappingProxyType(by_route)


BY_ROUTE: Final = _checked(ENDPOINTS)


def endpoint_for(route: str) -> type[V1Endpoint] | None:
    """The entry for ``"METHOD /v1/path/{template}"``, or ``None``."""
    return BY_ROUTE.get(route)


def methods_of(path: str) -> tuple[str, ...]:
    """The methods that serve a v1 path, as a 405's ``Allow`` lists them (HEAD with GET;
    ``OPTIONS``, answered on every path, is added where it is the answer)."""
    methods = {e.method for e in ENDPOINTS if e.path == path}
    if "GET" in methods:
        methods.add("HEAD")
    return tuple(sorted(methods))

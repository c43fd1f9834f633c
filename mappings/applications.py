"""Applications (v1) are job applications (v2).

Changes from v1 to v2, each undone here:
- ``content`` became ``custom_data`` for free keys, while ``education``,
  ``experience``, ``assignment``, ``pronouns`` and the social links became top-level
  fields. v1 ``content`` is rebuilt from both; v1 writes are split back over both.
- ``candidate`` (an id or, here, an object) became flat personal fields.
- ``job`` became ``vacancy_id``. The embedded job is the whole vacancy (location,
  department, candidate count: the job ``GET /v1/jobs/{id}`` answers) when the shell
  holds it (contract §6 rev 2, ``proxy.embeds``), else the vacancy of
  ``include[]=vacancy``, which carries none of those three.
- the stage is a ``{"name"}`` object in v2; v1 shows and takes the name.
- v1 updates resent the whole object; v2 PATCH changes only the fields sent. Fields
  the client left out, or sent as null, are not sent, so nothing is cleared by
  omission. Read-only members of a resent object (ids, dates, rating…) are ignored.
- v2 list items have no content and no files; v1 list items omit both.

v2 guarantees only the application's ``id`` (``homerun-v2.openapi.yaml``); what a missing
(absent or null) member becomes in v1:
- a date, ``rating``, ``homerun_url``, ``stage`` (or its name) -> null.
- ``sourced`` and ``disqualified`` -> ``false`` (what v2 assumes when a create leaves
  them out); the person -> see ``mappings.candidates``.
- ``vacancy_id`` and ``vacancy`` both missing -> ``job`` null (as for the talent pool).
- a content field or ``custom_data`` -> left out of ``content``; ``files`` / ``notes``
  -> ``[]`` (null items inside are dropped, see ``mappings.files`` / ``mappings.notes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from mappings.candidates import (
    PERSONAL_FIELDS,
    application_to_candidate,
    personal_fields_from_v1,
    require_personal_fields,
)
from mappings.dates import to_unix_seconds
from mappings.errors import ParamError, V1ValidationError
from mappings.files import files_to_v1
from mappings.forms import coerce_bool
from mappings.ids import is_valid_path_id
from mappings.jobs import vacancy_to_job
from mappings.notes import notes_to_v1
from mappings.pagination import PageCall
from mappings.plan import V2Request
from mappings.v1_requests import CONTENT_FIELDS, STAGE_PROBLEM, stage_name
from mappings.v2_models import JobApplication, Vacancy
from mappings.write_answers import WriteAnswer

# Members of a v1 application that the client cannot change (v2 has no field for them).
READ_ONLY_MEMBERS: Final = frozenset(
    {
        "id",
        "created_at",
        "hired_at",
        "first_reply_at",
        "homerun_url",
        "rating",
        "disqualified",
        "files",
        "notes",
        "object",
        "expand",
        "expand[]",
    }
)
CREATE_MEMBERS: Final = frozenset({"job", "job_id", "candidate", "content", "sourced", "sources"})


@dataclass(frozen=True, slots=True)
class ApplicationFilters:
    """v1 list filters: ``job`` (one or several ids) and ``stage`` (a stage name)."""

    vacancy_ids: tuple[str, ...] = ()
    stage: str | None = None


def application_filters(query: Iterable[tuple[str, str]]) -> ApplicationFilters:
    """``job=<id>`` -> ``filter[vacancy_id]``; ``stage=<name>`` -> ``filter[stage]``."""
    vacancy_ids: list[str] = []
    stage: str | None = None
    for key, value in query:
        if key in ("job", "job_id", "job[]"):
            for part in value.split(","):
                part = part.strip()
                if not part:
                    continue
                if not is_valid_path_id(part):
                    raise V1ValidationError([ParamError(key, "is not a job id")])
                vacancy_ids.append(part)
        elif key == "stage" and value.strip():
            stage = value.strip()
    return ApplicationFilters(tuple(dict.fromkeys(vacancy_ids)), stage)


def list_applications_request(
    call: PageCall, filters: ApplicationFilters, *, embed: bool
) -> V2Request:
    """``GET /v1/applications`` (embed=True) and ``GET /v1/candidates`` (embed=False)
    -> ``GET /job-applications``."""
    query = [("page", str(call.page)), ("perPage", str(call.per_page))]
    if filters.vacancy_ids:
        query.append(("filter[vacancy_id]", ",".join(filters.vacancy_ids)))
    if filters.stage:
        query.append(("filter[stage]", filters.stage))
    if embed:
        query.extend((("include[]", "vacancy"), ("include[]", "stage")))
    return V2Request("GET", "/job-applications", tuple(query))


def get_application_request(
    application_id: str, *, with_vacancy: bool = True, with_notes: bool = False
) -> V2Request:
    """``GET /v1/applications/{id}`` -> ``GET /job-applications/{id}`` (+ includes)."""
    query: list[tuple[str, str]] = []
    if with_vacancy:
        query.append(("include[]", "vacancy"))
    if with_notes:
        query.append(("include[]", "notes"))
    return V2Request("GET", f"/job-applications/{application_id}", tuple(query))


def _job_of(
    application: JobApplication,
    vacancy: Vacancy | None,
    jobs: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any] | None:
    found = vacancy or application.vacancy
    if found is not None:
        if jobs is None:
            return vacancy_to_job(found)
        job = jobs.get(found.id)
        if job is None:
            job = jobs[found.id] = vacancy_to_job(found)
        return job
    if application.vacancy_id is None:
        return None
    # The vacancy exists but could not be read (e.g. deleted since): keep its id.
    return {
        "id": application.vacancy_id,
        "title": "",
        "status": "closed",
        "type": None,
        "tmp_location": None,
        "tmp_department": None,
        "total_candidate_count": None,
        "application_form_url": None,
        "job_url": None,
        "seo_content": {"title": "", "description": "", "image": None},
        "created_at": to_unix_seconds(application.created_at),
        "active_time": [],
    }


def content_from_v2(application: JobApplication) -> dict[str, Any]:
    """v2 top-level content fields, then every ``custom_data`` key; nulls omitted."""
    content: dict[str, Any] = {}
    for name in CONTENT_FIELDS:
        value = getattr(application, name)
        if value is not None:
            content[name] = value
    for key, value in (application.custom_data or {}).items():
        if value is not None and key not in content:
            content[key] = value
    return content


def application_summary_to_v1(
    application: JobApplication,
    vacancy: Vacancy | None = None,
    *,
    jobs: dict[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A v2 list item as a v1 application (no content, no files: v2 lists have none).

    ``jobs``: the jobs already made from vacancies of the same v2 answer, by id. One
    answer embeds each vacancy as it is at one instant, so a page of applications on a
    few vacancies translates each vacancy once.
    """
    return {
        "id": application.id,
        "candidate": application_to_candidate(application),
        "job": _job_of(application, vacancy, jobs),
        "stage": application.stage.name if application.stage else None,
        "rating": application.rating,
        "sourced": bool(application.sourced),
        "disqualified": bool(application.disqualified),
        "created_at": to_unix_seconds(application.created_at),
        "hired_at": to_unix_seconds(application.hired_at),
        "first_reply_at": to_unix_seconds(application.first_reply_at),
        "homerun_url": application.homerun_url,
    }


def application_to_v1(
    application: JobApplication,
    *,
    issued_at: int,
    vacancy: Vacancy | None = None,
    with_notes: bool = False,
) -> dict[str, Any]:
    """A v2 job application detail as the full v1 application."""
    result = application_summary_to_v1(application, vacancy)
    result["content"] = content_from_v2(application)
    result["files"] = files_to_v1(application.id, application.files or [], issued_at)
    if with_notes:
        result["notes"] = notes_to_v1(application.id, application.notes or [])
    return result


def _content_to_v2(content: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """v1 ``content`` -> v2 top-level fields + ``custom_data``, with v1 names.

    Lenient: an object, or a list of ``{key|name|label, value}`` items.
    """
    if isinstance(content, list):
        pairs: dict[str, Any] = {}
        for item in content:
            if not isinstance(item, Mapping):
                raise V1ValidationError([ParamError("content", "must be an object")])
            key = item.get("key", item.get("name", item.get("label")))
            if not isinstance(key, str):
                raise V1ValidationError([ParamError("content", "items need a key")])
            pairs[key] = item.get("value")
        content = pairs
    if not isinstance(content, Mapping):
        raise V1ValidationError([ParamError("content", "must be an object")])
    fields: dict[str, Any] = {}
    custom: dict[str, Any] = {}
    names: dict[str, str] = {}
    for key, value in content.items():
        if value is None or value == "":
            continue  # like null: an empty form field clears nothing
        if key in CONTENT_FIELDS:
            if not isinstance(value, str):
                raise V1ValidationError([ParamError(f"content[{key}]", "must be text")])
            fields[key] = value
            names[key] = f"content[{key}]"
        else:
            custom[key] = value
            names[f"custom_data.{key}"] = f"content[{key}]"
    if custom:
        fields["custom_data"] = custom
        names["custom_data"] = "content"
    return fields, names


def _job_reference(body: Mapping[str, Any]) -> tuple[str, str] | None:
    """``job``, ``job_id`` or an embedded job object -> (v1 name, vacancy id)."""
    for name in ("job", "job_id"):
        if name not in body or body[name] is None or body[name] == "":
            continue
        value = body[name]
        if isinstance(value, Mapping):
            value = value.get("id")
        if not isinstance(value, str) or not is_valid_path_id(value):
            raise V1ValidationError([ParamError(name, "is not a job id")])
        return name, value
    return None


def candidate_reference(body: Mapping[str, Any]) -> str | None:
    """The ``ca_`` id when the client links an existing candidate, else ``None``."""
    candidate = body.get("candidate")
    if isinstance(candidate, str):
        if not is_valid_path_id(candidate):
            raise V1ValidationError([ParamError("candidate", "is not a candidate id")])
        return candidate
    return None


def _common_write_fields(
    body: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, str]]:
    fields: dict[str, Any] = {}
    names: dict[str, str] = {}
    if "content" in body and body["content"] is not None:
        content_fields, content_names = _content_to_v2(body["content"])
        fields.update(content_fields)
        names.update(content_names)
    job = _job_reference(body)
    if job is not None:
        fields["vacancy_id"] = job[1]
        names["vacancy_id"] = job[0]
    if body.get("sourced") is not None:
        fields["sourced"] = coerce_bool(body["sourced"], "sourced")
        names["sourced"] = "sourced"
    return fields, names


def create_application_request(
    body: Mapping[str, Any], referenced_person: Mapping[str, Any] | None
) -> V2Request:
    """``POST /v1/applications`` -> ``POST /job-applications``.

    The person comes from the referenced candidate (``referenced_person``: flat v2
    personal fields of a draft or an existing application) or from a ``candidate``
    object; candidate fields sent at the top level are accepted too.
    """
    candidate = body.get("candidate")
    if referenced_person is not None:
        person, names = dict(referenced_person), {f: "candidate" for f in referenced_person}
        prefix = "candidate"
    elif isinstance(candidate, Mapping):
        person, names = personal_fields_from_v1(candidate, "candidate")
        prefix = "candidate"
    elif candidate is None:
        person, names = personal_fields_from_v1(body, "")
        if not person:
            raise V1ValidationError(
                [ParamError("candidate", "is required: a candidate id or candidate fields")]
            )
        prefix = ""
    else:
        raise V1ValidationError([ParamError("candidate", "must be a candidate id or object")])
    require_personal_fields(person, prefix)
    fields, field_names = _common_write_fields(body)
    sources = body.get("sources")
    if isinstance(sources, str):
        sources = [sources]
    if sources is not None:
        if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
            raise V1ValidationError([ParamError("sources", "must be a list of source names")])
        fields["sources"] = sources
        field_names["sources"] = "sources"
    return V2Request(
        "POST",
        "/job-applications",
        json={**person, **fields},
        v1_params={**names, **field_names},
    )


def _stage_name(value: Any) -> str | None:
    try:
        return stage_name(value)
    except ValueError:
        raise V1ValidationError([ParamError("stage", STAGE_PROBLEM)]) from None


def update_application_request(application_id: str, body: Mapping[str, Any]) -> V2Request | None:
    """``PUT``/``POST``/``PATCH /v1/applications/{id}`` -> ``PATCH /job-applications/{id}``.

    ``None`` when the body changes nothing v2 can change (the caller just reads).
    """
    candidate = body.get("candidate")
    person: dict[str, Any] = {}
    names: dict[str, str] = {}
    if isinstance(candidate, Mapping):
        person, names = personal_fields_from_v1(candidate, "candidate")
    fields, field_names = _common_write_fields(body)
    stage = _stage_name(body.get("stage"))
    if stage is not None:
        fields["stage"] = {"name": stage}
        field_names["stage"] = "stage"
        field_names["stage.name"] = "stage"
    payload = {**person, **fields}
    if not payload:
        return None
    return V2Request(
        "PATCH",
        f"/job-applications/{application_id}",
        json=payload,
        v1_params={**names, **field_names},
    )


def unknown_members(body: Mapping[str, Any]) -> list[str]:
    """Top-level v1 members that v2 has no place for (for the migration report)."""
    known = CREATE_MEMBERS | READ_ONLY_MEMBERS | {"stage"}
    return sorted(k for k in body if k not in known)


def vacancy_id_of(application: JobApplication) -> str | None:
    """The id of the application's vacancy (``vacancy_id``, else the embedded one's)."""
    if application.vacancy_id is not None:
        return application.vacancy_id
    return application.vacancy.id if application.vacancy is not None else None


def vacancy_ids_of(items: Iterable[JobApplication]) -> list[str]:
    """The distinct vacancies of some applications, in order: the jobs to embed."""
    found = (vacancy_id_of(item) for item in items)
    return list(dict.fromkeys(v for v in found if v is not None))


def held_vacancy(
    application: JobApplication, vacancies: Mapping[str, Vacancy] | None
) -> Vacancy | None:
    """The whole vacancy held for the application's job, if any (else its embed is used)."""
    vacancy_id = vacancy_id_of(application)
    if vacancies is None or vacancy_id is None:
        return None
    return vacancies.get(vacancy_id)


def applications_page_to_v1(
    items: Sequence[JobApplication], vacancies: Mapping[str, Vacancy] | None = None
) -> list[dict[str, Any]]:
    """The items of one v2 list answer as v1 applications (each vacancy translated once).

    ``vacancies``: whole vacancies by id (read with the job includes); an item whose
    vacancy is among them embeds it as the whole job, the others their list embed.
    """
    jobs: dict[str, dict[str, Any]] = {}
    return [
        application_summary_to_v1(item, held_vacancy(item, vacancies), jobs=jobs) for item in items
    ]


def sent_as_answer(payload: Mapping[str, Any]) -> dict[str, Any]:
    """A create/PATCH payload in the shape of v2's answer: what v2 stored, to stand in
    for the members its answer leaves out (see ``mappings.write_answers``)."""
    person = {k: v for k, v in payload.items() if k in PERSONAL_FIELDS}
    answer = {k: v for k, v in payload.items() if k not in PERSONAL_FIELDS and k != "sources"}
    if person:
        answer["personal_info"] = person
    return answer


def written_application_to_v1(
    answer: WriteAnswer[JobApplication], *, issued_at: int, vacancy: Vacancy | None = None
) -> dict[str, Any]:
    """The answer to a confirmed create or update: the full v1 application, with ``id``
    (and the candidate's) null when v2's answer carried no id the bridge knows."""
    result = application_to_v1(answer.data, issued_at=issued_at, vacancy=vacancy)
    if not answer.id_known:
        result["id"] = None
        result["candidate"] = {**result["candidate"], "id": None, "applications": []}
    return result

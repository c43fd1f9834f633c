"""Rendering stored records as API v2 JSON objects (Laravel "API resources").

Opt-in members (includes) are absent keys when not requested, not nulls (spec §6.2, INFERRED).
Member order follows the spec's examples. Files get a fresh temporary download URL each time
they are rendered, so rendering needs a `RenderContext` that can issue them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sandbox.records import JobApplication, Location, Note, SalaryIndication, StoredFile, Vacancy

VACANCY_INCLUDES: tuple[str, ...] = (
    "location",
    "department",
    "stages",
    "total_candidate_count",
    # Later additions (spec §8.13), cheap to serve and listed in the OpenAPI enum.
    "page_content",
    "salaryIndication",
)
APPLICATION_LIST_INCLUDES: tuple[str, ...] = ("sources", "stage", "vacancy")
APPLICATION_DETAIL_INCLUDES: tuple[str, ...] = ("notes", "sources", "vacancy")


@dataclass(frozen=True)
class RenderContext:
    datetime_format: str
    # Issues a temporary download URL for one file of one application.
    file_url: Callable[[str, StoredFile], str]
    vacancy_lookup: Callable[[str], Vacancy | None]
    candidate_count: Callable[[str], int]

    def moment(self, value: datetime | None) -> str | None:
        return value.strftime(self.datetime_format) if value is not None else None


def _day(value: date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _number(value: float) -> float | int:
    # 4.0 renders as 4 and an unrated application as 0, as in the spec's examples.
    return int(value) if value.is_integer() else value


def location_json(location: Location | None) -> dict[str, Any] | None:
    if location is None:
        return None
    return {
        "name": location.name,
        "country": location.country,
        "address": location.address,
        "postal_code": location.postal_code,
        "city": location.city,
        "region": location.region,
    }


def salary_json(salary: SalaryIndication | None) -> dict[str, Any] | None:
    if salary is None:
        return None
    return {
        "experience_level": salary.experience_level,
        "currency": salary.currency,
        "salary_value": salary.salary_value,
        "max_salary_value": salary.max_salary_value,
        "time_period": salary.time_period,
    }


def vacancy_json(
    vacancy: Vacancy, includes: Collection[str], context: RenderContext
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": vacancy.id,
        "title": vacancy.title,
        "description": vacancy.description,
        "application_form_url": vacancy.application_form_url,
        "job_url": vacancy.job_url,
        "share_image_url": vacancy.share_image_url,
        "status": vacancy.status,
        "type": vacancy.type,
        "expires_at": context.moment(vacancy.expires_at),
        "is_remote": vacancy.is_remote,
        "location_type": vacancy.location_type,
    }
    if "location" in includes:
        body["location"] = location_json(vacancy.location)
    if "department" in includes:
        body["department"] = {"name": vacancy.department} if vacancy.department else None
    if "stages" in includes:
        body["stages"] = [{"name": stage} for stage in vacancy.stages]
    if "total_candidate_count" in includes:
        body["total_candidate_count"] = context.candidate_count(vacancy.id)
    body["created_at"] = context.moment(vacancy.created_at)
    if "page_content" in includes:
        body["page_content"] = vacancy.page_content
    if "salaryIndication" in includes:
        body["salary_indication"] = salary_json(vacancy.salary_indication)
    return body


def note_json(note: Note, context: RenderContext) -> dict[str, Any]:
    return {
        "display_name": note.display_name,
        "is_sensitive": note.is_sensitive,
        "note": note.note,
        "created_at": context.moment(note.created_at),
        "updated_at": context.moment(note.updated_at),
    }


def file_json(
    application_id: str, stored_file: StoredFile, context: RenderContext
) -> dict[str, Any]:
    return {
        "name": stored_file.name,
        "type": stored_file.type,
        "temporary_download_url": context.file_url(application_id, stored_file),
    }


def application_json(
    application: JobApplication,
    includes: Collection[str],
    context: RenderContext,
    *,
    detailed: bool = False,
) -> dict[str, Any]:
    """The short JobApplication, or JobApplicationDetails when `detailed` (stage always on)."""
    body: dict[str, Any] = {
        "id": application.id,
        "rating": _number(application.rating),
        "retention_period_ends_at": context.moment(application.retention_period_ends_at),
        "sourced": application.sourced,
        "total_votes": application.total_votes,
        "homerun_url": application.homerun_url,
        "created_at": context.moment(application.created_at),
        "disqualified": application.disqualified,
        "hired_at": context.moment(application.hired_at),
        "first_reply_at": context.moment(application.first_reply_at),
        "personal_info": {
            "first_name": application.first_name,
            "last_name": application.last_name,
            "email": application.email,
            "city": application.city,
            "country": application.country,
            "date_of_birth": _day(application.date_of_birth),
            "phone_number": application.phone_number,
            "photo": application.photo,
        },
        "vacancy_id": application.vacancy_id,
    }
    if detailed or "stage" in includes:
        body["stage"] = {"name": application.stage} if application.stage is not None else None
    if "notes" in includes:
        body["notes"] = [note_json(note, context) for note in application.notes]
    if "sources" in includes:
        body["sources"] = [{"name": source} for source in application.sources]
    if "vacancy" in includes:
        vacancy = context.vacancy_lookup(application.vacancy_id) if application.vacancy_id else None
        # The embedded vacancy carries its base fields only, never its own includes.
        body["vacancy"] = vacancy_json(vacancy, (), context) if vacancy is not None else None
    if detailed:
        body.update(
            {
                "education": application.education,
                "experience": application.experience,
                "pronouns": application.pronouns,
                "skype": application.skype,
                "facebook": application.facebook,
                "twitter": application.twitter,
                "linkedin": application.linkedin,
                "github": application.github,
                "website": application.website,
                "assignment": application.assignment,
                "files": [file_json(application.id, item, context) for item in application.files],
                "custom_data": dict(application.custom_data),
            }
        )
    return body

"""API v2 shapes, as the bridge reads them from upstream.

Every upstream body is validated against these before it is translated: a body that
does not match is "not valid v2" and becomes a v1 502, never a Python error later.

What is required follows the published schema ("What an answer guarantees" in
``homerun-v2.openapi.yaml``): only ``data`` in every answer and ``id`` in every vacancy
and job application. Every other member, nested ones too (``meta``, a stage, a
person's name, a file's name), may be absent or null, and reads as ``None`` here;
what each becomes in v1 is written in the docstring of the mapping module that
translates it. Items that are null inside ``notes``/``files`` are read as ``None``
and dropped by the mappings (see ``mappings.notes`` / ``mappings.files``).
Unknown members are ignored (v2 keeps adding fields). Date-times are parsed from
any RFC 3339 form.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

T = TypeVar("T")


class V2Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class Location(V2Model):
    name: str | None = None
    city: str | None = None
    country: str | None = None


class Named(V2Model):
    """Department, Stage and Source all are ``{"name": …}`` in v2."""

    name: str | None = None


class Vacancy(V2Model):
    id: str
    title: str | None = None
    description: str | None = None
    application_form_url: str | None = None
    job_url: str | None = None
    share_image_url: str | None = None
    status: Literal["public", "private", "closed", "draft"] | None = None
    type: str | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    location: Location | None = None
    department: Named | None = None
    stages: list[Named | None] | None = None
    total_candidate_count: int | None = None


class PersonalInfo(V2Model):
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    city: str | None = None
    country: str | None = None
    date_of_birth: str | None = None
    phone_number: str | None = None
    photo: str | None = None


class Note(V2Model):
    display_name: str | None = None
    is_sensitive: bool | None = None
    note: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class File(V2Model):
    name: str | None = None
    type: str | None = None
    temporary_download_url: str | None = None


class JobApplication(V2Model):
    """The short form (list items) with every detail member optional."""

    id: str
    rating: float | None = None
    sourced: bool | None = None
    homerun_url: str | None = None
    created_at: datetime | None = None
    disqualified: bool | None = None
    hired_at: datetime | None = None
    first_reply_at: datetime | None = None
    personal_info: PersonalInfo | None = None
    vacancy_id: str | None = None
    stage: Named | None = None
    vacancy: Vacancy | None = None
    notes: list[Note | None] | None = None
    # Detail members:
    education: str | None = None
    experience: str | None = None
    pronouns: str | None = None
    skype: str | None = None
    facebook: str | None = None
    twitter: str | None = None
    linkedin: str | None = None
    github: str | None = None
    website: str | None = None
    assignment: str | None = None
    files: list[File | None] | None = None
    custom_data: dict[str, Any] | None = None


class PageMeta(V2Model):
    current_page: int | None = None
    per_page: int | None = None
    total: int | None = Field(default=None, ge=0)
    last_page: int | None = None


class Page(V2Model, Generic[T]):
    data: list[T]
    meta: PageMeta | None = None


class One(V2Model, Generic[T]):
    data: T


VacancyPage = Page[Vacancy]
ApplicationPage = Page[JobApplication]
OneVacancy = One[Vacancy]
OneApplication = One[JobApplication]
OneNote = One[Note]
OneFile = One[File]

"""The records the sandbox stores: vacancies, job applications and what hangs off them.

These are storage shapes, not wire shapes: `resources.py` renders them as API v2 JSON.
Date-times are timezone-aware UTC datetimes; stages, departments and sources are plain names
because API v2 gives them no ids.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Literal

VacancyStatus = Literal["public", "private", "draft", "closed"]
VACANCY_STATUSES: tuple[VacancyStatus, ...] = ("public", "private", "draft", "closed")
# Applications can only be created on, or moved to, vacancies in these states (spec §8.5).
OPEN_VACANCY_STATUSES: frozenset[str] = frozenset({"public", "private"})

FileType = Literal["resume", "assignment"]
FILE_TYPES: tuple[FileType, ...] = ("resume", "assignment")


@dataclass
class Location:
    name: str | None
    country: str | None
    address: str | None
    postal_code: str | None
    city: str | None
    region: str | None


@dataclass
class SalaryIndication:
    currency: str
    salary_value: str | None
    max_salary_value: str | None
    time_period: str
    experience_level: str | None


@dataclass
class Vacancy:
    id: str
    title: str
    description: str
    application_form_url: str
    job_url: str
    share_image_url: str | None
    status: VacancyStatus
    type: str | None
    expires_at: datetime | None
    is_remote: bool | None
    location_type: str | None
    location: Location | None
    department: str | None
    stages: list[str]
    created_at: datetime
    page_content: str | None = None
    salary_indication: SalaryIndication | None = None

    @property
    def sort_key(self) -> tuple[datetime, str]:
        return (self.created_at, self.id)

    def find_stage(self, name: str) -> str | None:
        """The vacancy's own spelling of a stage name; matching ignores case (MySQL collation)."""
        wanted = name.casefold()
        return next((stage for stage in self.stages if stage.casefold() == wanted), None)


@dataclass
class Note:
    note: str
    display_name: str
    is_sensitive: bool
    created_at: datetime
    updated_at: datetime


@dataclass
class StoredFile:
    """An uploaded resume or assignment. The bytes stay in memory for the download route."""

    name: str
    type: FileType
    content: bytes
    content_type: str


@dataclass
class StoredPhoto:
    content: bytes
    content_type: str
    filename: str


@dataclass
class JobApplication:
    id: str
    vacancy_id: str | None
    stage: str | None
    created_at: datetime
    retention_period_ends_at: datetime
    first_name: str
    last_name: str
    email: str
    rating: float = 0.0
    total_votes: int = 0
    sourced: bool = False
    disqualified: bool = False
    hired_at: datetime | None = None
    first_reply_at: datetime | None = None
    city: str | None = None
    country: str | None = None
    date_of_birth: date | None = None
    phone_number: str | None = None
    photo: str | None = None
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
    custom_data: dict[str, Any] = field(default_factory=dict)
    sources: list[str] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    files: list[StoredFile] = field(default_factory=list)
    # Token of the photo uploaded through /photo, when `photo` points at the sandbox.
    photo_token: str | None = None

    @property
    def homerun_url(self) -> str:
        return f"https://app.homerun.co/candidates/{self.id}"

    @property
    def sort_key(self) -> tuple[datetime, str]:
        """Lists are ordered oldest first, id breaking ties (spec §5.3)."""
        return (self.created_at, self.id)

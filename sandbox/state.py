"""The sandbox's in-memory world: seed data, the operations API v2 performs on it, and the
bookkeeping around it (rate-limit windows, download grants, faults, request statistics).

Handlers stay thin: they validate input, call one operation here, and render the result.
Operations raise `ApiError` for lookups that fail (404) and for references the spec treats as
invalid input (400).
"""

from __future__ import annotations

import random
import secrets
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from sandbox.config import SandboxConfig
from sandbox.errors import FieldError, ValidationFailed, not_found
from sandbox.faults import FaultRegistry
from sandbox.files import DownloadGrants
from sandbox.ratelimit import FixedWindowRateLimiter
from sandbox.records import (
    OPEN_VACANCY_STATUSES,
    FileType,
    JobApplication,
    Note,
    StoredFile,
    StoredPhoto,
    Vacancy,
)
from sandbox.seed import HIRED_STAGE, add_years, generate_seed_data, random_id
from sandbox.validation import PERSONAL_FIELDS, NoteInput

INVALID_VACANCY = "The selected vacancy id is invalid."


@dataclass
class RequestStats:
    """Counters behind `GET /_sandbox/stats`."""

    requests: Counter[str] = field(default_factory=Counter)
    rate_limited: Counter[str] = field(default_factory=Counter)
    requests_by_route: Counter[str] = field(default_factory=Counter)
    unauthenticated: int = 0
    faults_injected: int = 0

    def clear(self) -> None:
        self.requests.clear()
        self.rate_limited.clear()
        self.requests_by_route.clear()
        self.unauthenticated = 0
        self.faults_injected = 0


class SandboxState:
    def __init__(self, config: SandboxConfig) -> None:
        self.config = config
        self.limiter = (
            FixedWindowRateLimiter(config.rate_limit_per_minute, config.clock)
            if config.rate_limit_per_minute is not None
            else None
        )
        self.faults = FaultRegistry()
        self.stats = RequestStats()
        self.downloads = DownloadGrants(config.file_url_ttl_seconds, config.clock)
        self.vacancies: dict[str, Vacancy] = {}
        self.applications: dict[str, JobApplication] = {}
        self.photos: dict[str, StoredPhoto] = {}
        self._id_rng = random.Random()
        self._candidate_counts: Counter[str | None] = Counter()
        self.load_seed()

    def load_seed(self) -> None:
        seed_data = generate_seed_data(self.config.seed)
        self.vacancies = {vacancy.id: vacancy for vacancy in seed_data.vacancies}
        self.applications = {item.id: item for item in seed_data.applications}
        self.photos = {}
        self._candidate_counts = Counter(item.vacancy_id for item in self.applications.values())
        # Ids of objects created at runtime are reproducible too, per seed.
        self._id_rng = random.Random(f"sandbox-runtime-ids-{self.config.seed}")

    def reset(self) -> None:
        """Back to the seed data, with fresh counters and rate-limit windows."""
        self.load_seed()
        self.downloads.clear()
        self.stats.clear()
        if self.limiter is not None:
            self.limiter.reset()

    def now(self) -> datetime:
        return datetime.fromtimestamp(int(self.config.clock()), UTC)

    # ----- vacancies -----

    def list_vacancies(self, statuses: Iterable[str] | None) -> list[Vacancy]:
        wanted = set(statuses) if statuses is not None else None
        found = [v for v in self.vacancies.values() if wanted is None or v.status in wanted]
        return sorted(found, key=lambda vacancy: vacancy.sort_key)

    def get_vacancy(self, vacancy_id: str) -> Vacancy:
        vacancy = self.vacancies.get(vacancy_id)
        if vacancy is None:
            raise not_found()
        return vacancy

    def candidate_count(self, vacancy_id: str) -> int:
        # Kept up to date by every change below: a scan of every application per
        # vacancy rendered made the sandbox slower with each create.
        return self._candidate_counts[vacancy_id]

    # ----- job applications -----

    def list_applications(
        self,
        vacancy_ids: Iterable[str] | None = None,
        stages: Iterable[str] | None = None,
        hired_after: date | None = None,
    ) -> list[JobApplication]:
        wanted_vacancies = set(vacancy_ids) if vacancy_ids is not None else None
        wanted_stages = {stage.casefold() for stage in stages} if stages is not None else None
        hired_from = (
            datetime(hired_after.year, hired_after.month, hired_after.day, tzinfo=UTC)
            if hired_after
            else None
        )
        found = []
        for item in self.applications.values():
            if wanted_vacancies is not None and item.vacancy_id not in wanted_vacancies:
                continue
            if wanted_stages is not None and (
                item.stage is None or item.stage.casefold() not in wanted_stages
            ):
                continue
            # "Hired after" a day counts hires from the start of that day (UTC) onwards.
            if hired_from is not None and (item.hired_at is None or item.hired_at < hired_from):
                continue
            found.append(item)
        return sorted(found, key=lambda item: item.sort_key)

    def get_application(self, application_id: str) -> JobApplication:
        application = self.applications.get(application_id)
        if application is None:
            raise not_found()
        return application

    def create_application(self, fields: dict[str, Any]) -> JobApplication:
        vacancy = None
        vacancy_id = fields.get("vacancy_id")
        if vacancy_id is not None:
            vacancy = self.vacancies.get(vacancy_id)
            if vacancy is None or vacancy.status not in OPEN_VACANCY_STATUSES:
                raise ValidationFailed([FieldError("vacancy_id", INVALID_VACANCY)])
        now = self.now()
        application = JobApplication(
            id=self._new_application_id(),
            vacancy_id=vacancy.id if vacancy else None,
            stage=vacancy.stages[0] if vacancy and vacancy.stages else None,
            created_at=now,
            retention_period_ends_at=add_years(now, 2),
            first_name=fields["first_name"],
            last_name=fields["last_name"],
            email=fields["email"],
            sources=list(fields.get("sources", [])),
        )
        self._apply_personal_fields(application, fields)
        self.applications[application.id] = application
        self._candidate_counts[application.vacancy_id] += 1
        return application

    def update_application(self, application_id: str, fields: dict[str, Any]) -> JobApplication:
        application = self.get_application(application_id)
        vacancy_id = application.vacancy_id
        stage = application.stage
        if "vacancy_id" in fields and fields["vacancy_id"] != application.vacancy_id:
            vacancy_id = fields["vacancy_id"]
            stage = None
            if vacancy_id is not None:
                vacancy = self.get_vacancy(vacancy_id)
                if vacancy.status not in OPEN_VACANCY_STATUSES:
                    raise ValidationFailed([FieldError("vacancy_id", INVALID_VACANCY)])
                stage = vacancy.stages[0] if vacancy.stages else None
        if "stage" in fields:
            # The stage must exist in the vacancy the application ends up in (spec §8.7).
            target = self.vacancies.get(vacancy_id) if vacancy_id is not None else None
            stage = target.find_stage(fields["stage"]) if target is not None else None
            if stage is None:
                raise not_found()
        self._apply_personal_fields(application, fields)
        if stage != application.stage:
            self._enter_stage(application, stage)
        if vacancy_id != application.vacancy_id:
            self._candidate_counts[application.vacancy_id] -= 1
            self._candidate_counts[vacancy_id] += 1
            application.vacancy_id = vacancy_id
        return application

    def delete_application(self, application_id: str) -> None:
        application = self.get_application(application_id)
        if application.photo_token is not None:
            self.photos.pop(application.photo_token, None)
        del self.applications[application_id]
        self._candidate_counts[application.vacancy_id] -= 1

    def add_note(self, application_id: str, note_input: NoteInput) -> Note:
        application = self.get_application(application_id)
        now = self.now()
        note = Note(
            note=note_input.note,
            display_name=note_input.display_name,
            is_sensitive=note_input.is_sensitive,
            created_at=now,
            updated_at=now,
        )
        application.notes.append(note)
        return note

    def add_file(
        self, application_id: str, name: str, file_type: FileType, content: bytes, content_type: str
    ) -> StoredFile:
        application = self.get_application(application_id)
        stored = StoredFile(name=name, type=file_type, content=content, content_type=content_type)
        application.files.append(stored)
        return stored

    def replace_photo(
        self, application_id: str, photo: StoredPhoto, base_url: str
    ) -> JobApplication:
        application = self.get_application(application_id)
        self._forget_photo(application)
        token = secrets.token_urlsafe(16)
        self.photos[token] = photo
        application.photo_token = token
        application.photo = f"{base_url}/photos/{token}"
        return application

    # ----- helpers -----

    def _new_application_id(self) -> str:
        while True:
            candidate = random_id(self._id_rng, "ap_")
            if candidate not in self.applications:
                return candidate

    def _apply_personal_fields(self, application: JobApplication, fields: dict[str, Any]) -> None:
        for name in PERSONAL_FIELDS.keys() & fields.keys():
            if name == "custom_data":
                # Merged key by key; a null value removes the key (spec §8.7, INFERRED).
                for key, value in fields["custom_data"].items():
                    if value is None:
                        application.custom_data.pop(key, None)
                    else:
                        application.custom_data[key] = value
                continue
            if name == "photo":
                self._forget_photo(application)  # a URL sent by the client replaces an upload
            setattr(application, name, fields[name])

    def _enter_stage(self, application: JobApplication, stage: str | None) -> None:
        application.stage = stage
        if stage is not None and stage.casefold() == HIRED_STAGE:
            application.hired_at = application.hired_at or self.now()
        else:
            application.hired_at = None

    def _forget_photo(self, application: JobApplication) -> None:
        if application.photo_token is not None:
            self.photos.pop(application.photo_token, None)
            application.photo_token = None


SANDBOX_STATE: web.AppKey[SandboxState] = web.AppKey("sandbox_state", SandboxState)

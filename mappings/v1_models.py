"""API v1 shapes, as the bridge answers them (the contract's §6).

The translation functions build plain dicts (fast, and what golden tests compare);
these models describe the same shapes for ``GET /v1/openapi.json``, and the tests
validate every mapped body against them with unknown members forbidden, so the
published document and the code cannot drift apart.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class V1Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SeoContent(V1Model):
    title: str | None
    description: str
    image: str | None


class ActiveTime(V1Model):
    opened_at: int
    closed_at: int | None


class Job(V1Model):
    id: str
    title: str | None
    status: Literal["open", "private", "draft", "closed"] | None
    type: str | None
    tmp_location: str | None
    tmp_department: str | None
    total_candidate_count: int | None
    application_form_url: str | None
    job_url: str | None
    seo_content: SeoContent
    created_at: int | None
    active_time: list[ActiveTime]


class Candidate(V1Model):
    id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone_number: str | None
    city: str | None
    country: str | None
    date_of_birth: str | None
    photo: str | None
    created_at: int | None
    applications: list[str]


class Note(V1Model):
    id: str
    body: str | None
    name: str | None
    is_sensitive: bool
    created_at: int | None
    updated_at: int | None


class File(V1Model):
    id: str
    name: str | None
    type: Literal["resume", "assignment"] | None
    url: str | None
    url_expires_at: int


class ApplicationSummary(V1Model):
    """A list item: v2's list has no content and no files."""

    id: str
    candidate: Candidate
    job: Job | None
    stage: str | None
    rating: float | None
    sourced: bool
    disqualified: bool
    created_at: int | None
    hired_at: int | None
    first_reply_at: int | None
    homerun_url: str | None


class Application(ApplicationSummary):
    """The full object; ``notes`` only with ``expand[]=notes``."""

    content: dict[str, Any]
    files: list[File]
    notes: list[Note] | None = None


class WrittenCandidate(Candidate):
    """The candidate in the answer to ``POST /v1/applications`` (see WrittenApplication)."""

    id: str | None  # type: ignore[assignment]


class WrittenApplication(Application):
    """The answer to ``POST /v1/applications``: ``id`` (and the candidate's) is null only
    when v2 confirmed the create but its answer carried no readable id; the bridge then
    logs ``write_answer_degraded`` rather than fail a write that happened."""

    id: str | None  # type: ignore[assignment]
    candidate: WrittenCandidate


class ParamErrorModel(V1Model):
    param: str
    message: str


class Error(V1Model):
    message: str
    status: int
    errors: list[ParamErrorModel] | None = None


class ListEnvelope(V1Model):
    data: list[Any]
    has_more: bool
    page: int
    per_page: int
    total: int

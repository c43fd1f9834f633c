"""Contract conformance: every golden v1 body fits the published v1 models exactly.

The models in ``mappings.v1_models`` forbid unknown members and are what
``GET /v1/openapi.json`` publishes; a mapped body with a stray, missing or mistyped
member fails here even when its golden test was updated along with the code.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import TypeAdapter, ValidationError

from mappings import v1_models
from tests.mappings.golden import Golden, params
from tests.mappings.payloads import PUBLIC_JOB, SANNE_APPLICATION, SANNE_CANDIDATE
from tests.mappings.test_applications import APPLICATION_GOLDENS
from tests.mappings.test_candidates import CANDIDATE_GOLDENS
from tests.mappings.test_files import FILE_GOLDENS
from tests.mappings.test_jobs import JOB_GOLDENS
from tests.mappings.test_notes import NOTE_GOLDENS

ALL_GOLDENS: list[Golden] = [
    *JOB_GOLDENS,
    *CANDIDATE_GOLDENS,
    *APPLICATION_GOLDENS,
    *NOTE_GOLDENS,
    *FILE_GOLDENS,
]


@pytest.mark.parametrize("case", params(ALL_GOLDENS))
def test_produced_body_validates_against_the_v1_model(case: Golden) -> None:
    body = case.produce()
    adapter: TypeAdapter[Any] = TypeAdapter(case.v1_type)
    validated = adapter.validate_python(body)
    # Nothing was dropped or coerced: the model gives back the very body produced.
    assert adapter.dump_python(validated, exclude_unset=True) == body


def test_every_v1_resource_has_golden_coverage() -> None:
    covered = {repr(case.v1_type) for case in ALL_GOLDENS}
    for model in (
        v1_models.Job,
        v1_models.Candidate,
        v1_models.ApplicationSummary,
        v1_models.Application,
        list[v1_models.Note],
        list[v1_models.File],
    ):
        assert repr(model) in covered


@pytest.mark.parametrize(
    ("model", "body"),
    [
        (v1_models.Job, {**PUBLIC_JOB, "vacancy_id": "job_x"}),
        (v1_models.Candidate, {**SANNE_CANDIDATE, "personal_info": {}}),
        (v1_models.Application, {**SANNE_APPLICATION, "custom_data": {}}),
        (v1_models.ApplicationSummary, SANNE_APPLICATION),  # a summary has no content/files
        (v1_models.Job, {**PUBLIC_JOB, "status": "public"}),
        (v1_models.Job, {**PUBLIC_JOB, "created_at": "2023-09-01T09:30:00Z"}),
    ],
    ids=[
        "job extra",
        "candidate extra",
        "application extra",
        "summary with content",
        "v2 status word",
        "iso date",
    ],
)
def test_the_models_reject_v2_leftovers(model: type[Any], body: dict[str, Any]) -> None:
    # Guards the guard: the conformance test above only means something if these fail.
    with pytest.raises(ValidationError):
        model.model_validate(body)
